"""Pure watch-list matching: which watched dramas and people a text mentions, and where.

Outlets spell one romanized name many ways (``Kim Soo-hyun``, ``Kim Soo Hyun``, ``KIM SOOHYUN``,
``#KimSooHyun``), so a watch name is not matched literally. Each name and alias is reduced to
its letters and digits, and between any two of them the pattern accepts up to four separators:
whitespace (NBSP and the other Unicode spaces included), zero-width characters, soft hyphen,
the ASCII and Unicode hyphens and dashes, underscore and middle dots. Config names therefore
need no particular spelling: ``Kim Soo-hyun``, ``Kim Soo Hyun``, ``Kim Soohyun`` and even
``KimSooHyun`` compile to the same pattern. Other punctuation in a config name (``Mr. Queen``,
``It's Okay``) becomes optional, apostrophes matching any apostrophe.

Boundaries, by the script of the term's first and last character:

- Latin (and any other cased or digit character): no letter or digit may touch either end,
  so ``Kim Soo-hyuns``, ``xKim Soo Hyun`` and ``Kim Soo-hyunA`` do not match. Possessives
  (``Kim Soo-hyun's``, ``Queen of Tears'``), hashtags (``#QueenofTears``), hyphenated
  compounds (``Queen of Tears-inspired``) and a Korean particle glued to a Latin name
  (``IU의``) do match. Decision: ``Kim Soo-hyunie`` (a fan nickname) is a longer word and
  does not match; list it as an alias to watch it.
- Hangul: no letter or digit may come before the term (``박김수현`` does not match), but
  anything may follow it, because Korean particles and suffixes attach to the noun (김수현이,
  김수현의, 김수현 측은, 눈물의 여왕은). Known gap: a longer name that starts with the alias
  (김수현정) matches too.
- Han and Kana: no boundary at all (those scripts do not separate words).

Spans cover the name itself (not the ``#``, the possessive or the particle) and index the
given text exactly: the text is never normalised or copied. Known gaps: zero-width or soft
hyphens *inside* a syllable, full-width Latin letters, transliterations not
listed as aliases, and a false positive when a text spells the same letters with separators
in odd places (``Kims Oohyun``), which real prose does not do.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Matcher",
    "Mention",
    "WatchEntryLike",
    "WatchListError",
    "WatchTerm",
    "compile_watchlist",
]

logger = logging.getLogger(__name__)

# Characters that may stand between two letters of a name (at most _MAX_SEPARATORS in a row).
_SEPARATOR_CHARS = (
    r"\s"
    "\u00ad\u200b\u200c\u200d\u2060\ufeff"  # soft hyphen, zero-width space/joiners, BOM
    r"\-_"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"  # Unicode hyphens and dashes
    "\u00b7\u30fb"  # middle dots
)
_MAX_SEPARATORS = 4
_SEPARATOR = f"[{_SEPARATOR_CHARS}]{{0,{_MAX_SEPARATORS}}}"
_SEPARATOR_CHAR = re.compile(f"[{_SEPARATOR_CHARS}]")
_APOSTROPHES = "'\u2018\u2019\u02bc\u0060\u00b4"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
_HAN_KANA = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HANGUL_CHAR = re.compile(f"[{_HANGUL}]")
_HAN_KANA_CHAR = re.compile(f"[{_HAN_KANA}]")
# After a Latin-ending term: no alphanumeric character except Hangul (particles may attach).
_LATIN_RIGHT_BOUNDARY = f"(?![^\\W_{_HANGUL}])"


class WatchEntryLike(Protocol):
    """Anything with the fields of a watch-list entry (``config.WatchEntry`` qualifies)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def aliases(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class WatchTerm:
    """One watched drama or person: the display name, its kind and other spellings."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """Where one watched entity occurs in a text.

    ``spans`` are ``(start, end)`` offsets into the text, in text order; ``matched[i]`` is
    ``text[start:end]`` of ``spans[i]``, the spelling the text used.
    """

    entity: str
    spans: tuple[tuple[int, int], ...]
    matched: tuple[str, ...]


class WatchListError(ValueError):
    """A watch-list entry has no name or alias that can be matched (no letters or digits)."""


def _term_pattern(term: str) -> str | None:
    """Return the regex source matching every spelling of ``term``, or None if it is empty."""
    term = unicodedata.normalize("NFKC", term).strip()
    pieces: list[str] = []
    first: str | None = None
    last = ""
    for char in term:
        if char.isalnum():
            if pieces:
                pieces.append(_SEPARATOR)
            pieces.append(re.escape(char))
            first = first or char
            last = char
        elif _SEPARATOR_CHAR.fullmatch(char):
            continue
        elif pieces:
            # Punctuation inside a name is optional: "Mr. Queen" also matches "Mr Queen".
            literal = f"[{_APOSTROPHES}]" if char in _APOSTROPHES else re.escape(char)
            pieces.append(f"{_SEPARATOR}{literal}?")
    if first is None:
        return None
    while pieces[-1].endswith("?"):
        pieces.pop()  # trailing punctuation ("Mr.") must not widen the match
    if not _HAN_KANA_CHAR.match(first):
        # The boundary goes after the first character, not before it: a pattern that starts
        # with a literal lets the regex engine skip ahead, which makes find() ~3x faster.
        pieces.insert(1, f"(?<![^\\W_]{pieces[0]})")
    if _HAN_KANA_CHAR.match(last) or _HANGUL_CHAR.match(last):
        right = ""
    else:
        right = _LATIN_RIGHT_BOUNDARY
    return "".join(pieces) + right


def matchable(term: str) -> bool:
    """Give whether ``term`` can be matched at all: it has a letter or a digit."""
    return _term_pattern(term) is not None


class Matcher:
    """A compiled watch list; ``find`` reports the mentions of each entry in a text."""

    def __init__(self, patterns: Sequence[tuple[str, re.Pattern[str]]]) -> None:
        self._patterns = tuple(patterns)

    def find(self, text: str) -> list[Mention]:
        """Return one Mention per watched entity found in ``text``, in watch-list order."""
        mentions: list[Mention] = []
        for entity, pattern in self._patterns:
            spans = tuple(match.span() for match in pattern.finditer(text))
            if spans:
                mentions.append(
                    Mention(entity, spans, tuple(text[start:end] for start, end in spans))
                )
        return mentions


def compile_watchlist(entries: Iterable[WatchEntryLike]) -> Matcher:
    """Return a Matcher for ``entries``: one case-insensitive regex per entry, compiled once.

    The entry's name and aliases are alternatives of that regex, longest first, so the most
    specific spelling wins where two overlap. Raises WatchListError for an entry none of whose
    terms has a letter or digit.
    """
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for entry in entries:
        terms = [entry.name, *entry.aliases]
        sources = {source for source in map(_term_pattern, terms) if source is not None}
        if not sources:
            raise WatchListError(f"watch entry {entry.name!r} has no letters or digits to match")
        alternatives = sorted(sources, key=lambda source: (-len(source), source))
        pattern = re.compile("|".join(f"(?:{source})" for source in alternatives), re.IGNORECASE)
        patterns.append((entry.name, pattern))
        logger.debug("watch entry %r compiled from %d terms", entry.name, len(sources))
    return Matcher(patterns)
