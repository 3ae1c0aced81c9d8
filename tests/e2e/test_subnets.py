"""Subnets held for the tests' networks (subnets.py): never the same one to two holders at once,
even to processes asking at the same moment, and a record outlives neither its release nor its
process. The record is a file of each test's own here; Docker is the real one."""

from __future__ import annotations

import json
import multiprocessing
from types import SimpleNamespace

import pytest

from . import subnets
from .subnets import release_subnet, reserve_subnet, reserved_subnet

pytestmark = pytest.mark.e2e

AT_ONCE = 4


@pytest.fixture(autouse=True)
def own_record(tmp_path, monkeypatch):
    monkeypatch.setattr(subnets, "HELD", tmp_path / "held.json")
    return tmp_path / "held.json"


def _record(path) -> dict[str, int]:
    return json.loads(path.read_text())


class LowestFreeFirst:
    """A Docker client's `networks`, as much as subnets.py uses, that offers the lowest subnet
    no network has, as Docker does once its rotation through its pools comes round again (the
    real one offers the next in turn before that, so the clash is rare there, not impossible)."""

    def __init__(self):
        self.networks = self
        self.made: list[str] = []

    def list(self, names):
        return []

    def create(self, name, driver):
        subnet = next(f"172.{n}.0.0/16" for n in range(18, 32) if f"172.{n}.0.0/16" not in self.made)
        self.made.append(subnet)
        return SimpleNamespace(
            attrs={"IPAM": {"Config": [{"Subnet": subnet}]}},
            reload=lambda: None,
            remove=lambda: self.made.remove(subnet),
        )


def test_a_held_subnet_is_not_given_again_before_its_network_exists():
    docker = LowestFreeFirst()
    with reserved_subnet(docker) as first, reserved_subnet(docker) as second:
        assert (first, second) == ("172.18.0.0/16", "172.19.0.0/16")
        assert docker.made == [], "the probes are gone"
    with reserved_subnet(docker) as again:
        assert again == first, "released"


def test_processes_asking_at_once_are_each_given_their_own(own_record):
    """Each holds its subnet until all have one, then releases it."""
    context = multiprocessing.get_context("fork")
    all_held, given = context.Barrier(AT_ONCE), context.Queue()
    holders = [context.Process(target=_hold, args=(all_held, given)) for _ in range(AT_ONCE)]
    for holder in holders:
        holder.start()
    subnets_given = [given.get(timeout=120) for _ in holders]
    for holder in holders:
        holder.join(timeout=60)
    assert [holder.exitcode for holder in holders] == [0] * AT_ONCE
    assert len(set(subnets_given)) == AT_ONCE, subnets_given
    assert _record(own_record) == {}, "each released its own"


def _hold(all_held, given) -> None:
    import docker

    client = docker.from_env(timeout=60)
    try:
        with reserved_subnet(client) as subnet:
            all_held.wait(timeout=120)
            given.put(subnet)
    finally:
        client.close()


def test_a_release_and_an_ended_holder_free_their_subnets(docker_client, own_record):
    ended = multiprocessing.get_context("fork").Process(target=lambda: None)
    ended.start()
    ended.join()
    own_record.write_text(json.dumps({"10.250.250.0/24": ended.pid}))

    subnet = reserve_subnet(docker_client)
    assert _record(own_record) == {subnet: multiprocessing.current_process().pid}
    release_subnet(subnet)
    assert _record(own_record) == {}
