"""Real containers for the end-to-end tests: a server and client machines on a Docker network.

Every machine is a container made by testcontainers from the images built for
this session (`ftplab/server:e2e`, `ftplab/client:e2e`), with the same least
privilege as compose.yaml: the images' non-root user, no capabilities, no
privilege gain, a read-only root file system, /tmp in memory.

- A server machine runs `ftplab-server` as its main process; its log is the
  container's stderr.
- A client machine (`Lab.client_host`) runs nothing by itself (`sleep
  infinity`): clients are started inside it the way a student does, with
  `docker exec`. `session()` pipes a list of commands to one client and
  returns its output; `interactive()` keeps one connected, reading its output
  on our side as it arrives, so a test can type a line and wait for an answer.
- `Lab.main_client` is a client that *is* the container's main process (so
  `docker stop` signals it), reading its commands from a FIFO.
- `Lab.relay` is a machine in the middle: `delay_relay.py` (this directory,
  mounted read-only) forwards TCP to the server with a fixed delay each way,
  for a high-latency link (this kernel has no netem). Clients given the relay
  instead of the server connect through it.

Nothing sleeps for a fixed time: tests wait for conditions with deadlines
(`wait_until`, `LineStream.wait_for`). The link helpers (`limit_rate_to`,
`limit_rate`, `drop_incoming`) shape a container's own network namespace with
`tc` and `iptables` through `nsenter`, which needs root on the Docker host.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import docker
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from support.constants import SERVER_NAME, SPANISH_FILE_NAME
from support.waiting import LineStream, Pattern, matcher, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
"""The pytest-xdist worker running these tests ("gw0", ...), or "" when there is one process."""
E2E_TAG = os.environ.get("FTPLAB_E2E_TAG", "e2e") + (f"-{WORKER}" if WORKER else "")
"""Tag of the images the e2e tests build and run: set FTPLAB_E2E_TAG to test two checkouts at
once. Each worker has a tag of its own, since builds move a tag (Compose's, `scripts/lab up`'s)
and a lab's `down` removes the tools image it built: each worker does so to its own."""
NAME_PREFIX = "ftplab-e2e-" + (f"{WORKER}-" if WORKER else "")
"""Every network, project, stack and node the e2e tests make is named with it: a worker's own."""
SERVER_IMAGE = f"ftplab/server:{E2E_TAG}"
CLIENT_IMAGE = f"ftplab/client:{E2E_TAG}"

TIMEOUT = 30.0
"""Default deadline for anything a test waits for: generous, it is only reached on failure."""

BIG_FILE = "archivo-grande.bin"  # 4 MiB, made while building the server image
SMALL_FILE = "bienvenida.txt"
SPANISH_FILE = SPANISH_FILE_NAME
SERVED_DIR = "/srv/files"
DOWNLOAD_DIR = "/downloads"

# What the programs say (Spanish, the default language).
SERVER_CLOSING = "El servidor se cierra. ¡Hasta pronto!"
CONNECTION_LOST = "Se ha perdido la conexión con el servidor"
LISTENING = re.compile(r"listening on 0\.0\.0\.0:2121 as ")

RELAY_SCRIPT = Path(__file__).resolve().with_name("delay_relay.py")
RELAY_IN_CONTAINER = "/relay/delay_relay.py"
RELAYING = re.compile(r"^delay-relay: listening on 0\.0\.0\.0:2121, ")

# compose.yaml's least privilege, for the containers the tests make themselves.
HARDENED = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "read_only": True,
    "init": True,
}
TMPFS_OPTIONS = "size=16m,mode=1777"  # tmpfs options, as `docker run --tmpfs /tmp:OPTIONS`


def unique_name() -> str:
    """A name for a network, project, stack or node cluster of the tests: NAME_PREFIX and a
    random part."""
    return f"{NAME_PREFIX}{uuid.uuid4().hex[:8]}"


class InteractiveClient:
    """`ftplab-client` running inside a client machine through `docker exec -i`: its stdin is
    our pipe (a user typing), its stdout and stderr are read on our side as they arrive."""

    def __init__(
        self, container_id: str, where: str, name: str, extra_args: Iterable[str] = (), joined: bool = True
    ):
        self.where = where
        self.name = name
        command = ["docker", "exec", "-i", container_id, "ftplab-client", "--name", name, *extra_args]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.stdout = LineStream(self.process.stdout, f"{name}@{where} stdout", TIMEOUT)
        self.stderr = LineStream(self.process.stderr, f"{name}@{where} stderr", TIMEOUT)
        if joined:
            self.expect(f"Hola, {name}.")

    def send(self, text: str) -> None:
        """Type a line: a command or chat."""
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, pattern: Pattern, timeout: float = TIMEOUT) -> str:
        """The next matching output line after the last one `expect` returned."""
        return self.stdout.expect(pattern, timeout)

    def wait_for(self, pattern: Pattern, timeout: float = TIMEOUT) -> str:
        """A matching output line anywhere after the last `expect`, in any order."""
        return self.stdout.wait_for(pattern, timeout, self.stdout.cursor)[1]

    def has(self, pattern: Pattern) -> bool:
        return self.stdout.has(pattern)

    def close_stdin(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.close()

    def wait(self, timeout: float = TIMEOUT) -> int:
        """The exit status, once the client (and `docker exec`) has ended."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"client {self.name} still running after {timeout:g} s\n{self.transcript()}"
            ) from None
        self.close_stdin()
        self.stdout.join()
        self.stderr.join()
        return code

    def quit(self, timeout: float = TIMEOUT) -> int:
        """End of input, like Ctrl-D: the client quits; its exit status."""
        self.close_stdin()
        return self.wait(timeout)

    def end(self) -> None:
        """Make sure `docker exec` is gone (the client inside ends with its container)."""
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self.close_stdin()

    def transcript(self) -> str:
        return (
            f"--- client {self.name} in {self.where} (exit {self.process.poll()}) ---\n"
            f"stdout:\n{self.stdout.text}\nstderr:\n{self.stderr.text}"
        )


def client_session(
    container: Container,
    name: str,
    commands: Iterable[str],
    *,
    args: Iterable[str] = (),
    timeout: int = 60,
    environment: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """In `container`, `printf COMMANDS | ftplab-client --name NAME ARGS`, as a student scripts it
    (with `environment` added to the container's): (exit status, stdout, stderr). Bounded in
    time: `timeout` ends a client that hangs (exit 124)."""
    keyboard = "".join(f"{command}\n" for command in commands)
    script = 'limit=$1 keys=$2; shift 2; printf "%s" "$keys" | timeout -k 5 "$limit" ftplab-client "$@"'
    argv = ["sh", "-c", script, "sh", str(timeout), keyboard, "--name", name, *args]
    result = container.exec_run(argv, demux=True, environment=environment)
    out, err = result.output
    return result.exit_code, (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace")


# --- machines ------------------------------------------------------------------


class Machine:
    """One container on the lab network: a computer of the lab."""

    def __init__(self, lab: Lab, name: str, container: DockerContainer):
        self.lab = lab
        self.name = name
        self.testcontainer = container

    @property
    def container(self) -> Container:
        return self.testcontainer.get_wrapped_container()

    @property
    def id(self) -> str:
        return self.container.id

    def inspect(self) -> dict:
        self.container.reload()
        return self.container.attrs

    @property
    def ip(self) -> str:
        return self.inspect()["NetworkSettings"]["Networks"][self.lab.network_name]["IPAddress"]

    @property
    def pid(self) -> int:
        """The process id, on the Docker host, of the container's first process."""
        return self.inspect()["State"]["Pid"]

    @property
    def status(self) -> str:
        return self.inspect()["State"]["Status"]

    def exec(self, argv: list[str], user: str = "") -> tuple[int, str, str]:
        """Run a command inside; (exit status, stdout, stderr)."""
        result = self.container.exec_run(argv, demux=True, user=user)
        out, err = result.output
        return (
            result.exit_code,
            (out or b"").decode("utf-8", "replace"),
            (err or b"").decode("utf-8", "replace"),
        )

    def check(self, argv: list[str]) -> str:
        """Run a command inside that must succeed; its stdout."""
        code, out, err = self.exec(argv)
        assert code == 0, f"{argv} in {self.name} exited {code}: {out}{err}"
        return out

    def sha256(self, path: str) -> str:
        return self.check(["sha256sum", "--", path]).split()[0]

    def logs(self) -> str:
        return self.container.logs(stdout=True, stderr=True).decode("utf-8", "replace")

    def stderr_log(self) -> str:
        return self.container.logs(stdout=False, stderr=True).decode("utf-8", "replace")

    def stdout_log(self) -> str:
        return self.container.logs(stdout=True, stderr=False).decode("utf-8", "replace")

    def wait_for_log(self, pattern: Pattern, timeout: float = TIMEOUT, stream: str = "stderr") -> str:
        """A line of the container's log (stderr by default) matching `pattern`."""
        read = self.stderr_log if stream == "stderr" else self.stdout_log if stream == "stdout" else self.logs

        def find():
            return next((line for line in read().splitlines() if matcher(pattern)(line)), None)

        try:
            return wait_until(find, message=f"{pattern!r} in {self.name}'s log", timeout=timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.name}'s log:\n{read()[-4000:]}") from None

    def wait_for_status(self, *wanted: str, timeout: float = TIMEOUT) -> str:
        return wait_until(
            lambda: (status := self.status) in wanted and status,
            message=f"{self.name} to be {' or '.join(wanted)}",
            timeout=timeout,
        )

    def stop(self, timeout: int = 10) -> float:
        """`docker stop`: SIGTERM, and SIGKILL after `timeout` s; how long it took."""
        start = time.monotonic()
        self.container.stop(timeout=timeout)
        return time.monotonic() - start

    def kill(self) -> None:
        self.container.kill()

    def pause(self) -> None:
        self.container.pause()

    def unpause(self) -> None:
        self.container.unpause()

    def exit_code(self) -> int:
        return self.inspect()["State"]["ExitCode"]

    def disconnect(self) -> None:
        self.lab.docker.networks.get(self.lab.network_name).disconnect(self.id)

    def connect(self, ip: str) -> None:
        self.lab.docker.networks.get(self.lab.network_name).connect(
            self.id, ipv4_address=ip, aliases=[self.name]
        )

    def volume_of(self, path: str) -> str:
        """The name of the volume mounted at `path`."""
        return next(m["Name"] for m in self.inspect()["Mounts"] if m["Destination"] == path)


class ServerMachine(Machine):
    def served_sha256(self, name: str) -> str:
        return self.sha256(f"{SERVED_DIR}/{name}")

    def joined_line(self, name: str, timeout: float = TIMEOUT) -> str:
        return self.wait_for_log(re.compile(rf"joined {re.escape(name)}@[\d.]+:\d+"), timeout)

    def address_of(self, name: str, timeout: float = TIMEOUT) -> str:
        """The address `name` connected from, as the server's log says."""
        line = self.joined_line(name, timeout)
        return re.search(rf"joined {re.escape(name)}@([\d.]+):\d+", line).group(1)


class ClientHost(Machine):
    """A student's computer: clients are started in it with `docker exec`."""

    def session(
        self, name: str, commands: Iterable[str], *, args: Iterable[str] = (), timeout: int = 60
    ) -> tuple[int, str, str]:
        """`printf COMMANDS | ftplab-client --name NAME ARGS` here: (exit status, stdout, stderr)."""
        return client_session(self.container, name, commands, args=args, timeout=timeout)

    def interactive(self, name: str, *args: str, joined: bool = True) -> InteractiveClient:
        client = InteractiveClient(self.id, self.name, name, args, joined)
        self.lab.track(client)
        return client

    def files(self, directory: str = DOWNLOAD_DIR) -> list[str]:
        """The names in a directory of this machine, hidden ones included."""
        return sorted(self.check(["ls", "-A1", directory]).splitlines())


class MainClient(Machine):
    """A client that is its container's main process (under tini): `docker stop` signals it.
    Its stdin is a FIFO inside the container that `send` writes to; its output is the log."""

    FIFO = "/tmp/keyboard"

    def send(self, text: str) -> None:
        self.check(["sh", "-c", 'printf "%s\\n" "$1" >>"$2"', "sh", text, self.FIFO])

    def wait_for_output(self, pattern: Pattern, timeout: float = TIMEOUT) -> str:
        return self.wait_for_log(pattern, timeout, stream="stdout")


# --- the lab: machines on one network, removed after the test ------------------------


class Lab:
    """The containers of one test, on the session's network. Everything it made is
    removed by `close()`, which the `lab` fixture calls even when the test fails."""

    _numbers = itertools.count(1)

    def __init__(self, docker_client: docker.DockerClient, network: Network, test_name: str):
        self.docker = docker_client
        self.network = network
        self.network_name = network.name
        self.prefix = f"{network.name}-{next(self._numbers)}"
        self.test_name = test_name
        self.machines: list[Machine] = []
        self.clients: list[InteractiveClient] = []
        self.volumes: list[str] = []

    def track(self, client: InteractiveClient) -> None:
        self.clients.append(client)

    def _container(self, image: str, name: str, env: dict[str, str], **kwargs) -> DockerContainer:
        container = DockerContainer(image, env=env, name=f"{self.prefix}-{name}")
        container.with_network(self.network).with_network_aliases(name)
        container.with_tmpfs_mount("/tmp", TMPFS_OPTIONS)
        container.with_kwargs(**{**HARDENED, "hostname": name, **kwargs})
        return container

    def _start(self, machine: Machine) -> Machine:
        self.machines.append(machine)  # before start: a failed start is cleaned up too
        machine.testcontainer.start()
        return machine

    def server(
        self,
        name: str = "server",
        *,
        max_clients: int = 10,
        data_timeout: float = 60,
        idle_timeout: float = 0,
        join_timeout: float = 30,
        wait: bool = True,
        settings: dict[str, str] | None = None,
        published: dict[str, tuple[str, int]] | None = None,
        **kwargs,
    ) -> ServerMachine:
        """An ftplab server machine; returns once it listens. `settings`: more FTPLAB_*
        variables; `published`: container port ("2100/tcp") to the host's (address, port)."""
        env = {
            "FTPLAB_NAME": SERVER_NAME,
            "FTPLAB_MAX_CLIENTS": str(max_clients),
            "FTPLAB_DATA_TIMEOUT": f"{data_timeout:g}",
            "FTPLAB_IDLE_TIMEOUT": f"{idle_timeout:g}",
            "FTPLAB_JOIN_TIMEOUT": f"{join_timeout:g}",
            **(settings or {}),
        }
        container = self._container(SERVER_IMAGE, name, env, **kwargs)
        for container_port, host in (published or {}).items():
            container.ports[container_port] = host  # (address, port): with_bind_ports takes no address
        server = ServerMachine(self, name, container)
        self._start(server)
        if wait:
            server.wait_for_log(LISTENING)
        return server

    def _client_env(self, server: Machine | None) -> dict[str, str]:
        return {"FTPLAB_HOST": server.name if server else "server", "FTPLAB_PORT": "2121"}

    def client_host(self, name: str, server: Machine | None = None) -> ClientHost:
        """A client machine with no client running yet; `server` is the machine its clients
        connect to (a server, or a relay in front of one)."""
        container = self._container(
            CLIENT_IMAGE, name, self._client_env(server), entrypoint=["sleep", "infinity"]
        )
        return self._start(ClientHost(self, name, container))

    def relay(self, name: str, upstream: Machine, delay_ms: float, **kwargs) -> Machine:
        """A machine that relays TCP port 2121 to `upstream`'s, holding every chunk `delay_ms`
        each way (`delay_relay.py`, run by the client image's python3 as its main process,
        least privileged like the others); returns once it listens."""
        command = ["python3", RELAY_IN_CONTAINER, "--listen", "0.0.0.0:2121"]
        command += ["--upstream", f"{upstream.name}:2121", "--delay-ms", f"{delay_ms:g}"]
        container = self._container(CLIENT_IMAGE, name, {}, entrypoint=command, **kwargs)
        container.with_volume_mapping(str(RELAY_SCRIPT), RELAY_IN_CONTAINER, "ro")
        relay = self._start(Machine(self, name, container))
        relay.wait_for_log(RELAYING)
        return relay

    def main_client(self, name: str, server: ServerMachine, *args: str) -> MainClient:
        """A machine whose main process is `ftplab-client --name NAME`, typing from a FIFO."""
        script = (
            'mkfifo "$1" && shift && exec ftplab-client "$@" 0<>' + MainClient.FIFO
        )  # read-write: the client's stdin never reaches end of file
        container = self._container(
            CLIENT_IMAGE,
            name,
            self._client_env(server),
            entrypoint=["sh", "-c", script, "sh", MainClient.FIFO, "--name", name, *args],
        )
        client = MainClient(self, name, container)
        self._start(client)
        client.wait_for_output(f"Hola, {name}.")
        return client

    def tty_client(self, name: str, server: ServerMachine) -> Machine:
        """The image's own entrypoint (`ftplab-client`) on a terminal, as in compose.yaml."""
        env = {**self._client_env(server), "FTPLAB_NAME": name}
        container = self._container(CLIENT_IMAGE, name, env, tty=True, stdin_open=True)
        return self._start(Machine(self, name, container))

    def volume_listing(self, volume: str) -> list[str]:
        """The names in a volume (hidden ones included), seen from a throw-away container."""
        container = self.docker.containers.create(
            CLIENT_IMAGE,
            ["ls", "-A1", DOWNLOAD_DIR],
            name=f"{self.prefix}-look-{uuid.uuid4().hex[:6]}",
            entrypoint=[],
            # At the image's VOLUME path, so that no anonymous volume is made for it.
            volumes={volume: {"bind": DOWNLOAD_DIR, "mode": "ro"}},
            network_mode="none",
            **{key: value for key, value in HARDENED.items() if key != "init"},
        )
        try:
            container.start()
            status = container.wait(timeout=TIMEOUT)["StatusCode"]
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            container.remove(force=True, v=True)
        assert status == 0, output
        return sorted(output.splitlines())

    def describe(self) -> str:
        """Everything the test's containers and clients printed: shown when a test fails."""
        parts = []
        for machine in self.machines:
            try:
                state = machine.inspect()["State"]
                parts.append(
                    f"--- docker logs {machine.name} ({state['Status']}, exit {state['ExitCode']}) ---\n"
                    + machine.logs()[-8000:]
                )
            except Exception as error:  # noqa: BLE001  (a report must not fail)
                parts.append(f"--- {machine.name}: no logs ({error}) ---")
        parts += [client.transcript()[-8000:] for client in self.clients]
        return "\n".join(parts)

    def close(self) -> None:
        for client in self.clients:
            client.end()
        for machine in self.machines:
            with contextlib.suppress(Exception):
                if machine.status == "paused":
                    machine.unpause()
            with contextlib.suppress(Exception):
                machine.testcontainer.stop(force=True, delete_volume=True)


def assert_least_privileged(container: Container, writable_dir: str) -> None:
    """The container runs as compose.yaml says every lab machine must: checked on the running
    container (its settings and what its processes can do), not on a file."""
    container.reload()
    host_config, config, label = container.attrs["HostConfig"], container.attrs["Config"], container.name

    def run(*argv: str) -> tuple[int, str]:
        result = container.exec_run(list(argv))
        return result.exit_code, result.output.decode("utf-8", "replace")

    assert host_config["CapDrop"] == ["ALL"], label
    assert not host_config.get("CapAdd"), label
    assert not host_config.get("Privileged"), label
    assert host_config["ReadonlyRootfs"] is True, label
    assert "no-new-privileges:true" in (host_config.get("SecurityOpt") or []), label
    assert config["User"] == "ftplab", label
    assert run("id", "-u") == (0, "10001\n"), label
    # No capability at all, in the container's first process and in a new one.
    code, status = run("grep", "-E", "^Cap(Inh|Prm|Eff|Bnd|Amb):", "/proc/1/status", "/proc/self/status")
    assert code == 0 and all(line.endswith("0000000000000000") for line in status.splitlines()), status
    assert "NoNewPrivs:\t1" in run("cat", "/proc/self/status")[1], label
    code, out = run("touch", "/written-by-test")
    assert code != 0 and "Read-only file system" in out, (label, out)
    code, out = run("touch", "/opt/ftplab/ftplab/written-by-test")
    assert code != 0, (label, out)
    probe = f"{writable_dir}/.written-by-test"
    code, out = run("sh", "-c", f"touch /tmp/written-by-test {probe} && rm {probe} /tmp/written-by-test")
    assert code == 0, (label, out)


# --- the link: bandwidth and loss, in a container's own network namespace ------------


def can_shape_links() -> str | None:
    """Why `tc`/`iptables` through nsenter cannot be used here, or None if they can."""
    if os.geteuid() != 0:
        return "shaping a container's link needs root on the Docker host (nsenter)"
    missing = [tool for tool in ("nsenter", "tc", "iptables") if shutil.which(tool) is None]
    return f"missing on the Docker host: {', '.join(missing)}" if missing else None


def in_netns(machine: Machine, *argv: str) -> str:
    """Run a host command (tc, iptables) inside `machine`'s network namespace."""
    result = subprocess.run(
        ["nsenter", "-t", str(machine.pid), "-n", *argv], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, f"{argv} in {machine.name}'s netns: {result.stderr.strip()}"
    return result.stdout


def limit_rate_to(server: Machine, destination_ip: str, rate: str) -> None:
    """Everything `server` sends to `destination_ip` goes at most at `rate` (e.g. 2mbit):
    an htb class for that address on the server's eth0; other traffic is not limited."""
    in_netns(server, "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10")
    in_netns(
        server,
        "tc",
        "class",
        "add",
        "dev",
        "eth0",
        "parent",
        "1:",
        "classid",
        "1:10",
        "htb",
        "rate",
        "10gbit",
    )
    in_netns(
        server, "tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:20",
        "htb", "rate", rate, "ceil", rate,
    )  # fmt: skip
    in_netns(
        server, "tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1",
        "u32", "match", "ip", "dst", f"{destination_ip}/32", "flowid", "1:20",
    )  # fmt: skip


def unlimit(machine: Machine) -> None:
    """Take away `limit_rate_to`'s or `limit_rate`'s queueing discipline."""
    in_netns(machine, "tc", "qdisc", "del", "dev", "eth0", "root")


def limit_rate(machine: Machine, rate: str, burst: str = "32kb", latency: str = "200ms") -> None:
    """Everything `machine` sends goes through a token bucket: at most `rate`."""
    in_netns(
        machine, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
        "rate", rate, "burst", burst, "latency", latency,
    )  # fmt: skip


def drop_incoming(machine: Machine, probability: float) -> None:
    """Drop each packet arriving at `machine` with this probability (iptables statistic)."""
    in_netns(
        machine, "iptables", "-w", "5", "-A", "INPUT", "-m", "statistic", "--mode", "random",
        "--probability", f"{probability}", "-j", "DROP",
    )  # fmt: skip


def dropped_packets(machine: Machine) -> int:
    """Packets dropped so far by `drop_incoming`'s rule."""
    output = in_netns(machine, "iptables", "-w", "5", "-L", "INPUT", "-v", "-n", "-x")
    return sum(int(line.split()[0]) for line in output.splitlines() if "DROP" in line and "statistic" in line)
