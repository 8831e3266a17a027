"""Tests for scraper.core.match: spelling variants match, longer words do not, spans are exact."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scraper.core.match import Matcher, Mention, WatchListError, WatchTerm, compile_watchlist

KIM = WatchTerm("Kim Soo-hyun", "person", ("김수현",))
QUEEN = WatchTerm("Queen of Tears", "drama", ("눈물의 여왕",))
JIWON = WatchTerm("Kim Ji-won", "person", ("김지원",))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return compile_watchlist([KIM, QUEEN, JIWON])


def _found(matcher: Matcher, text: str) -> dict[str, list[str]]:
    return {mention.entity: list(mention.matched) for mention in matcher.find(text)}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Kim Soo-hyun", "Kim Soo-hyun"),
        ("Kim Soo Hyun", "Kim Soo Hyun"),
        ("KIM SOO-HYUN", "KIM SOO-HYUN"),
        ("Kim Soohyun", "Kim Soohyun"),
        ("KimSooHyun", "KimSooHyun"),
        ("Kim Soo-hyun's", "Kim Soo-hyun"),
        ("Kim Soo Hyun\u2019s", "Kim Soo Hyun"),
        ("Kim\u00a0Soo\u00a0Hyun", "Kim\u00a0Soo\u00a0Hyun"),
        ("Kim Soo\u2010hyun", "Kim Soo\u2010hyun"),
        ("Kim Soo\u2011hyun", "Kim Soo\u2011hyun"),
        ("Kim Soo\u2013hyun", "Kim Soo\u2013hyun"),
        ("Kim\u200bSoo\u200bhyun", "Kim\u200bSoo\u200bhyun"),
        ("(Kim Soo-hyun)", "Kim Soo-hyun"),
        ("@kimsoohyun", "kimsoohyun"),
        ("Kim Soo-\nhyun", "Kim Soo-\nhyun"),
        ("김수현", "김수현"),
        ("김수현이", "김수현"),
        ("김수현의", "김수현"),
        ("배우 김수현 측은", "김수현"),
        ("#김수현", "김수현"),
        ("김 수현", "김 수현"),
    ],
)
def test_person_variants_match(matcher: Matcher, text: str, name: str) -> None:
    assert _found(matcher, text) == {"Kim Soo-hyun": [name]}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Queen of Tears", "Queen of Tears"),
        ("QUEEN OF TEARS", "QUEEN OF TEARS"),
        ("Queen of Tears'", "Queen of Tears"),
        ("\u2018Queen of Tears\u2019", "Queen of Tears"),
        ("#QueenofTears", "QueenofTears"),
        ("#QueenOfTears", "QueenOfTears"),
        ("Queen of Tears-inspired cafe", "Queen of Tears"),
        ("눈물의 여왕", "눈물의 여왕"),
        ("눈물의여왕", "눈물의여왕"),
        ("'눈물의 여왕'은", "눈물의 여왕"),
        ("눈물의 여왕은", "눈물의 여왕"),
    ],
)
def test_drama_variants_match(matcher: Matcher, text: str, name: str) -> None:
    assert _found(matcher, text) == {"Queen of Tears": [name]}


@pytest.mark.parametrize(
    "text",
    [
        "Kim Soo-hyuns",
        "Kim Soo-hyunA",
        "xKim Soo Hyun",
        "Kim Soo-hyunie",  # fan nickname: a longer word; list it as an alias to watch it
        "2Kim Soo Hyun",
        "Kim Soo",
        "Kim Soo-hyuk",
        "박김수현",
        "김수",
        "Queen of Tearsheet",
        "TheQueen of Tears",
        "Queen of Tear",
    ],
)
def test_embedded_or_partial_names_do_not_match(matcher: Matcher, text: str) -> None:
    assert matcher.find(text) == []


def test_spans_index_the_text_and_entities_keep_watch_list_order(matcher: Matcher) -> None:
    text = (
        "\u201cQueen of Tears\u201d star Kim Ji-won thanked KIM SOO HYUN; "
        "김수현은 '눈물의 여왕' 종영 소감을 전했다. Kim Soo-hyun\u2019s agency confirmed it."
    )
    mentions = matcher.find(text)
    assert [m.entity for m in mentions] == ["Kim Soo-hyun", "Queen of Tears", "Kim Ji-won"]
    for mention in mentions:
        assert list(mention.spans) == sorted(mention.spans)
        assert mention.matched == tuple(text[start:end] for start, end in mention.spans)
    assert mentions[0].matched == ("KIM SOO HYUN", "김수현", "Kim Soo-hyun")
    assert mentions[1].matched == ("Queen of Tears", "눈물의 여왕")
    assert text.index("Kim Ji-won") == 22
    assert mentions[2] == Mention("Kim Ji-won", ((22, 32),), ("Kim Ji-won",))


@pytest.mark.parametrize(
    "config_name", ["Kim Soo-hyun", "Kim Soo Hyun", "Kim Soohyun", "KIM SOO HYUN"]
)
def test_config_spelling_does_not_matter(config_name: str) -> None:
    matcher = compile_watchlist([WatchTerm(config_name, "person", ())])
    text = "Kim Soo-hyun, Kim Soo Hyun, KimSooHyun and Kim Soohyun's fans."
    found = matcher.find(text)
    assert len(found) == 1
    assert found[0].entity == config_name
    assert found[0].matched == ("Kim Soo-hyun", "Kim Soo Hyun", "KimSooHyun", "Kim Soohyun")


def test_punctuation_in_config_names_is_optional() -> None:
    matcher = compile_watchlist(
        [WatchTerm("Mr. Queen", "drama", ()), WatchTerm("It's Okay to Not Be Okay", "drama", ())]
    )
    text = "Mr Queen, MR. QUEEN, Its Okay to Not Be Okay and It\u2019s Okay to Not Be Okay."
    found = _found(matcher, text)
    assert found == {
        "Mr. Queen": ["Mr Queen", "MR. QUEEN"],
        "It's Okay to Not Be Okay": ["Its Okay to Not Be Okay", "It\u2019s Okay to Not Be Okay"],
    }
    assert matcher.find("Mr.") == []


def test_latin_name_takes_korean_particle_and_han_alias_has_no_boundary() -> None:
    matcher = compile_watchlist([WatchTerm("IU", "person", ("아이유", "李知恩"))])
    assert _found(matcher, "IU의 신곡") == {"IU": ["IU"]}
    assert _found(matcher, "歌手李知恩演唱") == {"IU": ["李知恩"]}
    assert matcher.find("IUs") == []


def test_accepts_any_entry_with_name_kind_aliases() -> None:
    @dataclass(frozen=True)
    class ConfigEntry:
        name: str
        kind: str
        aliases: list[str]

    matcher = compile_watchlist([ConfigEntry("Kim Ji-won", "person", ["김지원"])])
    assert _found(matcher, "김지원과 Kim Jiwon") == {"Kim Ji-won": ["김지원", "Kim Jiwon"]}


def test_entry_without_letters_is_rejected() -> None:
    with pytest.raises(WatchListError, match="'---'"):
        compile_watchlist([WatchTerm("---", "other", ("!!",))])
    matcher = compile_watchlist([WatchTerm("Kim Ji-won", "person", ("...",))])
    assert _found(matcher, "Kim Ji-won") == {"Kim Ji-won": ["Kim Ji-won"]}


def test_find_on_empty_and_unrelated_text(matcher: Matcher) -> None:
    assert matcher.find("") == []
    assert matcher.find("A quiet week for Korean dramas.") == []


# --- properties ---------------------------------------------------------------------------

_SEPARATORS = ["", " ", "-", "\u00a0", "\u2010", "\u2011", "\u2013", "\u200b", " - ", "_"]
_BOUNDARY = st.sampled_from([" ", ". ", ", ", "\n", "(", ")", "\u201c", "#", "@", "'", ""])
_syllables = st.from_regex(r"[a-m]{2,5}", fullmatch=True)


def _random_case(data: st.DataObject, text: str) -> str:
    return "".join(c.upper() if data.draw(st.booleans()) else c for c in text)


@given(st.lists(_syllables, min_size=2, max_size=4), st.data())
@settings(max_examples=200)
def test_romanized_variants_match(syllables: list[str], data: st.DataObject) -> None:
    config = " ".join(syllables)
    matcher = compile_watchlist([WatchTerm(config, "person", ())])
    variant = syllables[0]
    for syllable in syllables[1:]:
        variant += data.draw(st.sampled_from(_SEPARATORS)) + syllable
    variant = _random_case(data, variant)
    before = data.draw(_BOUNDARY)
    after = data.draw(st.sampled_from(["", "'s", "\u2019s", " ", ".", "-based", "의"]))
    text = f"{before}{variant}{after}"
    start = len(before)

    assert matcher.find(text) == [Mention(config, ((start, start + len(variant)),), (variant,))]


@given(st.lists(_syllables, min_size=2, max_size=4), st.data())
@settings(max_examples=200)
def test_romanized_names_inside_longer_words_do_not_match(
    syllables: list[str], data: st.DataObject
) -> None:
    matcher = compile_watchlist([WatchTerm("-".join(syllables), "person", ())])
    variant = data.draw(st.sampled_from([" ", "-", ""])).join(syllables)
    # Letters outside a-m cannot form another occurrence of the name with the variant.
    prefix = data.draw(st.from_regex(r"[n-zN-Z0-9]{0,3}", fullmatch=True))
    suffix = data.draw(st.from_regex(r"[n-zN-Z0-9]{0,3}", fullmatch=True))
    assume(prefix or suffix)
    assert matcher.find(f"\u2014 {prefix}{variant}{suffix} \u2014") == []


_HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
_PARTICLES = ["", "이", "가", "은", "는", "을", "를", "의", "에게", "과", "와", "도", "씨", " 측은"]


@given(st.text(_HANGUL, min_size=2, max_size=4), st.data())
@settings(max_examples=200)
def test_hangul_alias_matches_with_particles(alias: str, data: st.DataObject) -> None:
    matcher = compile_watchlist([WatchTerm("Someone", "person", (alias,))])
    spaced = data.draw(st.booleans()) and len(alias) > 2
    written = f"{alias[0]} {alias[1:]}" if spaced else alias
    particle = data.draw(st.sampled_from(_PARTICLES))
    before = data.draw(st.sampled_from(["", " ", "'", "\u2018", "#", "("]))
    text = f"{before}{written}{particle} 소식"
    start = len(before)

    assert matcher.find(text) == [Mention("Someone", ((start, start + len(written)),), (written,))]


@given(st.text(_HANGUL, min_size=2, max_size=4), _HANGUL)
@settings(max_examples=200)
def test_hangul_alias_preceded_by_a_syllable_does_not_match(alias: str, syllable: str) -> None:
    matcher = compile_watchlist([WatchTerm("Someone", "person", (alias,))])
    text = f"{syllable}{alias}이"
    assume(not text.startswith(alias))  # e.g. alias 가가 in 가가가: a real match at 0
    assert matcher.find(text) == []
