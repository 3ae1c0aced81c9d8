"""A test CA and server certificates for 127.0.0.1 and localhost, made with Debian's
`openssl` (no runtime or test dependency): what `scripts/lab up --tls` will make for a class.

The fixture `certificates` (made once a module; tests/conftest.py offers it to every test),
`tls_args`, a server's options to serve with them, and `fingerprint_of` a certificate."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

DAYS = "2"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    """The class CA's certificate: what students are given (--ca)."""
    cert: Path
    key: Path
    """The server's certificate (signed by the CA) and key."""
    other_ca: Path
    """A CA that signed nothing here: trusting it instead must fail."""
    self_signed: Path
    self_signed_key: Path
    """A certificate no CA signed (a stranger's server)."""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", DAYS, "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def make_certificates(directory: Path) -> Certificates:
    """Everything in `directory`; skips nothing: openssl must be installed."""
    assert shutil.which("openssl"), "openssl is not installed (apt-get install openssl)"
    ca, ca_key = _ca(directory, "class-ca")
    other_ca, _ = _ca(directory, "other-ca")
    key, request, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(request), "-subj", "/CN=localhost", cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", DAYS, "-extfile", str(extensions), cwd=directory,
    )  # fmt: skip
    self_signed, self_signed_key = _ca(directory, "stranger")
    return Certificates(ca, cert, key, other_ca, self_signed, self_signed_key)


def fingerprint_of(certificate: Path) -> str:
    """The certificate's SHA-256 as openssl writes it (AB:CD:...), as ftplab shows it."""
    out = subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-noout", "-fingerprint", "-sha256"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.strip().split("=", 1)[1]


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def tls_args(certificates: Certificates, *more: str) -> list[str]:
    """A server's options to serve TLS with these certificates, then `more`."""
    return ["--tls-cert", str(certificates.cert), "--tls-key", str(certificates.key), *more]
