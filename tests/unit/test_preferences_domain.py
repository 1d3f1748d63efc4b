"""Preferences and consent rules (chalicelib/domain/preferences.py): pure, no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import preferences as rules
from chalicelib.domain.forms import areas
from chalicelib.domain.residents import LANGUAGES
from chalicelib.schemas import load

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
CONSENTED = rules.Preferences(consent=rules.Consent(rules.TERMS_VERSION, NOW - timedelta(days=3)))


def document(**changes):
    base = {
        "topics": ["disaster", "waste"],
        "area": "tateishi",
        "language": "ja",
        "consent": {"termsVersion": rules.TERMS_VERSION},
        "paused": False,
    }
    base.update(changes)
    return base


# --- topics data -----------------------------------------------------------------------------


def test_the_required_topics_exist_with_a_label_in_every_language():
    by_japanese = {topic.labels["ja"]: topic for topic in rules.topics()}
    for name in (
        "防災",
        "子育て",
        "健康・医療",
        "高齢者・介護",
        "ごみ・リサイクル",
        "イベント・文化",
        "税・保険",
        "道路・交通",
        "防犯",
        "外国人向け情報",
    ):
        topic = by_japanese[name]
        assert set(topic.labels) >= set(LANGUAGES)
        assert all(topic.labels[language].strip() for language in LANGUAGES)
    # Labels are real translations, not Japanese copied into every language.
    assert len({topic.label("en") for topic in rules.topics()}) == len(rules.topics())
    assert all(topic.label("en") != topic.label("ja") for topic in rules.topics())


def test_topic_and_area_ids_cannot_collide_with_the_segment_syntax():
    for identifier in (*rules.topic_ids(), *rules.area_ids()):
        assert rules.SEGMENT_SEPARATOR not in identifier
        assert identifier != rules.ALL_AREAS
    assert rules.EVERYONE not in rules.topic_ids()


def test_a_topic_called_like_the_emergency_lists_is_refused(monkeypatch, tmp_path):
    data = {"topics": [{"id": rules.EVERYONE, "labels": {language: "x" for language in LANGUAGES}}]}
    (tmp_path / "topics.json").write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(rules, "DATA_DIR", tmp_path)
    rules.topics.cache_clear()
    try:
        with pytest.raises(rules.TopicsError, match="reserved"):
            rules.topics()
    finally:
        rules.topics.cache_clear()


def test_the_schema_offers_the_same_languages_and_age_bands_as_the_domain():
    schema = load("preferences")["properties"]
    assert tuple(schema["language"]["enum"]) == LANGUAGES
    assert tuple(band for band in schema["ageBand"]["enum"] if band is not None) == rules.AGE_BANDS


# --- age bands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [
        (2026, "0-19"),
        (2007, "0-19"),  # 19 this year
        (2006, "20-29"),  # 20 this year
        (1997, "20-29"),
        (1996, "30-39"),
        (1957, "60-69"),  # 69
        (1956, "70+"),  # 70
        (1900, "70+"),
        (1990.0, "30-39"),  # an integer to JSON Schema, which passed it: not "out of range"
    ],
)
def test_age_band_edges(birth_year, band):
    assert rules.age_band(birth_year, 2026) == band


@pytest.mark.parametrize("birth_year", [1899, 2027, True, 1990.5, "1990"])
def test_impossible_birth_years_are_refused(birth_year):
    with pytest.raises(rules.InvalidPreferences) as error:
        rules.age_band(birth_year, 2026)
    [problem] = error.value.problems
    assert problem.pointer == "/birthYear"
    assert "1900" in problem.message.render("ja") and "2026" in problem.message.render("en")


def test_the_band_follows_the_year_in_tokyo_not_utc():
    new_year_in_tokyo = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # 2027-01-01 00:30 JST
    assert rules.tokyo_year(new_year_in_tokyo) == 2027
    prefs = rules.with_birth_year(rules.Preferences(), 2007, new_year_in_tokyo)
    assert prefs.age_band == "20-29"
    assert rules.with_birth_year(
        rules.Preferences(), 2007, new_year_in_tokyo - timedelta(hours=1)
    ).age_band == ("0-19")


def test_a_birth_year_never_reaches_the_stored_shape():
    prefs = rules.from_document(document(birthYear=1984), rules.Preferences(), NOW)
    shape = rules.to_document(prefs)
    assert shape["ageBand"] == "40-49"
    assert "1984" not in json.dumps(rules.view(prefs, following=True))
    assert "birthYear" not in shape


# --- segments --------------------------------------------------------------------------------


def test_one_segment_per_topic_in_the_residents_area():
    prefs = rules.from_document(document(), rules.Preferences(), NOW)
    assert rules.segments(prefs, following=True) == {"disaster#tateishi", "waste#tateishi", "all#tateishi"}


def test_no_area_means_the_all_areas_list():
    prefs = rules.from_document(document(area=None), rules.Preferences(), NOW)
    assert rules.segments(prefs, following=True) == {"disaster#*", "waste#*", "all#*"}


@pytest.mark.parametrize(
    ("prefs", "holds"),
    [
        (rules.Preferences(topics=frozenset({"disaster"})), [rules.HOLD_NO_CONSENT]),
        (
            rules.Preferences(topics=frozenset({"disaster"}), consent=rules.Consent("2019-01-01", NOW)),
            [rules.HOLD_TERMS_OUTDATED],
        ),
        (rules.stop_all(rules.with_topics(CONSENTED, ["disaster"])), [rules.HOLD_PAUSED]),
        (rules.stop_all(CONSENTED), [rules.HOLD_PAUSED, rules.HOLD_NO_TOPICS]),
    ],
)
def test_no_send_list_while_anything_holds_it(prefs, holds):
    assert rules.holds(prefs, following=True) == holds
    assert rules.segments(prefs, following=True) == frozenset()
    assert not rules.receives_emergencies(prefs, following=True)


def test_a_resident_with_no_topic_is_on_the_emergency_list_of_their_area_only():
    assert rules.holds(CONSENTED, following=True) == [rules.HOLD_NO_TOPICS]
    assert rules.segments(CONSENTED, following=True) == {"all#*"}
    assert rules.segments(rules.with_area(CONSENTED, "aoto"), following=True) == {"all#aoto"}
    assert rules.receives_emergencies(CONSENTED, following=True)


def test_a_resident_who_does_not_follow_is_on_no_list():
    prefs = rules.with_topics(CONSENTED, ["disaster"])
    assert rules.segments(prefs, following=True) == {"disaster#*", "all#*"}
    assert rules.segments(prefs, following=False) == frozenset()
    assert rules.holds(prefs, following=False) == [rules.HOLD_NOT_FOLLOWING]


def test_an_area_send_reads_its_list_and_the_all_areas_list():
    assert rules.segments_for_send("disaster", "shibamata") == ("disaster#shibamata", "disaster#*")


def test_a_ward_wide_send_reads_every_area_and_the_all_areas_list():
    read = rules.segments_for_send("waste", None)
    assert set(read) == {f"waste#{area['id']}" for area in areas()} | {"waste#*"}
    assert len(read) == len(set(read))


def test_every_resident_of_a_topic_is_reached_exactly_once_by_a_ward_wide_send():
    residents = [
        rules.with_area(rules.with_topics(CONSENTED, ["waste"]), area)
        for area in [None, "aoto", "kanamachi", None]
    ]
    read = set(rules.segments_for_send("waste", None))
    emergency = set(rules.segments_for_send(rules.EVERYONE, None))
    for prefs in residents:
        assert len(rules.segments(prefs, following=True) & read) == 1
        assert len(rules.segments(prefs, following=True) & emergency) == 1


@pytest.mark.parametrize(
    ("entry", "target", "reached"),
    [
        ("30-39", None, True),
        ("30-39", ["70+"], False),
        ("70+", ["60-69", "70+"], True),
        (None, ["70+"], True),
    ],
)
def test_age_targeting(entry, target, reached):
    assert rules.reaches_age(entry, target) is reached


# --- changes and validation ------------------------------------------------------------------


def test_every_problem_of_a_document_is_reported_at_once():
    bad = document(topics=["disaster", "weather"], area="shinjuku", language="fr", birthYear=1850)
    with pytest.raises(rules.InvalidPreferences) as error:
        rules.from_document(bad, rules.Preferences(), NOW)
    assert [(p.pointer, p.code) for p in error.value.problems] == [
        ("/topics/1", "unknown_topic"),
        ("/area", "unknown_area"),
        ("/birthYear", "birth_year_out_of_range"),
        ("/language", "unknown_language"),
    ]
    for problem in error.value.problems:  # one language at a time, the one it is shown in
        assert problem.message.render("vi") != problem.message.render("ja")
        assert " / " not in problem.message.render("vi")


def test_birth_year_and_age_band_together_are_refused():
    with pytest.raises(rules.InvalidPreferences) as error:
        rules.from_document(document(birthYear=1990, ageBand="30-39"), rules.Preferences(), NOW)
    assert [p.code for p in error.value.problems] == ["age_given_twice"]


def test_age_band_can_be_sent_back_or_cleared():
    with_band = rules.from_document(document(ageBand="50-59"), rules.Preferences(), NOW)
    assert with_band.age_band == "50-59"
    assert rules.from_document(document(), with_band, NOW).age_band is None
    with pytest.raises(rules.InvalidPreferences):
        rules.with_age_band(rules.Preferences(), "25-34")


def test_toggle_topic_adds_then_removes_and_refuses_unknown_topics():
    prefs = rules.toggle_topic(rules.Preferences(), "childcare")
    assert prefs.topics == {"childcare"}
    assert rules.toggle_topic(prefs, "childcare").topics == frozenset()
    with pytest.raises(rules.InvalidPreferences):
        rules.toggle_topic(prefs, "gardening")


def test_every_language_can_be_chosen_and_nothing_else():
    for language in LANGUAGES:
        assert rules.with_language(rules.Preferences(), language).language == language
    with pytest.raises(rules.InvalidPreferences):
        rules.with_language(rules.Preferences(), "zh")


# --- consent ---------------------------------------------------------------------------------


def test_consent_records_the_terms_version_and_the_time():
    prefs = rules.from_document(document(), rules.Preferences(), NOW)
    assert prefs.consent == rules.Consent(rules.TERMS_VERSION, NOW)
    assert rules.to_document(prefs)["consent"] == {
        "termsVersion": rules.TERMS_VERSION,
        "acceptedAt": "2026-06-01T03:00:00Z",
    }


def test_agreeing_again_keeps_the_time_of_the_first_agreement():
    first = rules.from_document(document(), rules.Preferences(), NOW)
    again = rules.from_document(document(topics=["health"]), first, NOW + timedelta(days=30))
    assert again.consent.accepted_at == NOW
    assert again.topics == {"health"}


def test_consent_to_other_terms_is_refused_and_null_withdraws():
    with pytest.raises(rules.TermsChanged):
        rules.from_document(document(consent={"termsVersion": "2019-01-01"}), rules.Preferences(), NOW)
    withdrawn = rules.from_document(document(consent=None), CONSENTED, NOW)
    assert withdrawn.consent is None
    assert rules.segments(withdrawn, following=True) == frozenset()


def test_a_newer_consent_replaces_one_to_outdated_terms():
    outdated = rules.Preferences(consent=rules.Consent("2019-01-01", NOW - timedelta(days=900)))
    renewed = rules.accept_terms(outdated, rules.TERMS_VERSION, NOW)
    assert renewed.consent == rules.Consent(rules.TERMS_VERSION, NOW)


# --- stop all --------------------------------------------------------------------------------


def test_stop_all_keeps_the_choices_and_resume_brings_the_lists_back():
    prefs = rules.from_document(document(), rules.Preferences(), NOW)
    stopped = rules.stop_all(prefs)
    assert stopped.paused
    assert stopped.topics == prefs.topics and stopped.area == prefs.area and stopped.consent == prefs.consent
    assert rules.segments(stopped, following=True) == frozenset()
    assert rules.segments(rules.resume(stopped), following=True) == rules.segments(prefs, following=True)
    assert rules.from_document(document(paused=True), prefs, NOW).paused


def test_view_says_whether_news_arrives_and_labels_choices_in_the_residents_language():
    prefs = rules.from_document(document(language="vi"), rules.Preferences(), NOW)
    shown = rules.view(prefs, following=True)
    assert shown["delivery"] == {"active": True, "holds": [], "emergencies": True}
    assert shown["terms"] == {"version": rules.TERMS_VERSION, "url": rules.TERMS_URL}
    assert shown["choices"]["topics"][0] == {"id": "disaster", "label": "Phòng chống thiên tai"}
    assert {"id": "tateishi", "label": "Tateishi", "kana": "たていし"} in shown["choices"]["areas"]
    assert rules.view(rules.stop_all(prefs), following=False)["delivery"] == {
        "active": False,
        "holds": [rules.HOLD_NOT_FOLLOWING, rules.HOLD_PAUSED],
        "emergencies": False,
    }
    # No topics: no topic news, but emergencies still come.
    assert rules.view(rules.with_topics(prefs, frozenset()), following=True)["delivery"] == {
        "active": False,
        "holds": [rules.HOLD_NO_TOPICS],
        "emergencies": True,
    }
