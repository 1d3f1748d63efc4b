"""News settings in the chat: every choice a tap, each saved at once, "stop all" in one tap.

The same domain rules and the same store as the LIFF settings page, so both always agree
and the send lists are rewritten with the preferences in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.config import get_settings
from chalicelib.domain import chat
from chalicelib.domain import preferences as rules
from chalicelib.domain.digits import whole_number
from chalicelib.domain.forms import areas
from chalicelib.domain.languages import NAMES as LANGUAGE_NAMES  # each in its own name
from chalicelib.domain.residents import LANGUAGES
from chalicelib.observability import logger
from chalicelib.services.chat.turn import Turn
from chalicelib.store import preferences as store

AREAS_PER_PAGE = 11  # + "whole ward" + "more areas" = 13 quick replies, LINE's limit
ALL = "all"  # value for "no area" / "no age band"
NONE = "none"


def show(turn: Turn, note_key: str | None = None) -> None:
    """Where the resident stands, and a button for each thing they can change."""
    stored = store.get(turn.user_id)
    prefs = stored.preferences if stored else rules.Preferences(language=turn.language)
    following = stored.following if stored else False
    lines = [turn.text(note_key)] if note_key else []
    lines.append(
        turn.text(
            "prefs.summary",
            topics=_topic_labels(prefs, turn.language) or turn.text("prefs.none_chosen"),
            area=_area_label(prefs.area, turn.language) if prefs.area else turn.text("button.all_areas"),
            age=turn.text(f"age.{prefs.age_band}") if prefs.age_band else turn.text("prefs.age_unset"),
            language=LANGUAGE_NAMES[prefs.language],
            delivery=turn.text(_delivery_key(prefs, following)),
        )
    )
    buttons = [
        turn.button("button.topics", "prefs.topics"),
        turn.button("button.area", "prefs.area", "0"),
        turn.button("button.age", "prefs.age"),
        turn.button("button.language", "prefs.language"),
    ]
    if prefs.consent is None or not prefs.consent.current:
        lines.append(turn.text("prefs.consent_needed", terms_url=rules.TERMS_URL))
        buttons.insert(0, turn.button("button.consent", "prefs.consent"))
    buttons.append(
        turn.button("button.resume", "prefs.resume")
        if prefs.paused
        else turn.button("button.stop_all", "prefs.stop")
    )
    # The same settings on one page (LIFF), for a resident who prefers a form to taps.
    page = get_settings().liff_link("/settings", turn.language)
    buttons.append(chat.uri_item(turn.text("button.settings_page"), page))
    turn.say_text("\n\n".join(lines), buttons)


def _delivery_key(prefs: rules.Preferences, following: bool) -> str:
    held = rules.holds(prefs, following=following)
    if not held:
        return "prefs.delivery_on"
    if rules.HOLD_PAUSED in held:
        return "prefs.delivery_paused"
    if rules.HOLD_NO_CONSENT in held or rules.HOLD_TERMS_OUTDATED in held:
        return "prefs.delivery_no_consent"
    return "prefs.delivery_no_topics"


def _topic_labels(prefs: rules.Preferences, language: str) -> str:
    separator = "、" if language in ("ja", "ja-easy", "zh-Hans") else ", "
    return separator.join(t.label(language) for t in rules.topics() if t.id in prefs.topics)


def _area_label(area_id: str, language: str) -> str:
    key = "ja" if language in ("ja", "ja-easy", "zh-Hans") else "en"
    return next(area[key] for area in areas() if area["id"] == area_id)


# --- choosing --------------------------------------------------------------------------------


def topics(turn: Turn, _: str = "") -> None:
    stored = store.get(turn.user_id)
    chosen = stored.preferences.topics if stored else frozenset()
    buttons = [
        turn.button_labelled(
            ("✓ " if t.id in chosen else "") + turn.text(f"label.topic.{t.id}"), "prefs.topic", t.id
        )
        for t in rules.topics()
    ]
    buttons.append(turn.button("button.done", "menu.settings"))
    labels = _topic_labels(stored.preferences, turn.language) if stored else ""
    turn.say("prefs.choose_topics", buttons, topics=labels or turn.text("prefs.none_chosen"))


def area_page(turn: Turn, value: str) -> None:
    page = whole_number(value) or 0
    every = areas()
    start = page * AREAS_PER_PAGE
    if start >= len(every):
        start, page = 0, 0
    buttons = [
        turn.button_labelled(_area_label(area["id"], turn.language), "prefs.area_set", area["id"])
        for area in every[start : start + AREAS_PER_PAGE]
    ]
    buttons.append(turn.button("button.all_areas", "prefs.area_set", ALL))
    buttons.append(turn.button("button.more", "prefs.area", str(page + 1)))
    turn.say("prefs.choose_area", buttons)


def ages(turn: Turn, _: str = "") -> None:
    buttons = [turn.button(f"age.{band}", "prefs.age_set", band) for band in rules.AGE_BANDS]
    buttons.append(turn.button("button.age_unset", "prefs.age_set", NONE))
    turn.say("prefs.choose_age", buttons)


def languages(turn: Turn, _: str = "") -> None:
    buttons = [turn.button_labelled(LANGUAGE_NAMES[code], "prefs.language_set", code) for code in LANGUAGES]
    turn.say("prefs.choose_language", buttons)


# --- saving ----------------------------------------------------------------------------------


def _save(
    turn: Turn, change: Callable[[rules.Preferences], rules.Preferences], note_key: str | None = "prefs.saved"
) -> bool:
    """Apply the change; False (and the resident told why) when it cannot be."""
    try:
        stored = store.update(turn.user_id, change, now=turn.now)
    except (rules.InvalidPreferences, rules.TermsChanged):
        # Signed buttons carry only values we offered; one that no longer fits is an old button.
        logger.info("chat preference change refused")
        turn.say("general.not_understood", [turn.button("button.settings", "menu.settings")])
        return False
    except store.Conflict:
        turn.say("prefs.busy", [turn.button("button.settings", "menu.settings")])
        return False
    except store.NotFollowing:
        return False  # they blocked us in between: there is nobody to answer
    turn.language = stored.preferences.language
    return True


def toggle_topic(turn: Turn, topic: str) -> None:
    if _save(turn, lambda prefs: rules.toggle_topic(prefs, topic)):
        topics(turn)


def stop_topic(turn: Turn, topic: str) -> None:
    """The one-tap "stop this topic" under an announcement: off, whatever it was before."""
    if _save(turn, lambda prefs: rules.with_topics(prefs, prefs.topics - {topic})):
        show(turn, "prefs.saved")


def set_area(turn: Turn, area: str) -> None:
    if _save(turn, lambda prefs: rules.with_area(prefs, None if area == ALL else area)):
        show(turn, "prefs.saved")


def set_age(turn: Turn, band: str) -> None:
    if _save(turn, lambda prefs: rules.with_age_band(prefs, None if band == NONE else band)):
        show(turn, "prefs.saved")


def set_language(turn: Turn, language: str) -> None:
    if _save(turn, lambda prefs: rules.with_language(prefs, language)):
        show(turn, "prefs.saved")


def consent(turn: Turn, _: str = "") -> None:
    if _save(turn, lambda prefs: rules.accept_terms(prefs, rules.TERMS_VERSION, turn.now)):
        show(turn, "prefs.consented")


def stop_all(turn: Turn, _: str = "") -> None:
    if _save(turn, rules.stop_all):
        show(turn, "prefs.stopped")


def resume(turn: Turn, _: str = "") -> None:
    if _save(turn, rules.resume):
        show(turn, "prefs.resumed")


ACTIONS: dict[str, Callable[[Turn, str], None]] = {
    "prefs.topics": topics,
    "prefs.topic": toggle_topic,
    "prefs.topic_off": stop_topic,
    "prefs.area": area_page,
    "prefs.area_set": set_area,
    "prefs.age": ages,
    "prefs.age_set": set_age,
    "prefs.language": languages,
    "prefs.language_set": set_language,
    "prefs.consent": consent,
    "prefs.stop": stop_all,
    "prefs.resume": resume,
}
