"""Pure address classification for the SSRF guard: may a link from the web reach this host?

A feed, sitemap, listing page or redirect is text from the web; a hostile or compromised one can
point the crawler at the user's own network (``127.0.0.1``, the router at ``192.168.1.1``, a
cloud metadata service at ``169.254.169.254``). Only globally routable unicast addresses are
public here: loopback, private, link-local, CGNAT (100.64/10), multicast, documentation,
benchmarking and every other special-purpose block of the IANA registries is private.

Hosts are read the way the network stack reads them, not only in dotted-quad form: the C
library's ``inet_aton`` accepts ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` for 127.0.0.1,
so they are addresses here too; an IPv6 address that carries an IPv4 one (IPv4-mapped
``::ffff:127.0.0.1``, IPv4-compatible, NAT64 ``64:ff9b::/96``, 6to4) is judged by both. The
``localhost`` names of RFC 6761 are loopback by definition. Every other name is for the resolver
to answer (the crawler checks the addresses it resolves to, with :func:`is_public_address`).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

__all__ = ["REFUSED_REASON", "host_address", "is_public_address", "is_private_host"]

#: The one reason a refused link is reported with (run errors, logs).
REFUSED_REASON = "refused: private address"

IPAddress = IPv4Address | IPv6Address

# Blocks that are not globally reachable (IANA special-purpose registries), listed here as well
# as asked of ``ipaddress``: its ``is_global`` has changed between Python versions.
_PRIVATE_V4 = tuple(
    IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT shared address space
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_PRIVATE_V6 = tuple(
    IPv6Network(block)
    for block in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "::ffff:0:0/96",  # IPv4-mapped: judged by its IPv4 address first
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")
_INET_ATON_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """Give the IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _PRIVATE_V6[0]:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Give whether ``address`` is a globally routable unicast address (the only kind a link
    discovered on the web may reach)."""
    if isinstance(address, IPv6Address):
        if address.scope_id:
            return False  # a zone index ("fe80::1%eth0") names a local interface
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.ipv4_mapped is not None:
            return True  # the IPv4 address it stands for was public
        return address.is_global and not any(address in block for block in _PRIVATE_V6)
    return address.is_global and not any(address in block for block in _PRIVATE_V4)


def _inet_aton(host: str) -> IPv4Address | None:
    """Give the IPv4 address the C library's ``inet_aton`` reads ``host`` as, if it is one:
    one to four parts, each decimal, octal (leading 0) or hex (0x), the last filling the rest."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_INET_ATON_PART.match(part) for part in parts):
        return None
    values: list[int] = []
    for part in parts:
        if part[:2] in ("0x", "0X"):
            values.append(int(part[2:] or "0", 16))
        elif part.startswith("0"):
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(value > 255 for value in leading) or last >= 256 ** (4 - len(leading)):
        return None
    number = last
    for index, value in enumerate(leading):
        number |= value << (8 * (3 - index))
    return IPv4Address(number)


def host_address(host: str) -> IPAddress | None:
    """Give the IP address a URL's host stands for literally (``[::1]``, ``127.0.0.1``,
    ``2130706433``, ``0x7f.1``), or None for a name that needs resolving."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif host.endswith(".") and not host.endswith(".."):
        host = host[:-1]  # a fully qualified "127.0.0.1." is still that address
    if ":" in host:
        try:
            return IPv6Address(host)
        except ValueError:
            return None
    try:
        return ip_address(host)
    except ValueError:
        return _inet_aton(host)


def is_private_host(url_or_host: str) -> bool | None:
    """Give whether a URL's host (or a bare host) is private by itself: True for a private
    address or a ``localhost`` name, False for a public address, None for a name whose
    addresses only a resolver knows."""
    if "://" in url_or_host:
        try:
            host = urlsplit(url_or_host).hostname or ""
        except ValueError:
            return None
    else:
        host = url_or_host
    address = host_address(host)
    if address is not None:
        return not is_public_address(address)
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return None
