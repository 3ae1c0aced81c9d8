"""ftplab: a select-based multi-user file server and chat, with its client.

Modules: `protocol` (the wire format, no I/O), `storage` (the only code that
touches the served directory), `server` and `client` (the selectors loops),
`messages` (every user-facing string), `text` (making peer text safe to show).
"""

__version__ = "0.1.0"
