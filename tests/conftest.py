"""Checks for every unit and integration test: it must not leave descriptors open.

(e2e tests are left out: the Docker client keeps its own pooled connections.)
For every test: the programs it starts hear Ctrl-C, however the suite was started."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from support.signals import as_from_a_terminal, workers_first

pytest_plugins = ["support.certificates"]
"""Fixtures for every test: `certificates`."""


def pytest_configure(config) -> None:
    as_from_a_terminal()  # even when the suite was started in the background (support/signals.py)
    workers_first(config)  # under -n, the workers clean up after a Ctrl-C before the run ends


def _open_descriptors() -> dict[int, str]:
    descriptors = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            descriptors[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the listing's own descriptor, already closed
            continue
    return descriptors


@pytest.fixture(autouse=True)
def no_leaked_descriptors(request) -> Iterator[None]:
    if not sys.platform.startswith("linux") or request.node.get_closest_marker("e2e"):
        yield
        return
    before = _open_descriptors()
    yield
    after = _open_descriptors()
    leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    if leaked and not getattr(request.node, "ftplab_failed", False):
        pytest.fail(f"the test left descriptors open: {leaked}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.failed:
        item.ftplab_failed = True
