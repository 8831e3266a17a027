"""Who this process is, as run rows, leases and distributed workers name it."""

from __future__ import annotations

import os
import socket


def process_identity() -> str:
    """Give this process's name: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(identity: str) -> bool:
    """Give whether the process named ``identity`` (``host:pid``) ran on this host and has
    exited; a process on another host, or one we may not signal, is not known to be gone."""
    host, _, pid = identity.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
