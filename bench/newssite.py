"""A synthetic K-entertainment news web for the benchmark: the generator of its hosts and pages.

``build_site(pages, seed, now)`` gives N article pages spread over several outlets (virtual
hosts), about 10% of them about *Queen of Tears* and its cast and the rest other
K-entertainment news, each wrapped in the chrome real outlets serve: inline CSS and scripts,
a mega-menu, breadcrumbs, share bar, "also read" boxes, a trending sidebar (which names the
cast on off-topic pages too), related cards, reader comments and a long footer. Every outlet
has robots.txt, an RSS or Atom feed of its latest articles and a sitemap (index -> daily
children, or a news sitemap). Some on-topic stories are syndicated to a second outlet.

The same arguments always give the same bytes, so ``run.py`` can hold the pages in memory
for the extraction bound while this module serves them from another process.

``python bench/newssite.py serve --pages N`` hands the pages to the tests' loopback proxy
(``tests/site/server.py``: crawlers use ``http_proxy=http://127.0.0.1:PORT``, ETag /
Last-Modified / 304, keep-alive, an access log), which serves them from memory, gzipped to
clients that accept it; it prints one JSON line (port, sources, totals) when ready. The
control host ``bench.control`` answers ``/stats`` and ``/reset`` (of the access log), and
``/publish?n=K`` adds K new articles (feeds and sitemaps change accordingly); ``/reserve``
serves feeds and sitemaps again with new bytes and validators but the same entries.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the checkout is not
    sys.path.insert(0, str(ROOT))

from tests.site.server import AccessRecord, FixtureSite, Page  # noqa: E402

ON_TOPIC_SHARE = 0.10
SYNDICATED_SHARE = 0.15  # of on-topic stories, also carried by a second outlet
SPAN_HOURS = 72  # articles are spread over the last three days
FEED_ITEMS = 50
CONTROL_HOST = "bench.control"


# ------------------------------------------------------------------------------ outlets


@dataclass(frozen=True)
class Outlet:
    host: str
    name: str
    language: str
    url_style: str  # "dated" /2026/11/28/slug/, "numeric" /news/123/slug, "query" /view.php?idxno=
    feed_path: str
    feed_kind: str  # "rss" | "atom"
    sitemap_kind: str  # "index" (index -> daily children) | "news" (one news sitemap) | "flat"
    weight: float


OUTLETS: tuple[Outlet, ...] = (
    Outlet("www.kwave-daily.test", "K-Wave Daily", "en", "dated", "/feed/", "rss", "index", 0.24),
    Outlet("hallyuwire.test", "Hallyu Wire", "en", "numeric", "/rss", "rss", "news", 0.18),
    Outlet("www.seoulscreen.test", "Seoul Screen", "en", "dated", "/feed/", "rss", "index", 0.17),
    Outlet("dramabeat.test", "DramaBeat", "en", "numeric", "/feed.atom", "atom", "index", 0.14),
    Outlet("popseoul.test", "PopSeoul", "en", "dated", "/feed/", "rss", "flat", 0.12),
    Outlet(
        "www.yeonye-ilbo.test",
        "연예일보",
        "ko",
        "query",
        "/rss/allArticle.xml",
        "rss",
        "index",
        0.15,
    ),
)


def outlet_sources(outlets: tuple[Outlet, ...] = OUTLETS) -> list[dict[str, object]]:
    """Give one dramawatch ``[[sources]]`` entry per outlet (feeds and sitemap roots)."""
    sources = []
    for outlet in outlets:
        sitemap = (
            "/sitemap_index.xml"
            if outlet.sitemap_kind == "index"
            else ("/news-sitemap.xml" if outlet.sitemap_kind == "news" else "/sitemap.xml")
        )
        sources.append(
            {
                "name": outlet.name,
                "feeds": [f"http://{outlet.host}{outlet.feed_path}"],
                "sitemaps": [f"http://{outlet.host}{sitemap}"],
            }
        )
    return sources


# ------------------------------------------------------------------------------ vocabulary
# Names below are invented, except the watched cast (on-topic pages) and real networks/shows.

OFF_PEOPLE = (
    "Han Seo-yeon",
    "Yoon Tae-ha",
    "Choi Min-jae",
    "Seo Ha-eun",
    "Baek Do-yun",
    "Jung Ye-rin",
    "Oh Ji-hwan",
    "Kang Bo-ra",
    "Shin Woo-seok",
    "Lim Chae-won",
    "Nam Gyu-ri",
    "Hwang In-seong",
    "Ryu Da-bin",
    "Moon Si-woo",
    "Jang Ha-neul",
    "Go Eun-chae",
    "Pyo Jun-ho",
    "Cha Yu-na",
)
GROUPS = ("NOVA9", "Lumina", "STARDUST", "ARC8", "Velvet Bloom", "TEMPO", "Blue Harbor", "XENIA")
OFF_DRAMAS = (
    "Moonlit Courier",
    "The Last Ferry",
    "Salt and Honey",
    "Midnight Pharmacy",
    "Garden of Glass",
    "Second Spring",
    "The Tailor's Daughter",
    "Signal Fire",
    "Harbor Lights",
    "Paper Crown",
)
NETWORKS = ("tvN", "JTBC", "SBS", "KBS2", "MBC", "Netflix", "Disney+", "Coupang Play", "ENA")
SHOWS = ("Running Man", "Knowing Bros", "I Live Alone", "You Quiz on the Block", "Amazing Saturday")
PLACES = ("Seoul", "Busan", "Incheon", "Jeju Island", "Gangneung", "Tokyo", "Bangkok", "Manila")
BRANDS = ("a luxury fashion house", "a skincare label", "a coffee chain", "a sportswear brand")
CAST = ("Kim Soo-hyun", "Kim Ji-won", "Park Sung-hoon", "Kwak Dong-yeon", "Lee Joo-bin")
CAST_SPELLINGS = {
    "Kim Soo-hyun": ("Kim Soo-hyun", "Kim Soo Hyun"),
    "Kim Ji-won": ("Kim Ji-won", "Kim Ji Won"),
    "Park Sung-hoon": ("Park Sung-hoon", "Park Sung Hoon"),
    "Kwak Dong-yeon": ("Kwak Dong-yeon", "Kwak Dong Yeon"),
    "Lee Joo-bin": ("Lee Joo-bin", "Lee Joo Bin"),
}
WRITER = "Park Ji-eun"
ON_DRAMA = "Queen of Tears"

SENTENCES = (
    "{P} is set to return to the small screen in {N}'s upcoming series {D}, the agency confirmed on {DAY}.",
    "According to the production team, filming for {D} wrapped in {PLACE} after {NUM} weeks on location.",
    "The latest episode of {D} recorded an average nationwide rating of {PCT} percent, a personal best for the show.",
    "{P} appeared on {SHOW} and talked about the long hours spent preparing for the role.",
    "Fans gathered outside the venue in {PLACE} hours before the doors opened.",
    "{G} released the music video for their new single at 6 p.m. KST, and it passed {NUM} million views within a day.",
    "In a statement, the agency asked fans to refrain from spreading unconfirmed rumors online.",
    "{P} has been named the new ambassador of {BRAND}, which will launch a campaign next month.",
    "The script reading was attended by the director, the writer and the main cast, including {P} and {P2}.",
    "Industry insiders expect the series to premiere in the second half of the year on {N}.",
    "Viewers praised the chemistry between {P} and {P2}, calling the rooftop scene the highlight of the week.",
    "Tickets for the {PLACE} fan meeting sold out in under {NUM} minutes, according to the organizer.",
    "The drama climbed to number {RANK} on the global non-English chart in its second week.",
    "{P} thanked the staff on social media, sharing photos from the set with a handwritten note.",
    "A representative said the schedule is still being discussed and nothing has been finalized.",
    "Critics pointed to the tight pacing of the middle episodes as the reason for the steady rise in ratings.",
    "{G} will hold a comeback showcase in {PLACE} on {DAY}, followed by a live broadcast for fans abroad.",
    "The photo shoot, released through a fashion magazine, shows {P} in a series of autumn looks.",
    "During the press conference, the director explained why the story was moved from the countryside to {PLACE}.",
    "The soundtrack, sung by a member of {G}, topped several domestic music charts shortly after release.",
    "{P} donated {NUM} million won to a children's hospital, the foundation revealed on {DAY}.",
    "The cast will reunite for a special episode that looks back at the making of the series.",
    "Overseas streaming numbers suggest the series found a large audience in Southeast Asia and Latin America.",
    "The agency added that {P} will greet fans at a meet-and-greet event after the final broadcast.",
    "Behind-the-scenes footage shows the actors rehearsing the emotional farewell scene several times.",
    "{P} revealed that the character's dialect took months of practice with a coach from {PLACE}.",
    "The production company has reportedly started talks about a second season with {N}.",
    "A spokesperson for {N} said the broadcast would move back by one week because of a live sports event.",
    "The variety appearance drew attention after {P} recounted an awkward first meeting with {P2}.",
    "The album includes {NUM} tracks, with two songs co-written by the members themselves.",
    "Several scenes were shot at a historic village, which has since seen a rise in visitors.",
    "Online communities were quick to share clips of the episode, with some posts drawing thousands of comments.",
    "The awards ceremony will take place in {PLACE} next month, and voting opens on {DAY}.",
    "The actor said in an interview that the project was the most demanding work of the past decade.",
    "Early reviews described the first two episodes as a confident mix of romance and family drama.",
    "The team confirmed that the global tour will add {NUM} more cities after strong demand.",
    "{P2} joined the cast in a supporting role, playing a rival who hides an old secret.",
    "The broadcaster released new stills showing {P} and {P2} on the set of {D}.",
    "On {DAY}, the agency posted a notice about the updated schedule on its official fan community.",
    "The series is written by a screenwriter known for tightly plotted melodramas and directed by a veteran of the genre.",
)
ON_SENTENCES = (
    "{ON_P} drew praise for the performance in {ON_D}, which became one of the most talked-about series of the year.",
    "{ON_D}, written by {WRITER}, follows a chaebol heiress and her husband through a marriage in crisis.",
    "The final episode of {ON_D} recorded a nationwide rating of {PCT} percent, the highest in the channel's history.",
    "{ON_P} and {ON_P2} reunited at a wrap-up gathering, where the cast thanked the crew for months of work.",
    "Fans of {ON_D} flooded social media with clips of {ON_P}'s emotional scenes from the latest episode.",
    "{ON_P} is reportedly reviewing offers for a new project after the success of {ON_D}.",
    "At the awards ceremony, {ON_P} took home a trophy for the role in {ON_D}.",
    "{ON_P2} said in an interview that working with {ON_P} on {ON_D} was a turning point.",
    "Writer {WRITER} said the ending of {ON_D} had been planned from the very first draft.",
    "The fan meeting for {ON_D} in {PLACE} sold out within minutes, the organizer said.",
)

# A small grammar over a few hundred words writes most of each text, so independent articles
# share few word 3-grams (as real ones do) and only syndicated copies look alike to MinHash.
ADJECTIVES = """
bright quiet sudden careful honest playful bitter gentle fierce warm cold early late rare
brave curious famous modest loyal restless tender stubborn cheerful anxious eager calm
wild steady vivid subtle bold humble sharp soft clever polite proud lonely busy lucky
graceful awkward nervous hopeful secret silent crowded empty distant familiar strange
""".split()
NOUNS = """
actor actress singer director writer producer audience crowd reporter critic fan rookie
agency label studio stage screen scene episode season chapter script melody chorus lyric
concert tour album single teaser trailer poster costume makeup camera lighting set
rehearsal interview podcast broadcast premiere finale ending twist flashback romance
rivalry friendship family village harbor rooftop station hospital courtroom office cafe
market festival ceremony trophy ballot ranking chart playlist streaming subtitle dialect
schedule contract debut comeback hiatus enlistment discharge reunion farewell celebration
photo magazine cover campaign brand perfume jacket sneaker umbrella letter notebook diary
umbrella window garden kitchen staircase bridge river mountain island airport airplane
""".split()
VERBS = """
praised captured revealed shared planned delayed rehearsed celebrated recorded filmed
announced confirmed denied teased discussed reviewed welcomed surprised inspired moved
described remembered explained joked admitted promised answered questioned chose changed
followed joined left visited thanked greeted supported trained prepared finished started
""".split()
ADVERBS = """
quietly openly briefly warmly eagerly finally suddenly carefully proudly nervously gladly
repeatedly recently reportedly cautiously happily honestly simply clearly
""".split()
PREPOSITIONS = "after before during despite beyond near inside behind across around".split()
KO_NOUNS = """
배우 가수 감독 작가 제작진 관객 팬 기자 평론가 신인 소속사 무대 장면 회차 시즌 대본 노래 공연
투어 앨범 예고편 포스터 의상 카메라 리허설 인터뷰 방송 첫방송 결말 반전 로맨스 우정 가족 마을
항구 옥상 병원 법정 사무실 카페 시장 축제 시상식 트로피 순위 차트 자막 사투리 일정 계약 데뷔
컴백 휴식 입대 전역 재회 작별 화보 잡지 표지 광고 브랜드 향수 재킷 우산 편지 일기 정원 부엌
""".split()
KO_VERBS = """
공개했다 전했다 밝혔다 준비했다 연습했다 촬영했다 기록했다 발표했다 확인했다 부인했다 설명했다
약속했다 응원했다 감사했다 방문했다 시작했다 마무리했다 선택했다 기억했다 소개했다
""".split()
KO_ADVERBS = "조용히 처음으로 마침내 갑자기 조심스럽게 자랑스럽게 솔직하게 최근 다시 함께".split()


def free_sentence(rng: random.Random, korean: bool) -> str:
    """One sentence from the word grammar (not a template): mostly unique word 3-grams."""
    if korean:
        return (
            f"{rng.choice(KO_NOUNS)}은 {rng.choice(KO_NOUNS)}에서 {rng.choice(KO_ADVERBS)} "
            f"{rng.choice(KO_NOUNS)}와 {rng.choice(KO_NOUNS)}를 {rng.choice(KO_VERBS)}."
        )
    pattern = rng.randint(0, 2)
    a, b, c = rng.sample(NOUNS, 3)
    if pattern == 0:
        text = (
            f"the {rng.choice(ADJECTIVES)} {a} {rng.choice(ADVERBS)} {rng.choice(VERBS)} "
            f"the {rng.choice(ADJECTIVES)} {b} {rng.choice(PREPOSITIONS)} the {c}"
        )
    elif pattern == 1:
        text = (
            f"{rng.choice(PREPOSITIONS)} the {rng.choice(ADJECTIVES)} {a}, the {b} "
            f"{rng.choice(VERBS)} a {rng.choice(ADJECTIVES)} {c} {rng.choice(ADVERBS)}"
        )
    else:
        text = (
            f"one {a} {rng.choice(VERBS)} how the {rng.choice(ADJECTIVES)} {b} and the "
            f"{rng.choice(ADJECTIVES)} {c} {rng.choice(VERBS)} each other {rng.choice(ADVERBS)}"
        )
    return text[0].upper() + text[1:] + "."


KO_OFF_PEOPLE = (
    "한서연",
    "윤태하",
    "최민재",
    "서하은",
    "백도윤",
    "정예린",
    "오지환",
    "강보라",
    "신우석",
)
KO_OFF_DRAMAS = ("달빛 택배", "마지막 배", "소금과 꿀", "한밤의 약국", "유리 정원", "두 번째 봄")
KO_PLACES = ("서울", "부산", "인천", "제주", "강릉", "도쿄", "방콕")
KO_CAST = ("김수현", "김지원", "박성훈", "곽동연", "이주빈")
KO_SENTENCES = (
    "배우 {P}가 {N} 새 드라마 '{D}' 출연을 확정했다고 소속사가 {DAY} 밝혔다.",
    "'{D}'는 지난 방송에서 전국 평균 시청률 {PCT}%를 기록하며 자체 최고 기록을 경신했다.",
    '소속사 관계자는 "일정은 아직 논의 중이며 확정된 것은 없다"고 전했다.',
    "{P}는 최근 예능 프로그램에 출연해 촬영 비하인드를 공개했다.",
    "팬미팅 티켓은 예매 시작 {NUM}분 만에 전석 매진됐다.",
    "그룹 {G}는 {DAY} 오후 6시 새 싱글을 발표하고 본격적인 활동에 나선다.",
    "제작진은 {PLACE}에서 {NUM}주 동안 촬영을 진행했다고 밝혔다.",
    "{P}는 개인 SNS를 통해 촬영장 사진과 함께 스태프들에게 감사 인사를 전했다.",
    "이번 작품은 글로벌 비영어 부문 차트에서 {RANK}위에 올랐다.",
    "{P}와 {P2}의 호흡에 대한 시청자들의 호평이 이어지고 있다.",
    "방송사 측은 스포츠 중계로 인해 방송이 한 주 연기된다고 공지했다.",
    "해당 장면은 온라인 커뮤니티를 중심으로 빠르게 확산됐다.",
)
KO_ON_SENTENCES = (
    "'{ON_D}'에 출연한 {ON_P}가 종영 소감을 전했다.",
    "{ON_P}와 {ON_P2}는 '{ON_D}' 종방연에서 스태프들에게 감사 인사를 건넸다.",
    "'{ON_D}' 최종회는 전국 평균 시청률 {PCT}%로 채널 역대 최고 기록을 세웠다.",
    "{ON_P}는 '{ON_D}'의 흥행 이후 차기작을 검토 중인 것으로 알려졌다.",
    "박지은 작가는 '{ON_D}'의 결말이 처음부터 정해져 있었다고 말했다.",
)
KO_ON_DRAMA = "눈물의 여왕"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KO_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")

TITLES = (
    "{P} confirmed for {N} series '{D}'",
    "'{D}' hits a new ratings high in its {ORD} week",
    "{G} announces comeback date and tour in {PLACE}",
    "{P} opens up about preparing for '{D}' on {SHOW}",
    "{P} and {P2} spotted filming '{D}' in {PLACE}",
    "{P} named global ambassador of {BRAND}",
    "{G}'s new single passes {NUM} million views in a day",
    "Script reading photos of '{D}' with {P} and {P2} released",
    "{N} confirms second season talks for '{D}'",
    "Behind the scenes of '{D}': {P} rehearses the finale",
)
ON_TITLES = (
    "{ON_P} shares thoughts after '{ON_D}' finale",
    "'{ON_D}' sets a new ratings record for {N}",
    "{ON_P} and {ON_P2} reunite at '{ON_D}' wrap-up dinner",
    "{ON_P} reviewing new offers after '{ON_D}'",
    "Writer {WRITER} explains the ending of '{ON_D}'",
    "'{ON_D}' fan meeting in {PLACE} sells out in minutes",
)
KO_TITLES = (
    "{P}, 새 드라마 '{D}' 출연 확정",
    "'{D}', 자체 최고 시청률 {PCT}% 경신",
    "그룹 {G}, {PLACE}에서 컴백 쇼케이스 개최",
    "{P}·{P2}, '{D}' 촬영 현장 포착",
)
KO_ON_TITLES = (
    "{ON_P}, '{ON_D}' 종영 소감 \"잊지 못할 작품\"",
    "'{ON_D}' 최종회 시청률 {PCT}%…역대 최고",
    "{ON_P}·{ON_P2}, '{ON_D}' 종방연 참석",
)
COMMENTS = (
    "Can't wait for this!! Counting down the days.",
    "The acting in the last episode was on another level.",
    "Honestly the OST is the best part.",
    "Who else rewatched the finale three times?",
    "I hope they announce international dates soon.",
    "Still not over Kim Soo-hyun in Queen of Tears, nothing compares.",
    "Kim Ji-won deserves every award this year.",
    "This agency never tells fans anything until the last minute.",
    "Ratings are going to explode next week, mark my words.",
    "Please sub this quickly, international fans are waiting!",
)
KO_COMMENTS = (
    "벌써부터 기대돼요!",
    "연기 정말 최고였어요.",
    "OST가 너무 좋아요.",
    "눈물의 여왕 김수현 같은 작품 또 나왔으면.",
    "해외 팬들도 응원합니다.",
)
SECTIONS = (
    "K-Drama",
    "K-Pop",
    "Movies",
    "Variety",
    "Music",
    "Fashion",
    "Interviews",
    "Reviews",
    "Box Office",
    "Awards",
    "Photos",
    "Videos",
    "Webtoon",
    "Ratings",
    "Features",
    "Trending",
)


# ------------------------------------------------------------------------------ model


@dataclass
class ArticleSpec:
    """One generated article page (``on_topic``: its own title and text name the cast)."""

    index: int
    outlet: Outlet
    path: str
    title: str
    paragraphs: list[str]
    published: datetime
    on_topic: bool
    author: str
    story: int  # syndicated copies share it
    html: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.outlet.host}{self.path}"


@dataclass
class Resource:
    body: bytes
    content_type: str
    kind: str  # article | feed | sitemap | robots
    last_modified: datetime
    etag: str = ""

    def __post_init__(self) -> None:
        self.etag = '"' + hashlib.sha1(self.body, usedforsecurity=False).hexdigest()[:24] + '"'


@dataclass
class Site:
    now: datetime
    seed: int
    articles: list[ArticleSpec] = field(default_factory=list)
    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)

    @property
    def on_topic(self) -> int:
        return sum(1 for a in self.articles if a.on_topic)


# ------------------------------------------------------------------------------ text


class _Writer:
    """Fills sentence templates from the vocabulary with one seeded RNG per page."""

    def __init__(self, rng: random.Random, on_topic: bool, korean: bool) -> None:
        self.rng = rng
        self.on_topic = on_topic
        self.korean = korean
        cast = list(KO_CAST if korean else CAST)
        rng.shuffle(cast)
        self.cast = cast
        pool = KO_OFF_PEOPLE if korean else OFF_PEOPLE
        self.people = rng.sample(pool, 2)
        self.drama = rng.choice(KO_OFF_DRAMAS if korean else OFF_DRAMAS)

    def _spell(self, name: str) -> str:
        return self.rng.choice(CAST_SPELLINGS[name]) if name in CAST_SPELLINGS else name

    def fill(self, template: str) -> str:
        rng = self.rng
        korean = self.korean
        values = {
            "P": self.people[0],
            "P2": self.people[1],
            "D": self.drama,
            "G": rng.choice(GROUPS),
            "N": rng.choice(NETWORKS),
            "SHOW": rng.choice(SHOWS),
            "PLACE": rng.choice(KO_PLACES if korean else PLACES),
            "BRAND": rng.choice(BRANDS),
            "DAY": rng.choice(KO_WEEKDAYS if korean else WEEKDAYS),
            "NUM": str(rng.randint(2, 90)),
            "PCT": f"{rng.uniform(3, 25):.1f}",
            "RANK": str(rng.randint(1, 10)),
            "ORD": rng.choice(("second", "third", "fourth", "fifth")),
            "ON_P": self._spell(self.cast[0]),
            "ON_P2": self._spell(self.cast[1]),
            "ON_D": KO_ON_DRAMA if korean else ON_DRAMA,
            "WRITER": WRITER,
        }
        return template.format(**values)

    def title(self) -> str:
        if self.korean:
            pool = KO_ON_TITLES if self.on_topic else KO_TITLES
        else:
            pool = ON_TITLES if self.on_topic else TITLES
        return self.fill(self.rng.choice(pool))

    def paragraphs(self) -> list[str]:
        rng = self.rng
        base = KO_SENTENCES if self.korean else SENTENCES
        topical = KO_ON_SENTENCES if self.korean else ON_SENTENCES
        count = rng.randint(7, 13)
        out = []
        for number in range(count):
            sentences = []
            for position in range(rng.randint(3, 6)):
                use_topic = self.on_topic and position == 0 and (number == 0 or rng.random() < 0.3)
                if use_topic or (position == 0 and rng.random() < 0.6):
                    sentences.append(self.fill(rng.choice(topical if use_topic else base)))
                else:
                    sentences.append(free_sentence(rng, self.korean))
            out.append(" ".join(sentences))
        return out


def _slug(title: str, index: int) -> str:
    words = "".join(c.lower() if c.isascii() and c.isalnum() else " " for c in title).split()
    return "-".join(words[:9]) or f"article-{index}"


def _path(outlet: Outlet, index: int, title: str, published: datetime) -> str:
    if outlet.url_style == "dated":
        return f"/{published:%Y/%m/%d}/{_slug(title, index)}-{index}/"
    if outlet.url_style == "numeric":
        return f"/news/{100000 + index}/{_slug(title, index)}"
    return f"/news/articleView.html?idxno={300000 + index}"


def build_site(pages: int, seed: int = 20241129, now: datetime | None = None) -> Site:
    """Give the site: ``pages`` article pages plus feeds, sitemaps and robots.txt."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    site = Site(now=now, seed=seed)
    weights = [o.weight for o in OUTLETS]
    # Publication times, oldest first, so a page's index follows its age.
    offsets = sorted((rng.uniform(0, SPAN_HOURS * 3600) for _ in range(pages)), reverse=True)
    index = 0
    story = 0
    while index < pages:
        published = now - timedelta(seconds=offsets[index])
        outlet = rng.choices(OUTLETS, weights)[0]
        on_topic = rng.random() < ON_TOPIC_SHARE
        page_rng = random.Random(seed * 1_000_003 + index)
        writer = _Writer(page_rng, on_topic, outlet.language == "ko")
        title = writer.title()
        paragraphs = writer.paragraphs()
        author = page_rng.choice(("Hana Lee", "Minji Park", "Jae Kim", "Sora Choi", "Daniel Yoo"))
        if outlet.language == "ko":
            author = page_rng.choice(("김하나 기자", "이수진 기자", "박준영 기자"))
        spec = ArticleSpec(
            index,
            outlet,
            _path(outlet, index, title, published),
            title,
            paragraphs,
            published,
            on_topic,
            author,
            story,
        )
        site.articles.append(spec)
        index += 1
        if (
            on_topic
            and index < pages
            and outlet.language == "en"
            and rng.random() < SYNDICATED_SHARE
        ):
            # A syndicated copy on another English outlet, an hour or two later, lightly edited.
            other = rng.choice([o for o in OUTLETS if o.language == "en" and o is not outlet])
            copy_paragraphs = list(paragraphs)
            copy_paragraphs.append(f"This article was originally published by {outlet.name}.")
            copy = ArticleSpec(
                index,
                other,
                _path(other, index, title, published),
                title,
                copy_paragraphs,
                published + timedelta(hours=1),
                True,
                author,
                story,
            )
            site.articles.append(copy)
            index += 1
        story += 1
    headlines = [a for a in site.articles]
    for spec in site.articles:
        spec.html = render_article(spec, headlines, random.Random(seed + 7 * spec.index))
        site.resources[(spec.outlet.host, spec.path)] = Resource(
            spec.html.encode("utf-8"), "text/html; charset=utf-8", "article", spec.published
        )
    _add_discovery(site)
    return site


# ------------------------------------------------------------------------------ chrome


def _css(outlet: Outlet) -> str:
    rules = []
    for number, section in enumerate(SECTIONS * 4):
        key = section.lower().replace(" ", "-").replace("-", "")
        rules.append(
            f".sec-{key}-{number} .card__title{{font:600 {14 + number % 6}px/1.35 'Noto Sans KR',"
            f"system-ui,sans-serif;color:#{(number * 2654435761) % 0xFFFFFF:06x};margin:0 0 {number % 9}px}}"
        )
    rules.append("@media (max-width:768px){.sidebar{display:none}.site-nav ul{flex-wrap:wrap}}")
    return "\n".join(rules)


def _scripts(spec: ArticleSpec, headlines: list[ArticleSpec], rng: random.Random) -> str:
    trending = rng.sample(headlines, min(12, len(headlines)))
    state = {
        "page": {"type": "article", "id": spec.index, "section": rng.choice(SECTIONS)},
        "ads": {
            f"slot-{n}": {"sizes": [[300, 250], [728, 90]], "refresh": 30 + n} for n in range(12)
        },
        "trending": [{"id": t.index, "title": t.title, "url": t.url} for t in trending],
        "experiments": {
            f"exp_{n}": rng.choice(("control", "variant_a", "variant_b")) for n in range(20)
        },
    }
    analytics = "".join(
        f"window.__q=window.__q||[];__q.push(['track','{name}',{{v:{n}}}]);"
        for n, name in enumerate(("view", "scroll25", "scroll50", "scroll75", "read", "share") * 8)
    )
    return (
        "<script>window.__STATE__="
        + json.dumps(state, ensure_ascii=False).replace("</", "<\\/")
        + ";</script>\n<script>"
        + analytics
        + "</script>\n"
        '<script async src="/static/js/ads.min.js"></script>\n'
        '<script async src="/static/js/analytics.min.js"></script>\n'
    )


def _nav(outlet: Outlet) -> str:
    items = []
    for section in SECTIONS:
        key = section.lower().replace(" ", "-")
        sub = "".join(
            f'<li><a href="/category/{key}/{name.lower().replace(" ", "-").replace(chr(39), "")}/">{escape(name)}</a></li>'
            for name in (OFF_DRAMAS[:4] if section == "K-Drama" else GROUPS[:4])
        )
        items.append(
            f'<li class="menu-item has-children"><a href="/category/{key}/">{section}</a>'
            f'<ul class="sub-menu">{sub}</ul></li>'
        )
    return (
        f'<header class="site-header"><div class="topbar"><a href="/login/">Sign in</a> '
        f'<a href="/subscribe/">Subscribe</a> <form class="search" action="/search/">'
        f'<input name="q" placeholder="Search {escape(outlet.name)}"></form></div>'
        f'<div class="brand"><a href="/" rel="home"><img src="/static/logo.svg" alt="{escape(outlet.name)}"></a></div>'
        f'<nav class="site-nav" aria-label="Primary"><ul class="menu">{"".join(items)}</ul></nav></header>\n'
    )


def _card(item: ArticleSpec, rng: random.Random) -> str:
    return (
        f'<li class="card sec-{rng.randint(0, 60)}"><a href="{escape(item.url)}">'
        f'<img src="/static/thumbs/{item.index}.jpg" alt="" loading="lazy" width="120" height="80">'
        f'<span class="card__title">{escape(item.title)}</span></a>'
        f'<time datetime="{item.published.isoformat()}">{item.published:%b %d}</time></li>'
    )


def _sidebar(headlines: list[ArticleSpec], rng: random.Random, korean: bool) -> str:
    trending = rng.sample(headlines, min(10, len(headlines)))
    # Sidebars of popular outlets keep naming the show of the moment, on every page.
    famous = [h for h in headlines if h.on_topic][:3]
    most_read = rng.sample(headlines, min(5, len(headlines))) + famous
    label = (
        ("실시간 인기", "많이 본 뉴스", "뉴스레터")
        if korean
        else ("Trending now", "Most read", "Newsletter")
    )
    return (
        '<aside class="sidebar" id="secondary">'
        f'<section class="widget trending"><h3>{label[0]}</h3><ol>'
        + "".join(_card(t, rng) for t in trending)
        + f'</ol></section><section class="widget most-read"><h3>{label[1]}</h3><ul>'
        + "".join(_card(t, rng) for t in most_read)
        + f'</ul></section><section class="widget newsletter"><h3>{label[2]}</h3>'
        "<p>The day's K-drama and K-pop news in your inbox every morning.</p>"
        '<form action="/newsletter/"><input type="email" name="email"><button>Sign up</button></form></section>'
        '<div class="ad ad-300x600" data-slot="slot-3"></div></aside>\n'
    )


def _comments(rng: random.Random, korean: bool) -> str:
    pool = KO_COMMENTS if korean else COMMENTS
    items = []
    for number in range(rng.randint(3, 14)):
        user = f"{rng.choice(('drama', 'kpop', 'hallyu', 'seoul', 'oppa'))}_{rng.choice(('lover', 'fan', 'addict', 'watcher'))}{rng.randint(1, 999)}"
        items.append(
            f'<li class="comment" id="comment-{number}"><div class="comment-author"><img src="/static/avatar.png" alt="">'
            f'<b class="fn">{user}</b> <time>{rng.randint(1, 59)} minutes ago</time></div>'
            f'<div class="comment-content"><p>{escape(rng.choice(pool))}</p></div>'
            f'<div class="reply"><a href="#respond">Reply</a> · <a href="#">Like ({rng.randint(0, 300)})</a></div></li>'
        )
    title = "댓글" if korean else "Comments"
    return (
        f'<section id="comments" class="comments-area"><h2 class="comments-title">{title} ({len(items)})</h2>'
        f'<ol class="comment-list">{"".join(items)}</ol>'
        '<div id="respond"><form action="/wp-comments-post.php"><textarea name="comment"></textarea>'
        "<button>Post comment</button></form></div></section>\n"
    )


def _footer(outlet: Outlet) -> str:
    links = "".join(
        f'<li><a href="/{slug}/">{slug.replace("-", " ").title()}</a></li>'
        for slug in (
            "about-us",
            "contact",
            "advertise",
            "careers",
            "privacy-policy",
            "terms-of-use",
            "cookie-settings",
            "editorial-guidelines",
            "corrections",
            "rss-feeds",
            "newsletters",
            "app",
            "sitemap",
            "press",
            "partners",
            "community-guidelines",
        )
    )
    sections = "".join(
        f'<li><a href="/category/{s.lower().replace(" ", "-")}/">{s}</a></li>' for s in SECTIONS
    )
    return (
        f'<footer class="site-footer"><div class="footer-widgets"><ul>{sections}</ul><ul>{links}</ul></div>'
        f'<div class="social"><a href="https://twitter.test/{outlet.host}">X</a> '
        f'<a href="https://instagram.test/{outlet.host}">Instagram</a> <a href="https://youtube.test/{outlet.host}">YouTube</a></div>'
        f'<p class="copyright">© 2014-2026 {escape(outlet.name)}. All rights reserved. '
        f"Reproduction without permission is prohibited.</p></footer>\n"
    )


def render_article(spec: ArticleSpec, headlines: list[ArticleSpec], rng: random.Random) -> str:
    """Give one article page: real-looking chrome around the story's own title and text."""
    outlet = spec.outlet
    korean = outlet.language == "ko"
    others = [
        h for h in headlines if h.outlet is outlet and h.index != spec.index and not h.on_topic
    ]
    others = others or [h for h in headlines if h.index != spec.index] or [spec]
    related = rng.sample(others, min(6, len(others)))
    iso = spec.published.isoformat()
    description = spec.paragraphs[0][:155]
    json_ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": spec.title,
            "datePublished": iso,
            "dateModified": iso,
            "author": {"@type": "Person", "name": spec.author},
            "publisher": {"@type": "Organization", "name": outlet.name},
            "mainEntityOfPage": spec.url,
        },
        ensure_ascii=False,
    )
    body = []
    for number, paragraph in enumerate(spec.paragraphs):
        body.append(f"<p>{escape(paragraph)}</p>")
        if number == 1:
            body.append(
                f'<figure class="wp-block-image"><img src="/static/photos/{spec.index}.jpg" alt="" width="800" height="533">'
                f"<figcaption>{'사진 제공' if korean else 'Photo'}: {escape(outlet.name)}</figcaption></figure>"
            )
        if number == 3 and len(related) > 1:
            also = related[0]
            body.append(
                f'<div class="also-read"><strong>{"함께 보면 좋은 기사" if korean else "Also read"}:</strong> '
                f'<a href="{escape(also.url)}">{escape(also.title)}</a></div>'
            )
        if number == 5:
            body.append('<div class="ad ad-inarticle" data-slot="slot-7"></div>')
    tags = " ".join(
        f'<a href="/tag/{t.lower()}/" rel="tag">{t}</a>' for t in rng.sample(SECTIONS, 4)
    )
    share = "".join(
        f'<a class="share share-{n}" href="https://{n}.test/share?u={escape(spec.url)}">{n.title()}</a>'
        for n in ("facebook", "x", "whatsapp", "kakao", "line", "email")
    )
    title_suffix = f" | {outlet.name}" if not korean else f" - {outlet.name}"
    lang = "ko" if korean else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(spec.title + title_suffix)}</title>"
        f'<meta name="description" content="{escape(description)}">'
        f'<link rel="canonical" href="{escape(spec.url)}">'
        f'<meta property="og:type" content="article"><meta property="og:title" content="{escape(spec.title)}">'
        f'<meta property="og:url" content="{escape(spec.url)}"><meta property="og:site_name" content="{escape(outlet.name)}">'
        f'<meta property="og:image" content="http://{outlet.host}/static/photos/{spec.index}.jpg">'
        f'<meta property="article:published_time" content="{iso}">'
        f'<meta name="author" content="{escape(spec.author)}">'
        f'<script type="application/ld+json">{json_ld}</script>'
        f"<style>{_css(outlet)}</style>\n"
        f"{_scripts(spec, headlines, rng)}</head>\n"
        f'<body class="post-template-default single single-post postid-{spec.index}">'
        '<div id="cookie-notice" role="dialog"><p>We use cookies to personalise content and ads and '
        "to analyse our traffic.</p><button>Accept all</button></div>\n"
        f"{_nav(outlet)}"
        f'<div id="content" class="site-content"><main id="primary" class="site-main">'
        f'<nav class="breadcrumbs"><a href="/">{"홈" if korean else "Home"}</a> › '
        f'<a href="/category/k-drama/">K-Drama</a></nav>'
        f'<article id="post-{spec.index}" class="post type-post status-publish">'
        f'<header class="entry-header"><h1 class="entry-title">{escape(spec.title)}</h1>'
        f'<div class="entry-meta"><span class="byline">{"" if korean else "By "}'
        f'<a class="author" href="/author/{spec.index % 17}/">{escape(spec.author)}</a></span> '
        f'<time class="entry-date published" datetime="{iso}">{spec.published:%B %d, %Y %H:%M}</time></div>'
        f'<div class="share-bar">{share}</div></header>\n'
        f'<div class="entry-content">{"".join(body)}</div>\n'
        f'<footer class="entry-footer"><span class="tags-links">{tags}</span></footer></article>\n'
        f'<section class="related-posts"><h2>{"관련 기사" if korean else "Related stories"}</h2><ul>'
        + "".join(_card(r, rng) for r in related)
        + "</ul></section>\n"
        + _comments(rng, korean)
        + "</main>\n"
        + _sidebar(headlines, rng, korean)
        + "</div>\n"
        + _footer(outlet)
        + "</body></html>\n"
    )


# ------------------------------------------------------------------------------ discovery


def _rss(outlet: Outlet, items: list[ArticleSpec], built: datetime) -> str:
    entries = "".join(
        f"<item><title>{escape(a.title)}</title><link>{escape(a.url)}</link>"
        f'<guid isPermaLink="true">{escape(a.url)}</guid>'
        f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate>"
        f"<dc:creator>{escape(a.author)}</dc:creator>"
        f"<description>{escape(a.paragraphs[0][:300])}</description></item>\n"
        for a in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(outlet.name)}</title><link>http://{outlet.host}/</link>"
        f"<description>Latest news from {escape(outlet.name)}</description>"
        f"<lastBuildDate>{format_datetime(built, usegmt=True)}</lastBuildDate>\n{entries}</channel></rss>\n"
    )


def _atom(outlet: Outlet, items: list[ArticleSpec], built: datetime) -> str:
    entries = "".join(
        f'<entry><title>{escape(a.title)}</title><link rel="alternate" href="{escape(a.url)}"/>'
        f"<id>{escape(a.url)}</id><published>{a.published.isoformat()}</published>"
        f"<updated>{a.published.isoformat()}</updated><author><name>{escape(a.author)}</name></author>"
        f"<summary>{escape(a.paragraphs[0][:300])}</summary></entry>\n"
        for a in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(outlet.name)}</title><id>http://{outlet.host}/</id>"
        f'<link rel="self" href="http://{outlet.host}{outlet.feed_path}"/>'
        f"<updated>{built.isoformat()}</updated>\n{entries}</feed>\n"
    )


def _urlset(items: list[ArticleSpec], news: bool, outlet: Outlet) -> str:
    if news:
        urls = "".join(
            f"<url><loc>{escape(a.url)}</loc><news:news><news:publication>"
            f"<news:name>{escape(outlet.name)}</news:name><news:language>{outlet.language}</news:language>"
            f"</news:publication><news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(a.title)}</news:title></news:news></url>\n"
            for a in items
        )
        namespace = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    else:
        urls = "".join(
            f"<url><loc>{escape(a.url)}</loc><lastmod>{a.published.isoformat()}</lastmod></url>\n"
            for a in items
        )
        namespace = ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{namespace}>\n{urls}</urlset>\n'
    )


def _add_discovery(site: Site) -> None:
    """(Re)build robots.txt, feeds and sitemaps of every outlet from its articles."""
    for outlet in OUTLETS:
        mine = sorted((a for a in site.articles if a.outlet is outlet), key=lambda a: a.published)
        latest = mine[-1].published if mine else site.now
        host = outlet.host
        add = site.resources.__setitem__
        sitemap_root = (
            "/sitemap_index.xml"
            if outlet.sitemap_kind == "index"
            else "/news-sitemap.xml"
            if outlet.sitemap_kind == "news"
            else "/sitemap.xml"
        )
        robots = (
            f"User-agent: *\nDisallow: /wp-admin/\nDisallow: /search/\n"
            f"Sitemap: http://{host}{sitemap_root}\n"
        )
        add(
            (host, "/robots.txt"),
            Resource(robots.encode(), "text/plain; charset=utf-8", "robots", site.now),
        )
        newest = list(reversed(mine[-FEED_ITEMS:]))
        if outlet.feed_kind == "atom":
            feed, ctype = _atom(outlet, newest, latest), "application/atom+xml; charset=utf-8"
        else:
            feed, ctype = _rss(outlet, newest, latest), "application/rss+xml; charset=utf-8"
        add((host, outlet.feed_path), Resource(feed.encode(), ctype, "feed", latest))
        xml = "application/xml; charset=utf-8"
        if outlet.sitemap_kind == "index":
            days: dict[str, list[ArticleSpec]] = {}
            for article in mine:
                days.setdefault(f"{article.published:%Y-%m-%d}", []).append(article)
            children = []
            for day, items in sorted(days.items()):
                path = f"/sitemap-posts-{day}.xml"
                modified = items[-1].published
                add(
                    (host, path),
                    Resource(_urlset(items, False, outlet).encode(), xml, "sitemap", modified),
                )
                children.append(
                    f"<sitemap><loc>http://{host}{path}</loc><lastmod>{modified.isoformat()}</lastmod></sitemap>"
                )
            index = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                + "\n".join(children)
                + "\n</sitemapindex>\n"
            )
            add((host, sitemap_root), Resource(index.encode(), xml, "sitemap", latest))
        else:
            body = _urlset(mine, outlet.sitemap_kind == "news", outlet)
            add((host, sitemap_root), Resource(body.encode(), xml, "sitemap", latest))


def publish(site: Site, count: int, at: datetime) -> list[ArticleSpec]:
    """Add ``count`` new articles published at ``at`` and rebuild feeds and sitemaps."""
    rng = random.Random(site.seed + len(site.articles))
    added = []
    for _ in range(count):
        index = len(site.articles)
        outlet = rng.choices(OUTLETS, [o.weight for o in OUTLETS])[0]
        on_topic = rng.random() < ON_TOPIC_SHARE
        page_rng = random.Random(site.seed * 1_000_003 + index)
        writer = _Writer(page_rng, on_topic, outlet.language == "ko")
        title = writer.title()
        spec = ArticleSpec(
            index,
            outlet,
            _path(outlet, index, title, at),
            title,
            writer.paragraphs(),
            at,
            on_topic,
            "Hana Lee",
            10_000_000 + index,
        )
        spec.html = render_article(spec, site.articles, random.Random(site.seed + 7 * index))
        site.articles.append(spec)
        site.resources[(outlet.host, spec.path)] = Resource(
            spec.html.encode("utf-8"), "text/html; charset=utf-8", "article", at
        )
        added.append(spec)
    _add_discovery(site)
    return added


def reserve(site: Site, at: datetime) -> int:
    """Give every feed and sitemap new bytes and validators but no new entry; gives how many.

    A regenerated ``<lastBuildDate>``, say, as live outlets serve between two crawls.
    """
    stamp = f"<!-- served {at.isoformat()} -->\n".encode()
    touched = 0
    for key, resource in list(site.resources.items()):
        if resource.kind in ("feed", "sitemap"):
            # a new ETag, from the new bytes (Resource.__post_init__)
            site.resources[key] = replace(resource, body=resource.body + stamp, last_modified=at)
            touched += 1
    return touched


# ------------------------------------------------------------------------------ serving


def site_stats(records: Iterable[AccessRecord], site: Site) -> dict[str, object]:
    """What the server sent, per kind of resource, from its access log (control host left out)."""
    requests: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    body_bytes: Counter[str] = Counter()
    wire_bytes: Counter[str] = Counter()
    conditional: Counter[str] = Counter()
    fetches: Counter[tuple[str, str]] = Counter()
    for record in records:
        if record.host == CONTROL_HOST:
            continue
        resource = site.resources.get((record.host, record.target))
        kind = resource.kind if resource is not None else "other"
        requests[kind] += 1
        statuses[str(record.status)] += 1
        body_bytes[kind] += record.bytes_sent
        wire_bytes[kind] += record.bytes_sent + record.header_bytes
        if record.if_none_match is not None or record.if_modified_since is not None:
            conditional[kind] += 1
        if kind == "article" and record.status == 200:
            fetches[(record.host, record.target)] += 1
    return {
        "requests": dict(requests),
        "statuses": dict(statuses),
        "body_bytes": dict(body_bytes),
        "wire_bytes": dict(wire_bytes),
        "conditional_requests": dict(conditional),
        "urls_fetched_more_than_once": sum(1 for n in fetches.values() if n > 1),
        "total_requests": sum(requests.values()),
        "total_wire_bytes": sum(wire_bytes.values()),
    }


class BenchSite:
    """The generated site on the fixture server (tests/site/server.py), with its control host.

    ``bench.control`` answers ``/stats`` and ``/reset`` (of the access log), ``/publish?n=K``
    and ``/reserve``; every change of the generated site is handed to the server again.
    """

    def __init__(self, site: Site, port: int) -> None:
        self.site = site
        self.server = FixtureSite(now=site.now, port=port, hosts_dir=None)
        self._served: dict[tuple[str, str], str] = {}
        self._hand_over()
        self.server.add_coded_host(CONTROL_HOST, self.control)

    def _hand_over(self) -> None:
        """Serve every resource the server does not have yet in its current bytes."""
        for (host, path), resource in self.site.resources.items():
            if self._served.get((host, path)) == resource.etag:
                continue
            page = Page(
                resource.body,
                resource.content_type,
                resource.etag,
                resource.last_modified.replace(microsecond=0),
                gzip.compress(resource.body, compresslevel=5, mtime=0),
            )
            self.server.add_page(f"http://{host}{path}", page)
            self._served[(host, path)] = resource.etag

    def control(self, target: str) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        moment = datetime.now(UTC).replace(microsecond=0)
        payload: dict[str, object]
        if parts.path == "/reset":
            self.server.clear_log()
            payload = {"ok": True}
        elif parts.path == "/publish":
            count = int(parse_qs(parts.query).get("n", ["10"])[0])
            added = publish(self.site, count, moment)
            self._hand_over()
            payload = {"added": len(added), "on_topic": sum(a.on_topic for a in added)}
        elif parts.path == "/reserve":
            payload = {"reserved": reserve(self.site, moment)}
            self._hand_over()
        else:
            payload = site_stats(self.server.access_log, self.site)
        return 200, "application/json", json.dumps(payload).encode()


def site_summary(site: Site) -> dict[str, object]:
    articles = [r for r in site.resources.values() if r.kind == "article"]
    return {
        "pages": len(site.articles),
        "on_topic": site.on_topic,
        "stories_on_topic": len({a.story for a in site.articles if a.on_topic}),
        "article_bytes": sum(len(r.body) for r in articles),
        "mean_page_kb": round(sum(len(r.body) for r in articles) / max(1, len(articles)) / 1024, 1),
        "now": site.now.isoformat(),
    }


def _serve(site: Site, port: int) -> None:
    """Serve until SIGTERM or SIGINT; prints one JSON line (port, sources, totals) when ready."""
    bench = BenchSite(site, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with bench.server:
        bound = bench.server.address[1]
        print(
            json.dumps({"port": bound, "sources": outlet_sources(), **site_summary(site)}),
            flush=True,
        )
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("serve", "summary"))
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20241129)
    parser.add_argument("--now", help="ISO 8601 instant the site is generated at (default: now)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else None
    site = build_site(args.pages, args.seed, now)
    if args.command == "summary":
        print(json.dumps(site_summary(site), indent=2))
        return 0
    _serve(site, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
