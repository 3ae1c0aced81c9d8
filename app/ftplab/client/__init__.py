"""The ftplab client: files and chat from an ftplab server.

`session.py` is the whole conversation with no I/O (ClientSession: server
events and typed commands in, actions out), with `downloads.py` and
`uploads.py` its two state machines, `server_events.py` what each server
event does, `comeback.py` coming back after a lost connection, `commands.py`
its command table and `progress.py` the one progress line; `download_file.py` saves a download
(verified, atomic) and `upload_file.py` reads an upload; `app.py` is the loop
with the socket, the terminal and the signals. `ftplab-client` runs `main`.
"""

from .app import main

__all__ = ["main"]
