"""Residents who follow the ward on LINE: languages and lifecycle rules."""

from __future__ import annotations

from datetime import timedelta

ACTIVE = "active"
INACTIVE = "inactive"

# How long a resident's record outlives an unfollow (docs/privacy.md): long enough to
# answer a question about a recent request, short enough to hold nothing stale.
RETENTION_AFTER_UNFOLLOW = timedelta(days=30)

DEFAULT_LANGUAGE = "ja"
# ja-easy is やさしい日本語 (plain Japanese), chosen in settings rather than from a profile.
LANGUAGES = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "ne")


def language_from_profile(code: str | None) -> str:
    """Map the language of a LINE profile to one we write in.

    Japanese stays Japanese; any other language we have is used; any language we do not
    have gets English, which more of the ward's foreign residents read than Japanese.
    """
    if not code:
        return DEFAULT_LANGUAGE
    if code in LANGUAGES:
        return code
    base = code.split("-")[0].lower()
    if base == "zh":
        return "zh-Hans"
    for language in LANGUAGES:
        if language.lower() == base:
            return language
    return "en"
