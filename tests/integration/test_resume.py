"""Resume: with --keep-partial, a download cut by the server's death is kept under a hidden
name, and the next `get` of it continues where it stopped and verifies the whole file."""

from __future__ import annotations

import hashlib
import re

from .harness import frozen_mid_download, make_big_file, run_client

SIZE = 32 * 1024 * 1024
EXIT_FAILURE = 1


def test_a_kept_partial_download_is_continued_and_the_whole_file_verified(
    tmp_path, start_server, start_client
):
    root = tmp_path / "root"
    root.mkdir()
    whole_sha256 = make_big_file(root / "grande.bin", SIZE)
    server = start_server(root=root)
    client = start_client(server, "ana", extra_args=["--keep-partial"])

    with frozen_mid_download(server, client, "grande.bin"):
        server.kill()

    assert client.wait() == EXIT_FAILURE
    assert client.stdout.has(
        re.compile(r"grande\.bin: descarga interrumpida al \d+ %; se guardó lo recibido")
    )
    kept = [path.name for path in client.download_dir.iterdir()]
    assert kept == [".grande.bin.ftplab-partial"], "kept under a hidden name only, never the final one"
    held = (client.download_dir / kept[0]).stat().st_size
    assert 0 < held < SIZE

    again = start_server(root=root)
    result = run_client(
        again.port,
        ["get grande.bin"],
        name="ana",
        download_dir=client.download_dir,
        extra_args=["--keep-partial"],
    )
    result_resume = [line for line in result.stdout if "Continuando grande.bin desde" in line]

    assert result.returncode == 0, result
    assert result_resume == [f"Continuando grande.bin desde {held} (32.0 MiB en total)"], result
    assert result.has("SHA-256 verificado"), result
    assert hashlib.sha256((client.download_dir / "grande.bin").read_bytes()).hexdigest() == whole_sha256
    assert sorted(path.name for path in client.download_dir.iterdir()) == ["grande.bin"], (
        "the partial is gone"
    )
    again.wait_for_log(re.compile(rf"sent grande\.bin to ana@\S+: {SIZE - held} bytes"))


def test_without_keep_partial_nothing_is_kept(tmp_path, start_server, start_client):
    root = tmp_path / "root"
    root.mkdir()
    make_big_file(root / "grande.bin", SIZE)
    server = start_server(root=root)
    client = start_client(server, "ana")

    with frozen_mid_download(server, client, "grande.bin"):
        server.kill()

    assert client.wait() == EXIT_FAILURE
    assert client.stdout.has("no se guardó nada")
    assert list(client.download_dir.iterdir()) == []
