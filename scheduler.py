"""The dramawatch service, ``python scheduler.py [--config PATH] [-v]``: the same as
``dramawatch serve``. The service itself lives in :mod:`scraper.app.service`; this entry point
imports it and is imported by nothing."""

from __future__ import annotations

import sys

from scraper.app.service import main

if __name__ == "__main__":
    sys.exit(main())
