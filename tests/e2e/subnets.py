"""Subnets for the e2e tests' networks, never the same one twice at once, whatever runs them.

A network the tests make has its subnet fixed in advance: `docker network connect --ip` needs
one, and a lab's is handed to scripts/lab or Compose, which create the network later. Docker
picks a free subnet for a network made without one, so a probe network asks it; but between
that choice and the real network, another test (a pytest-xdist worker, another checkout's
suite) could be given the same subnet, and one of the two networks would fail to be made.
Docker offers its pools in turn, so this needs its turn to come round to the held subnet: rare,
but a long run of labs side by side does come round.

So every choice is made under one lock and recorded, with its owner's process, until the owner
releases it: the probes are kept until Docker offers a subnet nobody holds. A record whose
process has ended is dropped. The record lives in a file of the temporary directory, shared by
every process of this machine (as Docker is).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .lab import unique_name

HELD = Path(tempfile.gettempdir()) / "ftplab-e2e-subnets.json"
"""{subnet: pid} of the subnets handed out and not yet released; also the lock's file."""
MAX_PROBES = 32
"""Docker's default pools hold 31 networks' worth: more probes would only fail."""


@contextlib.contextmanager
def reserved_subnet(docker_client) -> Iterator[str]:
    """A subnet held for the block's duration: create the network on it inside."""
    subnet = reserve_subnet(docker_client)
    try:
        yield subnet
    finally:
        release_subnet(subnet)


def reserve_subnet(docker_client) -> str:
    """A subnet that clashes with no network Docker knows and that nobody else holds; held for
    this process until `release_subnet`."""
    with _held() as held:
        subnet = _docker_offers_one_not_in(docker_client, held)
        held[subnet] = os.getpid()
    return subnet


def release_subnet(subnet: str) -> None:
    with _held() as held:
        held.pop(subnet, None)


def _docker_offers_one_not_in(docker_client, held: dict[str, int]) -> str:
    stem, probes = f"{unique_name()}-probe", []
    try:
        for number in range(MAX_PROBES):
            probe = docker_client.networks.create(f"{stem}-{number}", driver="bridge")
            probes.append(probe)
            probe.reload()
            subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
            if subnet not in held:
                return subnet
        raise AssertionError(f"Docker offered no subnet that {sorted(held)} leave free")
    except BaseException:  # a Ctrl-C can come while Docker makes one: found by its name
        probes = docker_client.networks.list(names=[stem])
        raise
    finally:
        for probe in probes:
            probe.remove()


@contextlib.contextmanager
def _held() -> Iterator[dict[str, int]]:
    """The record, locked against every other process, with the ended processes' entries gone;
    written back at the end of the block."""
    with open(HELD, "a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        text = file.read()
        held = {subnet: pid for subnet, pid in (json.loads(text) if text else {}).items() if _alive(pid)}
        yield held
        file.seek(0)
        file.truncate()
        json.dump(held, file)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
