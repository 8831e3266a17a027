"""Tests for scraper.core.dedup: stories join copies and rewrites, never independent articles.

The articles below are our own prose (facts of the kind the seeds report, no seed sentences).
"""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.core.dedup import (
    BANDS,
    NUM_PERM,
    ROWS,
    SIGNATURE_BYTES,
    THRESHOLD,
    SignatureError,
    band_hashes,
    choose_story,
    content_hash,
    shingles,
    signature,
    similarity,
)

ORIGINAL_TITLE = "Kim Soo-hyun and Kim Ji-won reunite for Queen of Tears special broadcast"
ORIGINAL = """\
The stars of Queen of Tears are coming back to the small screen one more time. tvN announced on \
Monday that Kim Soo-hyun and Kim Ji-won will headline a two-part special that looks back on the \
making of the record-setting romance, with the first part airing on May 4 in the drama's usual \
Saturday night slot.

The special was filmed over two days at a studio in Ilsan, where the lead pair sat down with \
director Jang Young-woo to watch their favourite scenes again. According to the network, the \
conversation ranged from the first script reading to the tearful hospital episode that sent \
ratings soaring in the second half of the run.

Park Sung-hoon, who played the scheming investor Yoon Eun-sung, and Kwak Dong-yeon, who played \
Hong Soo-cheol, also joined the recording. Producers said the four actors answered questions \
submitted by viewers through the official homepage, including several about the ending that \
divided fans online.

Queen of Tears followed Baek Hyun-woo, a lawyer from the countryside village of Yongdu-ri, and \
Hong Hae-in, the heiress of the Queens Group, as their three-year marriage falls apart and \
slowly mends. Writer Park Ji-eun, known for Crash Landing on You, created the series.

The finale recorded a nationwide rating of 24.9 percent, the highest figure ever reached by a \
tvN drama. The series was also among the most watched non-English shows on Netflix for several \
weeks in a row.

A tvN representative said the team wanted to give something back to the viewers who stayed \
with the story for sixteen episodes. The second part of the special will air on May 5.

Stay tuned to Seoul Screen Weekly for more K-drama updates."""

SYNDICATED_TITLE = ORIGINAL_TITLE + " | Hallyu Beat"
SYNDICATED = (
    "(Photo: tvN)\n\n"
    + ORIGINAL.rsplit("\n\n", 1)[0]
    + "\n\nJoin our Telegram channel for the latest news about your favourite idols and actors."
    "\n\nCopyright Hallyu Beat. All rights reserved."
)

# Paragraph three removed, a few sentences reworded.
REWRITE_CUT = """\
The stars of Queen of Tears are coming back to the small screen one more time. tvN announced on \
Monday that Kim Soo-hyun and Kim Ji-won will headline a two-part special that looks back on the \
making of the record-setting romance, with the first part airing on May 4 in the drama's usual \
Saturday night slot.

The special was filmed over two days at a studio in Ilsan, where the lead pair sat down with \
director Jang Young-woo to watch their favourite scenes again. The network said the talk \
ranged from the first table read to the tearful hospital episode that sent ratings soaring in \
the second half of the run.

Queen of Tears followed Baek Hyun-woo, a lawyer from the countryside village of Yongdu-ri, and \
Hong Hae-in, the heiress of the Queens Group, as their three-year marriage falls apart and \
slowly mends. The series was written by Park Ji-eun, the writer of Crash Landing on You.

The finale recorded a nationwide rating of 24.9 percent, the highest figure ever reached by a \
tvN drama. The series was also among the most watched non-English shows on Netflix for several \
weeks in a row.

A tvN representative said the team wanted to give something back to the viewers who stayed \
with the story for sixteen episodes. The second part of the special will air on May 5."""

# A paragraph added, a few sentences reworded.
REWRITE_ADD = """\
The stars of Queen of Tears are coming back to the small screen one more time. On Monday tvN \
confirmed that Kim Soo-hyun and Kim Ji-won will lead a two-part special looking back on the \
making of the record-setting romance, with the first part airing on May 4 in the drama's usual \
Saturday night slot.

The special was filmed over two days at a studio in Ilsan, where the lead pair sat down with \
director Jang Young-woo to watch their favourite scenes again. According to the network, the \
conversation ranged from the first script reading to the tearful hospital episode that sent \
ratings soaring in the second half of the run.

Park Sung-hoon, who played the scheming investor Yoon Eun-sung, and Kwak Dong-yeon, who played \
Hong Soo-cheol, also took part. The producers said the four actors answered questions that \
viewers had sent in through the official homepage, several of them about the ending.

Fans have already started counting down. Within hours of the announcement, clips of the lead \
couple from the drama's final week were trending again on social media, and fan accounts \
shared schedules for watching the special together.

Queen of Tears followed Baek Hyun-woo, a lawyer from the countryside village of Yongdu-ri, and \
Hong Hae-in, the heiress of the Queens Group, as their three-year marriage falls apart and \
slowly mends. Writer Park Ji-eun, known for Crash Landing on You, created the series.

The finale recorded a nationwide rating of 24.9 percent, the highest figure ever reached by a \
tvN drama. The series was also among the most watched non-English shows on Netflix for several \
weeks in a row.

A tvN representative said the team wanted to give something back to the viewers who stayed \
with the story for sixteen episodes. The second part of the special will air on May 5."""

# Same event, same names and figures, written independently.
SAME_TOPIC_TITLE = "Queen of Tears cast to answer fan questions in two-part tvN special"
SAME_TOPIC = """\
Viewers who are not ready to say goodbye to Baek Hyun-woo and Hong Hae-in will get one more \
weekend with them. tvN will air a two-part Queen of Tears special on May 4 and May 5, filling \
the Saturday and Sunday slot the drama occupied until its finale.

Lead actors Kim Soo-hyun and Kim Ji-won recorded the programme in Ilsan together with co-stars \
Park Sung-hoon and Kwak Dong-yeon. Director Jang Young-woo hosted the session, and the cast \
reacted to memorable scenes while sharing stories from eleven months of filming.

A large part of the special is devoted to fans. The production team collected questions on \
the drama's homepage during the final weeks of the broadcast, and the actors picked the ones \
they found most interesting, from the couple's divorce papers to the last scene.

Written by Park Ji-eun of Crash Landing on You fame, Queen of Tears tells the story of a \
chaebol heiress from the Queens Group and her husband, a legal director who grew up in \
Yongdu-ri. Its last episode drew 24.9 percent of households nationwide, a new record for tvN, \
and the show ranked high on Netflix's global chart for weeks.

The channel said it planned the special as a thank-you to its audience."""

# Another story about the same drama.
OTHER_STORY = """\
Kim Soo-hyun is singing for Queen of Tears. His agency confirmed on Friday that the actor \
recorded a ballad for the drama's soundtrack, his first song release in a decade. The track \
will be included in a two-disc OST album together with songs by HEIZE, 10CM and Crush.

The album is designed like a wedding album and comes with a photo book, lyric cards and \
stickers. Pre-orders opened on several online stores this week, and the physical release is \
planned for late May.

Kim Ji-won and Kim Soo-hyun lead the cast of the tvN weekend drama, which is also streaming on \
Netflix."""


KO_ORIGINAL = """\
배우 김수현과 김지원이 드라마 '눈물의 여왕' 종영 이후 스페셜 방송을 통해 시청자들과 다시 만난다.

tvN은 13일 '눈물의 여왕' 주연 배우들이 출연하는 2부작 스페셜 방송을 \
다음 달 4일과 5일 오후 9시 20분에 편성했다고 밝혔다. 방송은 드라마가 방영되던 \
토요일과 일요일 시간대에 그대로 이어진다.

이번 스페셜에는 김수현과 김지원을 비롯해 박성훈, 곽동연이 함께했다. 네 배우는 연출을 맡은 장영우 \
감독과 함께 명장면을 다시 보며 촬영 당시의 뒷이야기를 풀어놓았다. 시청자들이 공식 홈페이지를 통해 \
보낸 질문에 배우들이 직접 답하는 코너도 마련됐다.

'눈물의 여왕'은 퀸즈 그룹의 재벌 3세 홍해인과 용두리 출신 법무이사 백현우, 결혼 3년 차 부부의 \
위기와 사랑을 그린 작품이다. '사랑의 불시착'을 쓴 박지은 작가가 집필했다.

마지막 회는 전국 가구 평균 시청률 24.9%를 기록하며 tvN 드라마 역대 최고 시청률을 새로 썼다. \
넷플릭스에서도 여러 주 연속 비영어권 TV 부문 상위권에 이름을 올렸다.

tvN 관계자는 "16회 동안 함께해 준 시청자들께 감사의 마음을 전하고 싶었다"며 "배우들의 솔직한 \
이야기를 기대해 달라"고 말했다."""

KO_SYNDICATED = (
    "(서울=한빛뉴스) 이서연 기자 = "
    + KO_ORIGINAL
    + "\n\n이서연 기자 seoyeon@example.kr\n<저작권자 ⓒ 한빛뉴스, 무단 전재 및 재배포 금지>"
)

KO_REWRITE = """\
배우 김수현과 김지원이 '눈물의 여왕' 종영 후 스페셜 방송으로 시청자들을 다시 찾아온다.

tvN은 13일 '눈물의 여왕' 주연 배우들이 출연하는 2부작 스페셜 방송을 \
다음 달 4일과 5일 오후 9시 20분에 편성했다고 밝혔다. 드라마가 방송되던 \
주말 시간대를 그대로 이어받는다.

이번 스페셜에는 김수현과 김지원을 비롯해 박성훈, 곽동연이 함께했다. 네 배우는 연출을 맡은 장영우 \
감독과 함께 명장면을 다시 보며 촬영 당시의 뒷이야기를 풀어놓았다. 시청자들이 공식 홈페이지를 통해 \
보낸 질문에 배우들이 직접 답하는 코너도 마련됐다.

'눈물의 여왕'은 퀸즈 그룹의 재벌 3세 홍해인과 용두리 출신 법무이사 백현우, 결혼 3년 차 부부의 \
위기와 사랑을 그린 작품이다. '사랑의 불시착'을 쓴 박지은 작가가 집필했다.

최종회는 전국 가구 기준 24.9%의 시청률로 tvN 역대 드라마 가운데 가장 높은 기록을 세웠다.

tvN 관계자는 "16회 동안 함께해 준 시청자들께 감사의 마음을 전하고 싶었다"며 "배우들의 솔직한 \
이야기를 기대해 달라"고 말했다."""

KO_SAME_TOPIC = """\
'눈물의 여왕'의 백현우와 홍해인을 한 번 더 볼 수 있게 됐다. tvN이 다음 달 4일과 5일 본방송 시간에 \
2부작 특별 편성을 확정했다.

스페셜 녹화는 일산의 한 스튜디오에서 진행됐다. 김수현, 김지원, 박성훈, 곽동연 네 사람이 장영우 \
감독과 마주 앉아 11개월간의 촬영을 돌아봤고, 종영 직후 홈페이지에 쏟아진 시청자 질문에도 답했다.

박지은 작가가 극본을 쓴 이 드라마는 재벌가 딸과 시골 출신 남편의 결혼 생활을 다뤘다. 최종회 \
시청률은 24.9%로 tvN 최고 기록이며, 넷플릭스 글로벌 순위에서도 오랫동안 상위권을 지켰다.

제작진은 끝까지 사랑해 준 시청자들을 위한 선물이라고 설명했다."""


def _changed(a: str, b: str) -> float:
    """Return the share of words changed between two texts (1 - LCS / longer length)."""
    words_a, words_b = a.split(), b.split()
    matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    return 1 - kept / max(len(words_a), len(words_b))


def _exact(a: str, b: str) -> float:
    set_a, set_b = shingles(a), shingles(b)
    return len(set_a & set_b) / len(set_a | set_b)


def _shares_band(a: bytes, b: bytes) -> bool:
    return bool(set(band_hashes(a)) & set(band_hashes(b)))


SAME_STORY = {
    "syndicated": (ORIGINAL, SYNDICATED),
    "syndicated with titles": (
        f"{ORIGINAL_TITLE}\n\n{ORIGINAL}",
        f"{SYNDICATED_TITLE}\n\n{SYNDICATED}",
    ),
    "rewrite, paragraph cut": (ORIGINAL, REWRITE_CUT),
    "rewrite, paragraph added": (ORIGINAL, REWRITE_ADD),
    "rewrite against rewrite": (REWRITE_CUT, REWRITE_ADD),
    "korean syndicated": (KO_ORIGINAL, KO_SYNDICATED),
    "korean rewrite": (KO_ORIGINAL, KO_REWRITE),
}
OTHER_STORIES = {
    "same topic": (ORIGINAL, SAME_TOPIC),
    "same topic with titles": (
        f"{ORIGINAL_TITLE}\n\n{ORIGINAL}",
        f"{SAME_TOPIC_TITLE}\n\n{SAME_TOPIC}",
    ),
    "same topic against rewrite": (REWRITE_ADD, SAME_TOPIC),
    "other story": (ORIGINAL, OTHER_STORY),
    "korean same topic": (KO_ORIGINAL, KO_SAME_TOPIC),
    "korean same topic against rewrite": (KO_REWRITE, KO_SAME_TOPIC),
    "english and korean": (ORIGINAL, KO_ORIGINAL),
}


@pytest.mark.parametrize(
    ("original", "rewrite"),
    [(ORIGINAL, REWRITE_CUT), (ORIGINAL, REWRITE_ADD), (KO_ORIGINAL, KO_REWRITE)],
    ids=["cut", "add", "korean"],
)
def test_rewrite_fixtures_are_light_edits(original: str, rewrite: str) -> None:
    assert 0.15 <= _changed(original, rewrite) <= 0.25


@pytest.mark.parametrize("pair", SAME_STORY.values(), ids=SAME_STORY.keys())
def test_copies_and_rewrites_share_a_story(pair: tuple[str, str]) -> None:
    a, b = (signature(text) for text in pair)
    assert similarity(a, b) >= THRESHOLD + 0.15  # margin: ~4 standard deviations
    assert _shares_band(a, b)
    assert choose_story(a, [(7, 70, b)]) == 70


@pytest.mark.parametrize("pair", OTHER_STORIES.values(), ids=OTHER_STORIES.keys())
def test_independent_articles_do_not_share_a_story(pair: tuple[str, str]) -> None:
    a, b = (signature(text) for text in pair)
    assert _exact(*pair) < THRESHOLD / 2
    assert similarity(a, b) < THRESHOLD - 0.1
    assert choose_story(a, [(7, 70, b)]) is None


def test_signature_is_deterministic_and_packed() -> None:
    sig = signature(ORIGINAL)
    assert isinstance(sig, bytes)
    assert len(sig) == SIGNATURE_BYTES == NUM_PERM * 4
    assert sig == signature(ORIGINAL)
    assert similarity(sig, sig) == 1.0
    # Case, punctuation, quotes and line breaks are not content.
    assert signature(ORIGINAL.upper().replace("\n\n", " ").replace("'", "\u2019")) == sig


def test_band_hashes_fit_a_signed_bigint() -> None:
    assert BANDS * ROWS == NUM_PERM
    hashes = band_hashes(signature(ORIGINAL))
    assert len(hashes) == BANDS
    assert all(0 <= value < 2**63 for value in hashes)
    assert len(set(hashes)) > BANDS - 2
    assert hashes == band_hashes(signature(ORIGINAL))


def test_korean_text_uses_character_shingles() -> None:
    assert all(" " not in shingle and len(shingle) == 5 for shingle in shingles(KO_ORIGINAL))
    assert all(len(shingle.split()) == 3 for shingle in shingles(ORIGINAL))
    # Spacing differences in Korean do not change the signature.
    assert signature(KO_ORIGINAL.replace(" ", "")) == signature(KO_ORIGINAL)


def test_short_and_empty_texts() -> None:
    assert shingles("") == set()
    assert shingles("?! ...") == set()
    assert shingles("Queen of") == {"queen of"}
    assert shingles("김수현") == {"김수현"}
    empty = signature("")
    assert empty == signature("   ")
    assert len(band_hashes(empty)) == BANDS
    assert similarity(empty, empty) == 0.0
    assert similarity(empty, signature(ORIGINAL)) == 0.0
    assert choose_story(empty, [(1, 10, empty)]) is None
    assert similarity(signature("Kim Soo-hyun"), signature("KIM SOO HYUN")) == 1.0


def test_choose_story_picks_the_most_similar_candidate() -> None:
    sig = signature(ORIGINAL)
    candidates = [
        (1, 10, signature(SAME_TOPIC)),
        (2, 20, signature(REWRITE_CUT)),
        (3, 30, signature(SYNDICATED)),
        (4, 40, signature(OTHER_STORY)),
    ]
    assert choose_story(sig, candidates) == 30
    assert choose_story(sig, reversed(candidates)) == 30
    assert choose_story(sig, candidates[:2]) == 20
    assert choose_story(sig, []) is None
    # Equal similarity: the oldest article wins, whatever the row order.
    twins = [(9, 90, signature(SYNDICATED)), (5, 50, signature(SYNDICATED))]
    assert choose_story(sig, twins) == 50
    assert choose_story(sig, twins[::-1]) == 50


def test_malformed_signatures() -> None:
    sig = signature(ORIGINAL)
    with pytest.raises(SignatureError):
        similarity(sig, b"short")
    with pytest.raises(SignatureError):
        band_hashes(sig + b"x")
    with pytest.raises(SignatureError):
        choose_story(b"", [(1, 10, sig)])
    assert choose_story(sig, [(1, 10, b"broken"), (2, 20, signature(SYNDICATED))]) == 20


def test_content_hash() -> None:
    digest = content_hash(ORIGINAL_TITLE, ORIGINAL)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert content_hash(f"  {ORIGINAL_TITLE} ", ORIGINAL.replace("\n\n", "\n \n")) == digest
    assert content_hash(ORIGINAL_TITLE, ORIGINAL.replace("24.9", "24.8")) != digest
    assert content_hash(ORIGINAL_TITLE + " |", ORIGINAL) != digest
    assert content_hash("a b", "c") != content_hash("a", "b c")
    # NFC and NFD spellings of the same Hangul are the same content.
    decomposed = "\u1100\u1175\u11b7\u1109\u116e\u1112\u1167\u11ab"  # 김수현 as NFD jamo
    assert content_hash("김수현", "") == content_hash(decomposed, "")


_prose = st.lists(
    st.sampled_from(sorted(set(ORIGINAL.split() + SAME_TOPIC.split()))),
    min_size=60,
    max_size=200,
    unique=True,
).map(" ".join)


@given(_prose, _prose)
@settings(max_examples=100, deadline=None)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    sig_a, sig_b = signature(a), signature(b)
    score = similarity(sig_a, sig_b)
    assert 0.0 <= score <= 1.0
    assert score == similarity(sig_b, sig_a)
    assert similarity(sig_a, sig_a) == 1.0


@given(_prose)
@settings(max_examples=50, deadline=None)
def test_appending_boilerplate_keeps_the_story(text: str) -> None:
    copy = "(Photo: tvN) " + text + " Copyright Hallyu Beat. All rights reserved."
    assert similarity(signature(text), signature(copy)) >= THRESHOLD
