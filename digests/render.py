"""Digest HTML and plain text from a :class:`~digests.build.DigestView`.

One Jinja2 environment for every digest template: autoescaping on for HTML (article titles
and text are shown as text, whatever markup they carry), off only for the plain-text part,
and ``StrictUndefined`` so a misspelt field fails the render instead of leaving a blank.
The HTML has its CSS inlined (css-inline) so mail clients that drop ``<style>`` render it.
"""

from __future__ import annotations

from collections.abc import Sequence

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from digests.build import DigestView, IndexEntry

ENVIRONMENT = Environment(
    loader=PackageLoader("digests", "templates"),
    autoescape=select_autoescape(
        enabled_extensions=("html",), disabled_extensions=("txt",), default=True
    ),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
# Inline every rule; keep only @media rules in <style> (they cannot be inlined), and never
# fetch anything: a digest renders from what it carries.
_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False
)


def render_html(view: DigestView) -> str:
    """Give the digest as one self-contained HTML document with inline CSS."""
    html = ENVIRONMENT.get_template("digest.html").render(view=view)
    return _INLINER.inline(html)


def render_text(view: DigestView) -> str:
    """Give the digest's plain-text part (the mail's text/plain alternative)."""
    return ENVIRONMENT.get_template("digest.txt").render(view=view)


def render_index(label: str, entries: Sequence[IndexEntry]) -> str:
    """Give the ``index.html`` page listing past digests."""
    return ENVIRONMENT.get_template("index.html").render(label=label, entries=entries)
