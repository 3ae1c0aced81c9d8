"""scripts/bench's parts: each measures one thing and hands the report what it found.

A part is a module with a function `measure(settings: core.Settings) -> list[core.Section]`:
it reads what it needs from the run's settings (N, runs, the served files in `settings.files`,
the sources to measure in `settings.app`, `settings.progress(text)` to say what runs now),
starts what it needs (`servers`: ftplab, pyftpdlib, vsftpd, a bare sendfile sender; `loadgen`
in tools/ for many clients), stops it again, and returns one or more `Section`s: a table
(`header`, `rows`), the text above and under it, the issue's `Target`s it measured (the report
prints them all together, met or not), and optionally `plot(axes)` for a panel of the chart.
A part never writes the report and never asserts a speed: figures and targets go to the report.

To add a part: write the module, add it to PARTS in parts.py (its key is its `--only` name), and add
it to the smoke test (tests/tools/test_bench.py), which checks that each part runs and produces
its table with --quick.

    core       settings, figures and their spread, Section and Target, CPU clocks, TIME-WAIT count
    servers    the server processes the parts measure
    peers      the transfer clients, each run as a process (python -m bench.peers ...)
    transfers  one big file: wall clock and CPU per GiB, into a tmpfs and onto the disk
    sessions   sessions/s and p99 at N at once: FTP door, pyftpdlib, vsftpd; the lab door
    fanout     joining, chat fan-out and memory with N clients; `selectors`: each --selector
    chat       chat latency to a downloading client: loopback, an 8 mbit link (tools/chatlatency.py)
    classroom  `--class`: a whole class of containers downloading at once (classload.py)
    parts      PARTS: every part by its --only name, in the order they run
    report     docs/benchmarks.md and its chart
    cli        scripts/bench's options and the run
"""
