"""docs/lab-guide.md and docs/lab-guide.en.md cannot rot: every `sh` block of the guide is run,
in order, on a real lab of its own, and both languages give exactly the same commands.

A block preceded by `<!-- needs: PATH -->` runs only once PATH exists in the repository
(the benchmark of exercise 6); the test says which blocks it left out."""

from __future__ import annotations

import re
import subprocess
import warnings
from pathlib import Path

import pytest

from .classroom import LabScript
from .lab import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GUIDES = {"es": REPO_ROOT / "docs" / "lab-guide.md", "en": REPO_ROOT / "docs" / "lab-guide.en.md"}
BLOCK = re.compile(r"(?:<!-- needs: (?P<needs>\S+) -->\n)?```sh\n(?P<body>.*?)```", re.S)
FILES_THE_GUIDE_WRITES = ("session.pcap", "clear.pcap", "tls.pcap", "keys.log", "ftplab-images.tar")
GUIDE_TIMEOUT = 900


def sh_blocks(path: Path) -> list[tuple[str | None, str]]:
    """(needed path or None, commands) for every sh block, in order."""
    return [(match["needs"], match["body"]) for match in BLOCK.finditer(path.read_text(encoding="utf-8"))]


def test_both_languages_give_the_same_commands():
    spanish, english = (sh_blocks(GUIDES[lang]) for lang in ("es", "en"))
    assert len(english) >= 8, "the guide lost its exercises"
    assert spanish == english


@pytest.fixture
def guide_lab(request, docker_client, e2e_images):
    lab = LabScript(docker_client, e2e_images["base"])
    request.node._ftplab_compose = lab
    leftovers = [REPO_ROOT / name for name in FILES_THE_GUIDE_WRITES]
    assert not any(path.exists() for path in leftovers), f"remove these first: {leftovers}"
    try:
        yield lab
    finally:
        lab.down()
        for path in leftovers:
            path.unlink(missing_ok=True)


def test_every_command_of_the_guide_runs(guide_lab):
    runnable, left_out = [], []
    for needs, body in sh_blocks(GUIDES["en"]):
        (runnable if needs is None or (REPO_ROOT / needs).exists() else left_out).append(body)
    script = "set -euo pipefail\n" + "".join(
        f"echo '+++ block {n}'\n{body}" for n, body in enumerate(runnable)
    )
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO_ROOT,
        env=guide_lab.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=GUIDE_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout
    assert result.returncode == 0, f"the guide's commands failed ({result.returncode}):\n{output[-6000:]}"
    assert "Guardado /downloads/bienvenida.txt" in output, "exercise 1 downloaded nothing"
    assert output.count("sent archivo-grande.bin to") >= 2, "exercise 2: both downloads in the server's log"
    # the last frame of logo.png, its whole size counted (how many frames: the server's pacing says)
    assert re.search(r"profe> !DATA \d+ \[logo\.png 18177/18177\]", output), (
        "exercise 4: the dissector's view of logo.png"
    )
    assert "server: rate 8mbit to alice" in output, "exercise 5: the impaired link"
    assert "alice4> hola en claro" in output, "exercise 8: the clear capture decoded"
    assert output.count("alice4> hola cifrado") == 1, "exercise 8: decoded with the key log only"
    assert "Loaded image: ftplab/client:" in output, "teacher: the images imported"
    if left_out:
        warnings.warn(
            f"{len(left_out)} guide block(s) not run yet, their command is missing: {left_out}", stacklevel=1
        )
