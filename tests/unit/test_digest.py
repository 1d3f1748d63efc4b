"""Rendering of the daily section digest (pure, no I/O)."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pytest

from chalicelib.domain.digest import OVERDUE_LIST_LIMIT, Digest, is_empty, render_digest

BASE = "https://staff.example.jp/prod"
SECTION = {"ja": "清掃事務所", "en": "Sanitation Office"}
DAY = date(2026, 11, 2)  # a Monday


def render(**overrides) -> Digest:
    values = {
        "section_name": SECTION,
        "day": DAY,
        "new_by_form": [
            ("粗大ごみ収集の申込", "Bulky waste collection", 3),
            ("不法投棄の通報", "Illegal dumping report", 2),
            ("区政への意見", "Opinion to the ward", 0),
        ],
        "overdue": [("KTS-2610-7Q4M", "粗大ごみ収集の申込", 6), ("KTS-2610-0ABC", "不法投棄の通報", 12)],
        "reports_by_area": [("青戸", 1), ("金町", 1), ("水元", 0)],
        "console_url": BASE,
    }
    values.update(overrides)
    return render_digest(**values)


class _Structure(HTMLParser):
    """Collects tags, checks nesting, and keeps the text and the links."""

    VOID = {"meta", "br", "hr", "img", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs)["href"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> _Structure:
    parser = _Structure()
    parser.feed(markup)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser


class TestContent:
    def test_subject_counts_new_and_overdue_in_both_languages(self):
        subject = render().subject
        assert subject.startswith("【葛飾区】清掃事務所")
        assert "新着5件" in subject and "期限超過2件" in subject
        assert "Sanitation Office" in subject and "5 new, 2 overdue" in subject
        assert "2026-11-02" in subject and "11月2日" in subject

    def test_text_lists_counts_by_form_japanese_first(self):
        text = render().text
        assert "・粗大ごみ収集の申込: 3件" in text
        assert "・不法投棄の通報: 2件" in text
        assert "- Bulky waste collection: 3" in text
        assert "- Illegal dumping report: 2" in text
        assert "区政への意見" not in text and "Opinion to the ward" not in text  # zero is left out
        assert text.index("新着の受付") < text.index("New since the last digest")
        assert "2026年11月2日（月）" in text and "Monday 2 November 2026" in text

    def test_overdue_longest_wait_first_with_links(self):
        text = render().text
        assert text.index("KTS-2610-0ABC") < text.index("KTS-2610-7Q4M")
        assert "KTS-2610-0ABC 不法投棄の通報（12開庁日経過）" in text
        assert "(12 business days waiting)" in text
        assert f"{BASE}/submissions/KTS-2610-0ABC" in text
        assert f"{BASE}/submissions/KTS-2610-7Q4M" in text

    def test_reports_by_area(self):
        digest = render()
        assert "・青戸: 1件" in digest.text and "・金町: 1件" in digest.text
        assert "水元" not in digest.text
        assert "- 青戸: 1" in digest.text

    def test_links_to_the_staff_console(self):
        structure = parse(render(console_url=BASE + "/").html)
        new = f"{BASE}/submissions?status=received,in_review,needs_info,completed"
        assert set(structure.links) == {
            new,
            f"{BASE}/submissions?overdue=true",
            f"{BASE}/submissions/KTS-2610-7Q4M",
            f"{BASE}/submissions/KTS-2610-0ABC",
        }
        assert new in render().text

    def test_html_is_a_simple_valid_document_in_both_languages(self):
        markup = render().html
        assert markup.startswith('<!DOCTYPE html>\n<html lang="ja">')
        structure = parse(markup)
        assert structure.tags[:4] == ["html", "head", "meta", "meta"]
        assert "script" not in structure.tags and "style" not in structure.tags
        text = "".join(structure.text)
        assert "粗大ごみ収集の申込: 3件" in text and "Bulky waste collection: 3" in text
        assert '<div lang="en">' in markup
        assert text.index("受付状況のお知らせ") < text.index("daily digest")

    def test_a_long_overdue_list_is_cut_with_a_count(self):
        overdue = [(f"KTS-2610-{n:04d}", "粗大ごみ収集の申込", 5) for n in range(OVERDUE_LIST_LIMIT + 7)]
        digest = render(overdue=overdue)
        assert f"期限超過{OVERDUE_LIST_LIMIT + 7}件" in digest.subject
        assert "・ほか7件" in digest.text and "- and 7 more" in digest.text
        assert digest.text.count("/submissions/KTS-") == 2 * OVERDUE_LIST_LIMIT
        assert len(parse(digest.html).links) == 2 * OVERDUE_LIST_LIMIT + 4

    def test_only_receipts_name_submissions(self):
        with pytest.raises(ValueError):
            render(overdue=[("山田太郎 03-1234-5678", "粗大ごみ収集の申込", 5)])
        with pytest.raises(ValueError):
            render(overdue=[("KTS-2610-7Q4M\n", "粗大ごみ収集の申込", 5)])


class TestEscaping:
    EVIL = '<script>alert("x")</script><a href="https://evil.example">&amp;'

    def test_a_malicious_form_title_is_escaped(self):
        digest = render(
            new_by_form=[(self.EVIL, self.EVIL, 1)],
            overdue=[("KTS-2610-7Q4M", self.EVIL, 6)],
            reports_by_area=[(self.EVIL, 1)],
        )
        assert "<script" not in digest.html
        assert 'evil.example"' not in digest.html
        structure = parse(digest.html)
        assert "script" not in structure.tags
        assert all("evil" not in link for link in structure.links)
        # The reader still sees the title as typed: forms, overdue and areas, in ja and en.
        assert "".join(structure.text).count(self.EVIL) == 6
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in digest.html

    def test_section_names_cannot_add_mail_headers(self):
        digest = render(section_name={"ja": "清掃\r\nBcc: all@example.jp", "en": "Sanitation\nX-Evil: 1"})
        assert "\r" not in digest.subject and "\n" not in digest.subject
        assert "清掃 Bcc: all@example.jp" in digest.subject
        assert "<title>" in digest.html and "\nBcc" not in digest.html

    def test_section_name_is_escaped_in_html(self):
        digest = render(section_name={"ja": "<b>課</b>", "en": "<i>Section</i>"})
        assert "&lt;b&gt;課&lt;/b&gt;" in digest.html and "<b>" not in digest.html
        assert "b" not in parse(digest.html).tags

    def test_the_footers_sentences_stay_apart_in_html(self):
        page = render().html
        assert "residents.<br>" in page and "含みません。<br>" in page

    def test_link_attributes_are_escaped(self):
        base = 'https://staff.example.jp/a"onmouseover="x'
        structure = parse(render(console_url=base).html)
        assert f"{base}/submissions?overdue=true" in structure.links
        assert all(tag != "onmouseover" for tag in structure.tags)
        assert 'a"onmouseover' not in render(console_url=base).html

    @pytest.mark.parametrize("base", ["javascript:alert(1)", "ftp://x", "https://ex ample", "https://x\ny"])
    def test_the_console_address_must_be_a_web_url(self, base):
        with pytest.raises(ValueError):
            render(console_url=base)


class TestEmpty:
    def test_nothing_new_and_nothing_overdue_is_empty(self):
        assert is_empty(new_by_form=[], overdue=[])
        assert is_empty(new_by_form=[("粗大ごみ収集の申込", "Bulky waste", 0)], overdue=[])

    def test_anything_new_or_overdue_is_not_empty(self):
        assert not is_empty(new_by_form=[("粗大ごみ収集の申込", "Bulky waste", 1)], overdue=[])
        assert not is_empty(new_by_form=[], overdue=[("KTS-2610-7Q4M", "粗大ごみ収集の申込", 6)])
        assert not is_empty(
            new_by_form=[], overdue=[], handed=[("KTS-2610-7Q4M", "街路灯の球切れ", "Streetlight")]
        )

    def test_bad_counts_are_refused(self):
        with pytest.raises(ValueError):
            is_empty(new_by_form=[("a", "a", -1)], overdue=[])
        with pytest.raises(ValueError):
            render(new_by_form=[("a", "a", "3")])
        with pytest.raises(ValueError):
            render(overdue=[("KTS-2610-7Q4M", "a", True)])

    def test_a_quiet_day_with_only_overdue_still_renders(self):
        digest = render(new_by_form=[], reports_by_area=[])
        assert "新着0件" in digest.subject
        assert "■ 新着の受付: 0件" in digest.text
        assert "地域別の通報" not in digest.text and "Reports by area" not in digest.text
        parse(digest.html)

    def test_the_subject_counts_payments_to_review_only_when_there_are_some(self):
        assert "支払い" not in render().subject and "payments" not in render().subject
        digest = render(new_by_form=[], overdue=[], payments_to_review=3)
        assert "新着0件・期限超過0件・回答あり0件・要確認の支払い3件" in digest.subject
        assert digest.subject.endswith("0 answered, 3 payments to review")
        with pytest.raises(ValueError):
            render(payments_to_review=-1)

    def test_an_english_title_falls_back_to_japanese(self):
        digest = render(new_by_form=[("犬の登録・変更届", "", 2)], section_name={"ja": "生活衛生課"})
        assert "- 犬の登録・変更届: 2" in digest.text
        assert "生活衛生課 digest" in digest.subject


class TestIssue10:
    """Counts that say what they count, English area names, no console: no links, answered and waiting."""

    def test_each_count_says_what_it_counts(self):
        text = render().text
        assert "取り下げ・不受理になったものは含みません" in text
        assert "not counting any since withdrawn or rejected" in text
        assert "longer than the form's target" in text

    def test_area_names_are_english_in_the_english_half(self):
        digest = render(reports_by_area=[("青戸", "Aoto", 2), ("金町", "Kanamachi", 1)])
        english = digest.text.split("-" * 40)[1]
        assert "- Aoto: 2" in english and "- Kanamachi: 1" in english
        assert "青戸" not in english
        assert "・青戸: 2件" in digest.text

    def test_without_a_console_receipts_are_named_without_links(self):
        digest = render(console_url=None)
        assert parse(digest.html).links == []
        assert "http" not in digest.text
        assert "KTS-2610-0ABC" in digest.text
        assert "リンクはありません" in digest.text and "there are no links" in digest.text

    def test_answered_and_waiting_have_sections_of_their_own(self):
        digest = render(
            answered=[("KTS-2610-1111", "粗大ごみ収集の申込", "Bulky waste collection")],
            waiting=[("KTS-2610-2222", "不法投棄の通報", 9, "Illegal dumping report")],
        )
        assert "■ 区民から回答があったもの: 1件" in digest.text
        assert "■ Answered by the resident: 1" in digest.text
        assert "- KTS-2610-1111 Bulky waste collection" in digest.text
        assert "■ Waiting for the resident past the target: 1" in digest.text
        assert "KTS-2610-2222 Illegal dumping report (9 business days waiting)" in digest.text
        assert f"{BASE}/submissions?responded=true" in parse(digest.html).links
        assert "回答あり1件" in digest.subject and "1 answered" in digest.subject
        assert not is_empty(new_by_form=[], overdue=[], answered=[("KTS-2610-1111", "x")])

    def test_the_new_list_link_covers_the_digest_period(self):
        from datetime import UTC, datetime

        digest = render(
            new_since=datetime(2026, 10, 30, 23, 30, tzinfo=UTC),
            new_until=datetime(2026, 11, 1, 23, 30, tzinfo=UTC),
        )
        assert "from=2026-10-31T08:30:00%2B09:00&to=2026-11-02T08:30:00%2B09:00" in digest.text


def test_reports_marked_dangerous_come_first_and_count_in_the_subject():
    digest = render(urgent=[("KTS-2611-9XYZ", "道路・公園の損傷の通報", "Report damage to a road or park")])
    assert "危険の通報1件・新着5件" in digest.subject and ": 1 dangerous, 5 new" in digest.subject
    japanese, english = digest.text.split("-" * 40)
    for half, heading in ((japanese, "危険があるとの通報: 1件"), (english, "Reported as dangerous: 1")):
        assert half.index(heading) < half.index("KTS-2611-9XYZ") < half.index("KTS-2610-7Q4M")
    assert f"{BASE}/submissions?urgent=true&amp;status=in_review,needs_info,received" in digest.html
    assert "危険" not in render().subject and "dangerous" not in render().text
    assert not is_empty(new_by_form=[], overdue=[], urgent=[("KTS-2611-9XYZ", "通報", "Report")])


def test_a_form_handed_over_from_another_section_is_counted_by_its_title():
    """A re-test: a report handed over to sanitation was listed by its raw id in the digest."""
    from types import SimpleNamespace

    from chalicelib.workers.digest import _new_by_form

    rows = _new_by_form("seiso", [SimpleNamespace(form_id="road-park-damage")])
    assert ("道路・公園の損傷の通報", "Report damage to a road or park", 1) in rows
