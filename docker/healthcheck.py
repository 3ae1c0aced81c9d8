"""HEALTHCHECK for the ftplab server: is something listening on the port?

Exit 0 when a TCP socket in this container's network namespace is in LISTEN
state on $FTPLAB_PORT (2121), 1 otherwise. It reads /proc/net/tcp{,6} instead
of connecting, so the check itself never shows up in the server's log, takes
no client slot and sends nothing: the kernel completes handshakes for a
listening socket, so this is exactly as strong as a connect() test.

    ftplab-healthcheck            the LISTEN check
    ftplab-healthcheck --connect  open and close a real connection instead
"""

import os
import socket
import sys

LISTEN = "0A"


def port() -> int:
    return int(os.environ.get("FTPLAB_PORT") or 2121)


def listening(number: int) -> bool:
    suffix = f":{number:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    if len(fields) > 3 and fields[1].endswith(suffix) and fields[3] == LISTEN:
                        return True
        except OSError:
            continue
    return False


def connects(number: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", number), timeout=2).close()
    except OSError:
        return False
    return True


def main() -> int:
    number = port()
    ok = connects(number) if "--connect" in sys.argv[1:] else listening(number)
    if not ok:
        print(f"nothing listening on port {number}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
