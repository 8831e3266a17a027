"""trafilatura's metadata for one parsed page: the fields extraction reads, and only those.

``trafilatura.metadata.extract_metadata`` also gathers categories, tags and the licence, which
dramawatch never reads: on news pages those three cost about a third of trafilatura's time per
page (a ``text_content`` of every link and footer element). This runs the same steps in the same
order for title, author, URL, date and site name, so the fields match ``extract_metadata``'s.

Pure: the result depends on the arguments only; the tree is not modified.
"""

from __future__ import annotations

import logging
from typing import Any

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document

logger = logging.getLogger(__name__)


def read_metadata(tree: HtmlElement, url: str | None, date_params: dict[str, Any]) -> Document:
    """Give trafilatura's title, author, url, hostname, date and sitename for `tree`."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as err:  # trafilatura's JSON-LD reader has bugs; its own caller does this
        logger.warning("error in JSON metadata extraction: %r", err)
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.author:
        metadata.author = extract_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    if metadata.url:
        metadata.hostname = extract_domain(metadata.url, fast=True)
    metadata.date = find_date(tree, **{**date_params, "url": metadata.url})
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if (
            metadata.sitename
            and "." not in metadata.sitename
            and not metadata.sitename[0].isupper()
        ):
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        metadata.sitename = match[1]
    metadata.filedate = date_params.get("max_date")
    metadata.clean_and_trim()
    return metadata
