"""A server configuration for tests that build a whole server in their own thread
(`build_server`): loopback, a port the kernel picks, no idle timeout, English."""

from __future__ import annotations

from dataclasses import replace

from ftplab.config import ServerConfig


def server_config_for(root, **changes) -> ServerConfig:
    """Serving `root` as "profe" to at most ten clients; `changes` as for dataclasses.replace."""
    config = ServerConfig(
        host="127.0.0.1",
        port=0,
        root=str(root),
        name="profe",
        max_clients=10,
        max_per_ip=0,
        idle_timeout=0,
        data_timeout=60,
        join_timeout=30,
        lang="en",
        log_level="INFO",
    )
    return replace(config, **changes)
