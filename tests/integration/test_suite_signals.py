"""The programs a test starts hear Ctrl-C, however the suite was started, and under -n a Ctrl-C
lets every worker clean up (support/signals.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.waiting import wait_until

TESTS = Path(__file__).resolve().parents[1]
PROBE = """
import pathlib, subprocess

def test_probe():
    status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True, check=True)
    line = next(line for line in status.stdout.splitlines() if line.startswith("SigIgn:"))
    pathlib.Path("ignored").write_text(line.split()[1])
"""


def ignored_in_a_child(tmp_path: Path, *plugins: str) -> set[int]:
    """The signals a program ignores when a pytest run started with SIGINT and SIGQUIT ignored (as
    a background job is) starts it; `plugins`: what that run loads (`-p`)."""
    (tmp_path / "test_probe.py").write_text(PROBE)
    options = [argument for plugin in plugins for argument in ("-p", plugin)]
    subprocess.run(
        ["env", "--ignore-signal=INT", "--ignore-signal=QUIT"]  # as a shell starts a background job
        + [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "test_probe.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        capture_output=True,
        check=True,
        timeout=60,
    )
    mask = int((tmp_path / "ignored").read_text(), 16)
    return {number for number in range(1, 64) if mask & (1 << (number - 1))}


def test_a_suite_started_in_the_background_starts_programs_that_hear_ctrl_c(tmp_path):
    background = {signal.SIGINT, signal.SIGQUIT}
    without_our_conftest = tmp_path / "plain"
    without_our_conftest.mkdir()
    assert background <= ignored_in_a_child(without_our_conftest), "a background job's inheritance"
    assert not background & ignored_in_a_child(tmp_path, "conftest")


SLOW_TO_CLEAN_UP = """
import pathlib, time, pytest

@pytest.fixture
def made_something():
    pathlib.Path("started").write_text("")
    yield
    time.sleep(3)  # removing it takes longer than the controller's patience (made 1 s below)
    pathlib.Path("cleaned").write_text("")

def test_until_ctrl_c(made_something):
    time.sleep(120)
"""
IMPATIENT = "import xdist.workermanage\nxdist.workermanage.NodeManager.EXIT_TIMEOUT = 1\n"


def test_a_ctrl_c_under_xdist_lets_each_worker_tear_its_fixtures_down(tmp_path):
    (tmp_path / "test_slow.py").write_text(SLOW_TO_CLEAN_UP)
    (tmp_path / "impatient.py").write_text(IMPATIENT)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "impatient"]
    command += ["-p", "conftest", "-n", "1", "test_slow.py"]
    run = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{TESTS}:{tmp_path}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
    )
    try:
        wait_until(lambda: (tmp_path / "started").exists(), timeout=60, message="the test to start")
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C
        output = run.communicate(timeout=60)[0].decode()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert run.returncode == 2, output  # interrupted
    assert (tmp_path / "cleaned").exists(), output
