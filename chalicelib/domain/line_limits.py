"""LINE's documented limits for the fields madoguchi fills, and a checker for message objects. Pure.

From the Messaging API reference (developers.line.biz/en/reference/messaging-api/) and
"Counting characters in text" (developers.line.biz/en/docs/messaging-api/text-character-count/):
text is counted in UTF-16 code units, except the labels and texts of action objects, template
messages and rich menus, which are counted in grapheme clusters. `graphemes()` here counts
code points that start a cluster (combining and spacing marks, variation selectors and
zero-width joiners extend the one before), which is never fewer than LINE's count: a text
that passes here passes there.

The tests walk every text that goes into a LINE object (tests/unit/test_line_limits.py);
code never cuts a label to fit: a label that does not fit is a catalogue bug. At run time the
LINE sandbox (devstack/line_sandbox.py) refuses, as the platform does, whatever is over a limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

TEXT_MESSAGE = 5000  # text message `text` (UTF-16)
ALT_TEXT = 400  # template / flex / imagemap `altText` (UTF-16)
QUICK_REPLY_ITEMS = 13
ACTION_LABEL = 20  # every action's `label` (graphemes); 12 in an image carousel (not used)
DISPLAY_TEXT = 300  # postback `displayText` (graphemes)
POSTBACK_DATA = 300  # postback `data`
MESSAGE_ACTION_TEXT = 300  # message action `text`
URI = 1000  # uri action `uri`
TEMPLATE_TITLE = 40  # buttons / carousel `title`
BUTTONS_TEXT = 160  # buttons template `text` (60 with an image or a title)
BUTTONS_TEXT_WITH_TITLE = 60
CONFIRM_TEXT = 240
CAROUSEL_TEXT = 120  # (60 with an image or a title)
RICH_MENU_NAME = 300
RICH_MENU_CHAT_BAR = 14

_EXTENDING = {"Mn", "Mc", "Me"}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> int:
    """An upper bound of the grapheme clusters in `text` (see the module's docstring)."""
    count = 0
    joined = False
    for char in text:
        if joined or unicodedata.category(char) in _EXTENDING or "\ufe00" <= char <= "\ufe0f":
            joined = False
            continue
        if char == "\u200d":  # ZWJ: the next character joins this cluster
            joined = True
            continue
        count += 1
    return count


def _action_problems(action: dict[str, Any], where: str) -> Iterator[str]:
    label = action.get("label")
    if label is not None and graphemes(label) > ACTION_LABEL:
        yield f"{where}.label has {graphemes(label)} characters (LINE: {ACTION_LABEL}): {label!r}"
    display = action.get("displayText")
    if display is not None and graphemes(display) > DISPLAY_TEXT:
        yield f"{where}.displayText has {graphemes(display)} characters (LINE: {DISPLAY_TEXT})"
    data = action.get("data")
    if data is not None and utf16(data) > POSTBACK_DATA:
        yield f"{where}.data has {utf16(data)} characters (LINE: {POSTBACK_DATA})"
    if action.get("type") == "message" and graphemes(action.get("text") or "") > MESSAGE_ACTION_TEXT:
        yield f"{where}.text is over {MESSAGE_ACTION_TEXT} characters"
    if action.get("type") == "uri" and utf16(action.get("uri") or "") > URI:
        yield f"{where}.uri is over {URI} characters"


def message_problems(message: dict[str, Any], where: str = "message") -> list[str]:
    """Every way one message object breaks LINE's limits for the fields madoguchi uses."""
    found: list[str] = []
    kind = message.get("type")
    if kind == "text" and utf16(message.get("text") or "") > TEXT_MESSAGE:
        found.append(f"{where}.text is over {TEXT_MESSAGE} characters")
    if "altText" in message and utf16(message["altText"]) > ALT_TEXT:
        found.append(f"{where}.altText has {utf16(message['altText'])} characters (LINE: {ALT_TEXT})")
    template = message.get("template")
    if isinstance(template, dict):
        found += _template_problems(template, f"{where}.template")
    items = (message.get("quickReply") or {}).get("items") or []
    if len(items) > QUICK_REPLY_ITEMS:
        found.append(f"{where}.quickReply has {len(items)} items (LINE: {QUICK_REPLY_ITEMS})")
    for index, item in enumerate(items):
        found += _action_problems(item.get("action") or {}, f"{where}.quickReply.items[{index}].action")
    return found


def _template_problems(template: dict[str, Any], where: str) -> list[str]:
    found = []
    title = template.get("title")
    if title is not None and graphemes(title) > TEMPLATE_TITLE:
        found.append(f"{where}.title is over {TEMPLATE_TITLE} characters")
    text = template.get("text") or ""
    limit = {"buttons": BUTTONS_TEXT, "confirm": CONFIRM_TEXT}.get(template.get("type") or "", BUTTONS_TEXT)
    if template.get("type") == "buttons" and (title or template.get("thumbnailImageUrl")):
        limit = BUTTONS_TEXT_WITH_TITLE
    if graphemes(text) > limit:
        found.append(f"{where}.text is over {limit} characters")
    for index, action in enumerate(template.get("actions") or []):
        found += list(_action_problems(action, f"{where}.actions[{index}]"))
    return found


def rich_menu_problems(menu: dict[str, Any]) -> list[str]:
    found = []
    if graphemes(menu.get("name") or "") > RICH_MENU_NAME:
        found.append(f"name is over {RICH_MENU_NAME} characters")
    if graphemes(menu.get("chatBarText") or "") > RICH_MENU_CHAT_BAR:
        found.append(f"chatBarText is over {RICH_MENU_CHAT_BAR} characters: {menu.get('chatBarText')!r}")
    for index, area in enumerate(menu.get("areas") or []):
        found += list(_action_problems(area.get("action") or {}, f"areas[{index}].action"))
    return found
