"""docs/benchmarks.md from the parts' sections: the machine, the load before and after, each
part's table, then every target next to its figure; and the chart from the parts' panels."""

from __future__ import annotations

import os
import platform
import selectors
import ssl
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .core import ROOT, Section


@dataclass
class Run:
    """What the report says about the run itself."""

    argv: list[str]
    app: Path
    runs: int
    parts: list[str]
    all_parts: list[str]
    load_before: str
    load_after: str
    seconds: float


def source_version() -> str:
    """This checkout's commit, "-dirty" if anything but the report itself was changed."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", ".", ":!docs/benchmarks.md", ":!docs/benchmarks.png"],
        capture_output=True,
        text=True,
    )
    return commit.stdout.strip() + ("-dirty" if changed.stdout.strip() else "")


def machine(run: Run) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    commit = source_version()
    found = []
    for package in ("pyftpdlib", "pyOpenSSL", "matplotlib"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} not installed")
    vsftpd = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "vsftpd"], capture_output=True, text=True
    )
    found.append(f"vsftpd {vsftpd.stdout.strip()}" if vsftpd.returncode == 0 else "vsftpd not installed")
    return [
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.1f} GiB, {platform.platform()}",
        f"Python {platform.python_version()} ({ssl.OPENSSL_VERSION}); {', '.join(found)};"
        + f" ftplab {commit or 'unknown'}"
        + ("" if run.app == ROOT / "app" else f", measuring the sources in {run.app}"),
        f"Selector used by default here: {selectors.DefaultSelector.__name__}",
        f"Load average (1, 5, 15 min) before: {run.load_before}; after: {run.load_after}.",
    ]


def table(header: list[str], rows: list[tuple]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def section_lines(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.intro:
        lines += [*section.intro, ""]
    if section.header:
        lines += [*table(section.header, section.rows), ""]
    if section.notes:
        lines += [*section.notes, ""]
    return lines


def targets_lines(sections: list[Section]) -> list[str]:
    targets = [target for section in sections for target in section.targets]
    if not targets:
        return []
    rows = [(target.text, target.figure, target.verdict) for target in targets]
    return [
        "## Targets",
        "",
        "Issue 20's targets (and issue 9's still open) next to the figures of this run; ratios are",
        "min / **median** / max over runs taken at the same moments, and the median decides.",
        "",
        *table(["target", "this run", ""], rows),
        "",
    ]


def write(sections: list[Section], run: Run, output: Path, chart: Path | None) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `scripts/bench{' ' + ' '.join(run.argv) if run.argv else ''}` on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {run.seconds:.0f} s;"
        f" {run.runs} runs of each figure, all traffic on 127.0.0.1"
        + (" (the class's: over labnet, a Docker bridge)." if "class" in run.parts else "."),
        "",
        *(f"- {line}" for line in machine(run)),
        "",
        "Other work on the machine during the run makes wall-clock figures lower and noisier: compare",
        "figures of one run with each other, and trust core-seconds per GiB (CPU used, not time",
        "waited) over GB/s.",
        "",
    ]
    if chart is not None:
        lines += [f"![the figures against N]({chart.name})", ""]
    if not set(run.all_parts) <= set(run.parts):
        lines += [f"Only part of the benchmark was run: {', '.join(run.parts)}.", ""]
    for section in sections:
        lines += section_lines(section)
    lines += targets_lines(sections)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines).rstrip("\n") + "\n")


def write_chart(sections: list[Section], path: Path) -> str | None:
    """One panel per section that has one; None, and no file, without matplotlib or panels."""
    panels = [section.plot for section in sections if section.plot is not None]
    if not panels:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for panel, one in zip(panels, axes[0], strict=True):
        panel(one)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return str(path)
