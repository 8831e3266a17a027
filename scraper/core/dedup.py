"""Pure near-duplicate detection: MinHash signatures, LSH band hashes and story assignment.

A *story* groups the syndicated copies and light rewrites of one article. Independent
articles about the same event share names, dates and figures but few word sequences, so
shingles are word 3-grams: they survive reworded sentences elsewhere in the text but are
rare across independently written prose. Texts written mostly in Hangul, Han or Kana are
shingled as character 5-grams of the text with spaces removed instead, because particles
glue onto Korean words (김수현이 / 김수현은) and Chinese and Japanese do not separate words.

Parameters were chosen on the fixtures in ``tests/unit/test_dedup.py`` (our own prose). Measured
similarity: exact Jaccard of the shingle sets, then the estimate from this module's
signatures (seed below), and the share of words changed for the rewrites:

=======================================================  =====  =========
pair                                                     exact  signature
=======================================================  =====  =========
syndicated copy (other boilerplate lines)                0.895  0.898
syndicated copy, titles with outlet suffix prepended     0.880  0.891
rewrite: paragraph cut, sentences reworded (24% words)   0.654  0.672
rewrite: paragraph added, sentences reworded (17%)       0.689  0.703
the two rewrites against each other                      0.549  0.547
Korean syndicated copy (wire byline and footer)          0.891  0.883
Korean rewrite (23% of words changed)                    0.567  0.609
same event, same names and figures, independent          0.049  0.102
the same, against the rewrite                            0.047  0.117
another story about the same drama                       0.010  0.039
Korean same event, independent                           0.021  0.023
=======================================================  =====  =========

The estimate is unbiased (mean over 60 seeds: 0.045 for the 0.049 pair) with a standard
deviation of about 0.02 near J = 0.05 and 0.04 near J = 0.6; this seed happens to read the
same-event pair high, which the margins below absorb.

``THRESHOLD = 0.25`` sits between the groups (about 5x the same-event score, under half the
rewrite scores). Real rewrites change whole sentences and keep the rest, which is why they
score high; edits scattered word by word hurt 3-grams most: replacing each word independently
with probability 0.2 still scores about 0.33, at 0.25 it lands on the threshold. An
independent article would have to share long verbatim passages (a whole quoted statement
plus more) to reach it.

``BANDS = 64``, ``ROWS = 2``: a pair becomes an LSH candidate with probability
``1 - (1 - J**2)**64``: 0.93 at J = 0.2, 0.98 at 0.25, 0.998 at 0.3, so stories are found;
same-topic articles (J around 0.05) are candidates 15% of the time and unrelated ones
(J around 0.01) 0.6%, and ``choose_story`` rejects them on the full signature.

Signatures are datasketch MinHashes with the ``affine32`` scheme, seed 20240501 and SHA-1
32-bit hashing, packed as ``NUM_PERM`` little-endian uint32 (512 bytes). Changing any of
these, or the shingling, makes stored signatures incomparable: re-sign the archive. The
``scheme`` argument needs datasketch >= 2.0. ``signature`` takes about 3 ms for a 1,000-word
text (about 1,100 shingles; 4 ms for 1,000 Korean words), mostly SHA-1 and the batch update.
The signature of a text without words is the all-``0xFFFFFFFF`` "empty" signature: it is
similar to nothing (itself included), so empty texts never form a story, although their
band hashes, all equal, make them each other's LSH candidates.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash

__all__ = [
    "BANDS",
    "CHAR_SHINGLE",
    "NUM_PERM",
    "ROWS",
    "SEED",
    "SIGNATURE_BYTES",
    "SAME_DOCUMENT",
    "THRESHOLD",
    "WORD_SHINGLE",
    "SignatureError",
    "band_hashes",
    "choose_story",
    "content_hash",
    "shingles",
    "signature",
    "same_document",
    "similarity",
]

logger = logging.getLogger(__name__)

NUM_PERM = 128
BANDS = 64
ROWS = 2
THRESHOLD = 0.25
# a syndicated copy with other boilerplate scores about 0.9 exactly (table above); the same
# page served on a mobile or AMP host, its chrome removed by extraction, scores near 1.0
SAME_DOCUMENT = 0.9
SEED = 20240501
WORD_SHINGLE = 3
CHAR_SHINGLE = 5
SIGNATURE_BYTES = NUM_PERM * 4

_SCHEME = "affine32"
_DTYPE = np.dtype("<u4")
_EMPTY_VALUE = 0xFFFFFFFF
_WORD = re.compile(r"[^\W_]+")
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff]"
)
_WHITESPACE = re.compile(r"\s+")
_BAND_MASK = (1 << 63) - 1


class SignatureError(ValueError):
    """A byte string is not a signature made by this module (wrong length)."""


def shingles(text: str) -> set[str]:
    """Return the shingle set of ``text``: word 3-grams, or character 5-grams for CJK text.

    Text is NFKC-normalised and case-folded and punctuation is dropped, so quotes, dashes and
    spacing do not matter. A text shorter than one shingle gives one shingle of all it has;
    a text without letters or digits gives the empty set.
    """
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    if not words:
        return set()
    joined = "".join(words)
    if 2 * len(_CJK.findall(joined)) > len(joined):
        size = CHAR_SHINGLE
        units: list[str] = list(joined)
        glue = ""
    else:
        size = WORD_SHINGLE
        units = words
        glue = " "
    if len(units) <= size:
        return {glue.join(units)}
    return {glue.join(units[i : i + size]) for i in range(len(units) - size + 1)}


def _new_minhash() -> MinHash:
    # imported here: datasketch pulls in scipy (~2 s), which readers of the archive never need
    from datasketch import MinHash
    from datasketch.hashfunc import sha1_hash32

    return MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=sha1_hash32, scheme=_SCHEME)


def signature(text: str) -> bytes:
    """Return the packed MinHash signature of ``text`` (``SIGNATURE_BYTES`` bytes)."""
    minhash = _new_minhash()
    minhash.update_batch([shingle.encode("utf-8") for shingle in shingles(text)])
    return bytes(np.asarray(minhash.hashvalues, dtype=_DTYPE).tobytes())


def _values(sig: bytes) -> np.ndarray:
    """Return the hash values of a signature; SignatureError if it has the wrong length."""
    if len(sig) != SIGNATURE_BYTES:
        raise SignatureError(f"signature has {len(sig)} bytes, expected {SIGNATURE_BYTES}")
    return np.frombuffer(sig, dtype=_DTYPE)


def _is_empty(values: np.ndarray) -> bool:
    return bool(np.all(values == _EMPTY_VALUE))


def band_hashes(sig: bytes) -> list[int]:
    """Return one hash per LSH band (``BANDS`` ints in ``[0, 2**63)``, fit a signed BIGINT).

    Two signatures share band ``i``'s hash when their ``ROWS`` values in that band agree.
    Raises SignatureError for a byte string of the wrong length.
    """
    _values(sig)
    width = ROWS * _DTYPE.itemsize
    return [
        int.from_bytes(hashlib.blake2b(sig[start : start + width], digest_size=8).digest(), "big")
        & _BAND_MASK
        for start in range(0, SIGNATURE_BYTES, width)
    ]


def similarity(a: bytes, b: bytes) -> float:
    """Return the estimated Jaccard similarity of two signatures' shingle sets (0.0 to 1.0).

    The empty signature is similar to nothing, itself included. Raises SignatureError for a
    byte string of the wrong length.
    """
    values_a = _values(a)
    values_b = _values(b)
    if _is_empty(values_a) or _is_empty(values_b):
        return 0.0
    return float(np.count_nonzero(values_a == values_b)) / NUM_PERM


def same_document(a: bytes, b: bytes) -> bool:
    """Return whether two signatures are one document's text (estimate >= SAME_DOCUMENT):
    what a copy on another host must reach for its rel=canonical claim to be believed."""
    return similarity(a, b) >= SAME_DOCUMENT


def choose_story(sig: bytes, candidates: Iterable[tuple[int, int, bytes]]) -> int | None:
    """Return the story_id of the candidate most similar to ``sig`` if it reaches THRESHOLD.

    ``candidates`` are ``(article_id, story_id, signature)`` rows, typically those sharing a
    band hash. Ties go to the lowest article_id (the oldest article), so the choice does not
    depend on row order. A candidate with a malformed signature is logged and skipped; a
    malformed ``sig`` raises SignatureError.
    """
    _values(sig)  # a malformed query signature is the caller's error, not the candidates'
    best: tuple[float, int] | None = None
    best_story: int | None = None
    for article_id, story_id, candidate_sig in candidates:
        try:
            score = similarity(sig, candidate_sig)
        except SignatureError as error:
            logger.warning("article %d: skipped as story candidate: %s", article_id, error)
            continue
        if score >= THRESHOLD and (best is None or (score, -article_id) > best):
            best = (score, -article_id)
            best_story = story_id
    return best_story


def _normalise(value: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", value)).strip()


def content_hash(title: str, text: str) -> str:
    """Return the sha256 hex digest of title and text, whitespace and NFC normalised.

    Used to tell whether a refetched article changed: reflowed paragraphs or a different
    Unicode composition are not a change, any other edit is.
    """
    payload = f"{_normalise(title)}\n{_normalise(text)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
