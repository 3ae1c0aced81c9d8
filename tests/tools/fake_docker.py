"""A stand-in for the `docker` command, enough for scripts/lab to believe a lab is there.

The lab's containers live in FAKE_DOCKER_STATE/containers.json: for each service, its
container's `id` (new for each container made), `state` (`running` or `exited`; no entry: no
container), `starts` (how many times it started) and `env` (its environment,
VARIABLE=value strings). Every call is
appended to FAKE_DOCKER_STATE/calls as one JSON list, so a test reads what the script asked
Docker to do. `compose up` starts the services it names; `compose exec` of bob-demo's
client answers `who` as the server would, and any other `exec` fails, which ends the demo
there (the tests look at what happened before the demo's clients run). `run` answers what
`up` asks of the server image (its options, the accounts it reads). Anything else
succeeds and prints nothing.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

STATE = Path(os.environ.get("FAKE_DOCKER_STATE", "."))
CONTAINERS = STATE / "containers.json"
CALLS = STATE / "calls"
COMPOSE_OPTIONS_WITH_VALUE = {"--project-name", "-f", "--env-file"}
UP_OPTIONS_WITH_VALUE = {"--wait-timeout"}
DEMO_STOPS_HERE = "fake docker: the demo goes no further"
SERVER_HELP = """\
--allow-upload           [FTPLAB_ALLOW_UPLOAD; default: no]
--allow-clear-passwords  [FTPLAB_ALLOW_CLEAR_PASSWORDS; default: no]
--max-upload-bytes SIZE  [FTPLAB_MAX_UPLOAD_BYTES; default: 0]"""
ACCOUNTS = "alice user\n"


def load() -> dict[str, dict]:
    return json.loads(CONTAINERS.read_text()) if CONTAINERS.exists() else {}


def save(containers: dict[str, dict]) -> None:
    CONTAINERS.write_text(json.dumps(containers))


def compose(argv: list[str]) -> int:
    words = iter(argv)
    for word in words:
        if word in COMPOSE_OPTIONS_WITH_VALUE:
            next(words)
        else:
            return COMPOSE_COMMANDS.get(word, succeed)(list(words))
    return 0


def compose_version(rest: list[str]) -> int:
    print("2.29.1")
    return 0


def compose_ps(rest: list[str]) -> int:
    container = load().get(rest[-1])
    if container:
        print(container["id"])
    return 0


def compose_up(rest: list[str]) -> int:
    containers, words = load(), iter(rest)
    for word in words:
        if word in UP_OPTIONS_WITH_VALUE:
            next(words)
        elif not word.startswith("-"):
            container = containers.setdefault(word, {"id": uuid.uuid4().hex, "starts": 0, "env": []})
            container.update(state="running", starts=container["starts"] + 1)
    save(containers)
    return 0


def compose_exec(rest: list[str]) -> int:
    if "bob-demo" in rest:
        print("Conectados (4): alice, bob, bob-demo, carol")
        return 0
    print(DEMO_STOPS_HERE, file=sys.stderr)
    return 1


COMPOSE_COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "version": compose_version,
    "ps": compose_ps,
    "up": compose_up,
    "exec": compose_exec,
}


def inspect(argv: list[str]) -> int:
    template, identifiers = argv[argv.index("-f") + 1], argv[argv.index("-f") + 2 :]
    by_id = {container["id"]: (service, container) for service, container in load().items()}
    for identifier in identifiers:
        if identifier not in by_id:
            print(f"Error: No such object: {identifier}", file=sys.stderr)
            return 1
        print(answer(template, *by_id[identifier]))
    return 0


def answer(template: str, service: str, container: dict) -> str:
    running = container["state"] == "running"
    if template == "{{.State.Running}}":
        return "true" if running else "false"
    if ".Config.Env" in template:
        return "\n".join(container["env"])
    if "com.docker.compose.service" in template:  # lab_rows: SERVICE|ADDRESS|STATE|INSTANCE
        instance = f"{container['id']} {container['starts']}" if running else ""
        return f"{service}||{container['state']}|{instance}"
    return ""


def ps(argv: list[str]) -> int:
    for container in load().values():
        print(container["id"])
    return 0


def run(argv: list[str]) -> int:
    if "--help" in argv:
        print(SERVER_HELP)
    elif "sh" in argv:  # load_accounts: the accounts the server image read
        sys.stdin.read()
        print(ACCOUNTS, end="")
    return 0


def succeed(argv: list[str]) -> int:
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "compose": compose,
    "inspect": inspect,
    "ps": ps,
    "run": run,
}


def main() -> int:
    argv = sys.argv[1:]
    with CALLS.open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    return COMMANDS.get(argv[0], succeed)(argv[1:]) if argv else 0


if __name__ == "__main__":
    sys.exit(main())
