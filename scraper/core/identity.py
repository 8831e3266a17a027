"""Who this process is, as run rows, leases and distributed workers name it."""

from __future__ import annotations

import os
import socket


def process_identity() -> str:
    """Give this process's name: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"
