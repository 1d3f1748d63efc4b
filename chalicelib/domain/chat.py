"""The chat's rules: LINE message shapes, the guided report's steps and what each accepts. Pure.

The worker (services/chat.py) reads events, calls these and does the I/O; everything here
is decided from its arguments, so every step is unit-tested without LINE or AWS.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from chalicelib.domain import courtesy, languages, messages
from chalicelib.domain.forms import FormDefinition, catalogue, is_plate_code, ward_bounds
from chalicelib.domain.residents import DEFAULT_LANGUAGE, LANGUAGES
from chalicelib.domain.ward import one_line, ward_name, without_controls

# A conversation with no reply for this long is over; the next message starts afresh.
QUIET = timedelta(minutes=30)

# LINE's limits: 5 messages per reply, 13 quick-reply items, 5 000 characters per text.
MAX_MESSAGES = 5
MAX_QUICK_REPLIES = 13
MAX_TEXT_CHARS = 5000

MAX_PHOTOS = 3
MAX_ADDRESS_CHARS = 200
MAX_COMMENT_CHARS = 1000

# Flows and the steps of the report flow, in order.
REPORT = "report"
ASK = "ask"
CATEGORY, KIND, DANGER, PHOTOS, LOCATION, ADDRESS, PLATE, COMMENT, CONFIRM = (
    "category",
    "kind",
    "danger",
    "photos",
    "location",
    "address",
    "plate",  # forms with a number on a plate (a light pole's): asked after the place, optional
    "comment",
    "confirm",
)
OFFERED = "offered"  # ask flow: a person was offered for the question in `data`

# Typed "cancel" in any of our languages (compared after NFKC and lower-casing).
CANCEL_WORDS = frozenset(
    {
        "やめる",
        "やめます",
        "キャンセル",
        "中止",
        "取り消し",
        "とりけし",
        "cancel",
        "取消",
        "取消息",
        "취소",
        "hủy",
        "huỷ",
        "huy",
        "रद्द",
    }
)


def is_cancel(text: str) -> bool:
    return _bare(text) in CANCEL_WORDS


# A greeting alone, and the language it is in (chalicelib/data/courtesy.json): answered with a
# greeting and what to ask, not "we cannot answer that" (compared as CANCEL_WORDS are). An
# English one is anyone's.
GREETING_WORDS = courtesy.GREETINGS


def greeting_language(text: str, resident_language: str) -> str | None:
    """The language to greet back in when `text` is a greeting alone, else None: the greeting's,
    or the resident's for an English one (a Vietnamese resident's "hello" is read in Vietnamese)."""
    language = GREETING_WORDS.get(_bare(text))
    if language is None:
        return None
    if language == "en" or (language == "ja" and resident_language == "ja-easy"):
        return resident_language
    return language


def _bare(text: str) -> str:
    """A short message as compared with a word list: NFKC, lower case, no closing marks."""
    return unicodedata.normalize("NFKC", text).strip().lower().rstrip("。.!！?？~〜")


def is_quiet(updated_at: datetime, now: datetime) -> bool:
    return now - updated_at > QUIET


# --- message shapes ------------------------------------------------------------------------


def text_message(text: str, quick_replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if len(text) > MAX_TEXT_CHARS:
        text = text[: MAX_TEXT_CHARS - 1] + "…"
    message: dict[str, Any] = {"type": "text", "text": text}
    if quick_replies:
        message["quickReply"] = {"items": quick_replies[:MAX_QUICK_REPLIES]}
    return message


def short(label: str) -> str:
    """A label on one line. Never cut: every label is written to fit LINE's 20 characters in
    every language (tests/unit/test_line_limits.py walks them all); one that does not is a bug."""
    return one_line(label)


def postback_item(label: str, data: str, display_text: str | None = None) -> dict[str, Any]:
    # displayText: the tap shows in the chat as if typed, so the resident sees what they chose.
    return {
        "type": "action",
        "action": {
            "type": "postback",
            "label": short(label),
            "data": data,
            "displayText": one_line(display_text or label),
        },
    }


def uri_item(label: str, uri: str) -> dict[str, Any]:
    return {"type": "action", "action": {"type": "uri", "label": short(label), "uri": uri}}


def location_item(label: str) -> dict[str, Any]:
    """Opens LINE's location picker; the choice arrives as a location message."""
    return {"type": "action", "action": {"type": "location", "label": short(label)}}


def camera_items(language: str) -> list[dict[str, Any]]:
    """Camera and camera roll: the photo arrives as an image message."""
    return [
        {
            "type": "action",
            "action": {"type": "camera", "label": short(messages.text("button.camera", language))},
        },
        {
            "type": "action",
            "action": {"type": "cameraRoll", "label": short(messages.text("button.camera_roll", language))},
        },
    ]


def greeting(language: str, settings_data: str) -> list[dict[str, Any]]:
    """The welcome a new follower gets: what the account does, and a button to choose news."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    text = messages.text("greeting.text", language, ward=ward_name(language))
    return [text_message(text, [postback_item(messages.text("greeting.button", language), settings_data)])]


# --- the guided report -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportCategory:
    form: FormDefinition
    kind_property: str  # the required choice besides the place (what kind of problem)
    kinds: tuple[str, ...]
    # The optional number on a plate at the place (a light pole's), which staff find it by: the
    # form's one optional text with an ASCII pattern, as the web form reads it (fields: "code").
    plate_property: str | None = None

    def plate_pattern(self) -> re.Pattern[str]:
        assert self.plate_property
        return re.compile(self.form.schema["properties"][self.plate_property]["pattern"])


@cache
def report_categories() -> tuple[ReportCategory, ...]:
    """The report forms a resident can start from the chat, with the one choice each requires."""
    found = []
    for form in catalogue():
        if not form.is_report:
            continue
        properties = form.schema["properties"]
        choices = [name for name in form.schema.get("required", []) if "enum" in properties.get(name, {})]
        if len(choices) != 1:
            continue  # the chat asks one question besides the place; other report forms are web-only
        plates = [name for name, prop in properties.items() if is_plate_code(name, prop)]
        kinds = tuple(properties[choices[0]]["enum"])
        found.append(ReportCategory(form, choices[0], kinds, plates[0] if len(plates) == 1 else None))
    return tuple(found)


def report_category(form_id: str) -> ReportCategory | None:
    return next((c for c in report_categories() if c.form.id == form_id), None)


def in_ward(latitude: float, longitude: float) -> bool:
    bounds = ward_bounds()
    return (
        bounds["latitude"]["min"] <= latitude <= bounds["latitude"]["max"]
        and bounds["longitude"]["min"] <= longitude <= bounds["longitude"]["max"]
    )


def clean_line(text: str) -> str:
    return one_line(unicodedata.normalize("NFC", text))


def clean_text(text: str) -> str:
    return without_controls(unicodedata.normalize("NFC", text)).strip()


def report_document(data: dict[str, Any]) -> dict[str, Any]:
    """The report form's answers from what the conversation gathered (checked again by the form)."""
    category = report_category(data["form"])
    if category is None:
        raise ValueError(f"not a chat report form: {data['form']!r}")
    location: dict[str, Any] = {}
    if data.get("latitude") is not None:
        location = {"latitude": data["latitude"], "longitude": data["longitude"]}
    if data.get("address"):
        location["address"] = data["address"]
    document: dict[str, Any] = {category.kind_property: data["kind"], "location": location}
    if category.form.urgent_when and isinstance(data.get("dangerous"), bool):
        document[category.form.urgent_when] = data["dangerous"]
    if data.get("photos"):
        document["photos"] = list(data["photos"])
    if data.get("plate") and category.plate_property:
        document[category.plate_property] = data["plate"]
    if data.get("comment"):
        document["description"] = data["comment"]
    return document


def kind_text(form_id: str, kind: str, language: str) -> str:
    """What the resident chose, in their language: the form's own label of that choice (the
    web form shows the same one), as plain text (LINE shows no furigana markup)."""
    category = report_category(form_id)
    if category is None:
        raise ValueError(f"not a chat report form: {form_id!r}")
    texts = category.form.meta["labels"][category.kind_property]["enumLabels"][kind]
    return messages.plain(languages.pick(texts, language) or kind)


def danger_question(form_id: str, language: str) -> str | None:
    """The report form's own danger question (its `urgentWhen` label, as the web form shows
    it), as plain text; None for a form that asks none."""
    category = report_category(form_id)
    if category is None or not category.form.urgent_when:
        return None
    texts = category.form.meta["labels"][category.form.urgent_when]
    return messages.plain(languages.pick(texts, language) or "")


# A yes or a no typed to the report's danger question, in our languages (compared as
# CANCEL_WORDS are), besides the buttons' own labels: a typed "はい" was read as a question.
TYPED_ANSWERS = {
    True: frozenset(
        {
            "はい",
            "うん",
            "ええ",
            "危ない",
            "危険",
            "危険です",
            "あぶない",
            "あぶないです",
            "yes",
            "yeah",
            "yep",
            "y",
            "dangerous",
            "是",
            "是的",
            "有",
            "危险",
            "有危险",
            "예",
            "네",
            "응",
            "위험",
            "위험해요",
            "có",
            "co",
            "nguy hiểm",
            "nguy hiem",
            "हो",
            "ho",
            "खतरा",
            "खतरा छ",
            "khatara",
            "khatra",
        }
    ),
    False: frozenset(
        {
            "いいえ",
            "いや",
            "ううん",
            "大丈夫",
            "だいじょうぶ",
            "危なくない",
            "あぶなくない",
            "no",
            "nope",
            "n",
            "not dangerous",
            "否",
            "不",
            "不是",
            "没有",
            "不危险",
            "아니요",
            "아니오",
            "아뇨",
            "아니",
            "괜찮아요",
            "không",
            "khong",
            "ko",
            "होइन",
            "hoina",
            "छैन",
            "chhaina",
            "chaina",
            "没有危险",
            "不是很危险",
            "it's fine",
            "its fine",
            "not really",
        }
    ),
}


# Where a typed answer's first part ends ("はい、危ないです", "No, it's fine": punctuation, not
# a space: "No lights on the whole street" is no "no"), and the polite endings a word of it may
# carry (大丈夫です).
CLAUSE_END = re.compile(r"[、,，。.!！?？]")
POLITE_END = re.compile(r"(です|だ|よ|요|ạ)$")
# Words that, after a first part, say the other way ("いや、かなり危ないです": いや is no "no"
# there): the answer is then the resident's to give again.
DANGER_WORDS = ("危", "あぶな", "danger", "危险", "위험", "nguy hiểm", "nguy hiem", "खतरा")
SAFE_WORDS = (
    "大丈夫",
    "だいじょうぶ",
    "危なくない",
    "あぶなくない",
    "not dangerous",
    "fine",
    "不危险",
    "괜찮",
    "không nguy",
)


def typed_yes_no(text: str) -> bool | None:
    """A yes (True) or a no (False) typed to a yes/no question, else None: the whole text, or its
    first part ("はい、危ないです", "아니요, 괜찮아요"), politely ended or not, unless the rest says
    the other way (two re-tests: a single word only was read, then a first word alone)."""
    whole = _bare(text)
    first = CLAUSE_END.split(whole, maxsplit=1)[0].strip()
    rest = whole[len(first) :]
    for answer, key in ((True, "button.danger_yes"), (False, "button.danger_no")):
        known = TYPED_ANSWERS[answer] | {_bare(messages.text(key, language)) for language in LANGUAGES}
        if whole in known or POLITE_END.sub("", whole) in known:
            return answer
        if first in known or POLITE_END.sub("", first) in known:
            said_otherwise = any(word in rest for word in (SAFE_WORDS if answer else DANGER_WORDS))
            return None if said_otherwise else answer
        # A first word and what agrees with it ("네 위험해요", "no it's fine"), without a comma.
        word, _, after = whole.partition(" ")
        if word in known and any(said in after for said in (DANGER_WORDS if answer else SAFE_WORDS)):
            return answer
    return None


def report_summary(data: dict[str, Any], language: str) -> str:
    place = data.get("address") or messages.text("report.place_pin", language)
    summary = messages.text(
        "report.confirm",
        language,
        category=messages.text(f"form.{data['form']}", language),
        kind=kind_text(data["form"], data["kind"], language),
        photos=len(data.get("photos") or []),
        place=place,
        comment=data.get("comment") or messages.text("report.no_comment", language),
    )
    if data.get("plate"):
        summary += "\n" + messages.text(
            "report.plate_given", language, label=plate_label(data["form"], language), plate=data["plate"]
        )
    if data.get("dangerous") is True:
        summary += "\n" + messages.text("report.marked_dangerous", language)
    return summary


def plate_label(form_id: str, language: str) -> str:
    """What the form calls its plate's number ("Light pole number"), as plain text."""
    category = report_category(form_id)
    assert category is not None and category.plate_property
    texts = category.form.meta["labels"][category.plate_property]
    return messages.plain(languages.pick(texts, language) or category.plate_property)
