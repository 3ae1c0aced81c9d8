"""The class benchmark (tools/bench/classload.py) runs on a small class and leaves nothing behind:
its table comes out, every student got the whole file, and the lab is gone afterwards, also when a
round fails. No speed is asserted here: the targets live in the bench's own report."""

from __future__ import annotations

import pytest

from bench import classload
from bench.classload import ClassBenchError, ClassSettings, measure_class

from .lab import E2E_TAG
from .subnets import reserved_subnet

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STUDENTS = 3


@pytest.fixture
def subnet(docker_client):
    """labnet's subnet, held for the test (tests/e2e/subnets.py)."""
    with reserved_subnet(docker_client) as held:
        yield held


def _left_behind(docker_client, project: str) -> list:
    label = {"label": f"com.docker.compose.project={project}"}
    return [
        *docker_client.containers.list(all=True, filters=label),
        *docker_client.volumes.list(filters=label),
        *docker_client.networks.list(filters=label),
    ]


def test_a_small_class_is_measured_and_taken_down(docker_client, e2e_images, subnet):
    settings = ClassSettings(
        students=STUDENTS,
        size_mib=4,
        rounds=2,
        tag=E2E_TAG,
        subnet=subnet,
        timeout=600,
        student_cpu_shares=256,
    )
    steps: list[str] = []
    figures = measure_class(settings, steps.append)

    assert _left_behind(docker_client, settings.project) == []
    assert "The students' CPU weight was 256 (the server's 1024)." in figures.intro()
    assert steps[-1] == "taking the lab down"
    first, got = figures.gets  # the second round's clients are shown the first's lines again
    assert len(got.transfers.rates) == STUDENTS
    assert len(figures.bridge[0].rates) == len(figures.bridge_disk[0].rates) == STUDENTS
    assert got.chat_sent > 0, "the chatters sent nothing"
    # The server's own process was sampled, not docker-init's (well under 5 MiB).
    assert got.rss_kib["hwm_kib"] > 5 * 1024, got.rss_kib
    assert got.late_starts in range(STUDENTS + 1) and got.request_spread_ms >= 0, got
    assert len(got.timelines) == STUDENTS
    # Every student's kernel and the server's said what TCP did (Linux does: /proc/net/netstat).
    for counted in (got.refused, got.duplicates):
        assert len(counted) == STUDENTS and min(counted) >= 0, got
    assert set(got.server_tcp) == {"refused", "duplicates", "timeouts", "probes"}, got.server_tcp
    assert min(got.server_tcp.values()) >= 0, got.server_tcp
    for timeline in got.timelines.values():  # from the request (0 %) to the saved file, in order
        assert timeline[0][1] == 0 and timeline[-1][1] == 100, timeline
        assert timeline == sorted(timeline), timeline
    # A line reaches a chatter after it was typed: its wait behind the file is at most its latency.
    for measured in (first, got):
        assert max(measured.behind_file_ms, default=0) <= max(measured.chat_ms, default=0) + 0.001
    table = figures.table()
    assert table[0] == f"### A class at full speed: {STUDENTS} students × 4 MiB over labnet"
    for label in (
        "fairness of `get`",
        "chat latency during `get`: p99",
        "server RSS peak",
        "the bridge's limit",
    ):
        assert any(label in line for line in table), label


def test_a_failed_round_still_takes_the_lab_down(docker_client, e2e_images, subnet, monkeypatch):
    def fail(*_args):
        raise ClassBenchError("a round that fails")

    monkeypatch.setattr(classload, "plain_tcp", fail)
    settings = ClassSettings(students=1, size_mib=1, tag=E2E_TAG, subnet=subnet, timeout=600)
    with pytest.raises(ClassBenchError, match="a round that fails"):
        measure_class(settings)
    assert _left_behind(docker_client, settings.project) == []
