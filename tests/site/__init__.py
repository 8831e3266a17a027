"""The fixture news site every crawl and end-to-end test runs against (no internet needed).

``FixtureSite`` is a loopback HTTP *proxy* serving fake outlets (kwave.test, m.kwave.test,
dramabeat.test, seoulscreen.test, hallyupost.test, yeonye.test) and a fault-injection host
(faults.test). Point a crawler at it through the standard proxy variable and use the fake URLs::

    from tests.site import FixtureSite

    with FixtureSite() as site:                      # binds 127.0.0.1 on a free port
        env = {**os.environ, **site.proxy_env()}     # http_proxy=http://127.0.0.1:PORT
        subprocess.run(["dramawatch", "--config", str(CONFIG), "run-once"], env=env, check=True)
        assert site.hits("http://seoulscreen.test/stories/park-sung-hoon-photo-diary") == 0

Inside one process, set ``os.environ["http_proxy"] = site.proxy_url`` before the crawler is built
(Scrapy's HttpProxyMiddleware reads it when it starts). ``site.now`` is the instant every
``{{date:...}}`` placeholder is rendered against; ``site.date("-2d")`` gives one of them.
``EXPECTED`` (expected.json) is the golden truth, ``CONFIG`` the dramawatch config listing every
outlet, ``FAULTS_CONFIG`` one listing faults.test. Run it by hand with
``python -m tests.site.server`` (prints the proxy address).
"""

from __future__ import annotations

from pathlib import Path

from .server import AccessRecord, FixtureSite

SITE_DIR = Path(__file__).parent
EXPECTED = SITE_DIR / "expected.json"
CONFIG = SITE_DIR / "dramawatch.test.toml"
FAULTS_CONFIG = SITE_DIR / "dramawatch-faults.test.toml"

__all__ = ["CONFIG", "EXPECTED", "FAULTS_CONFIG", "SITE_DIR", "AccessRecord", "FixtureSite"]
