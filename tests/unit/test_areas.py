"""Which 町 a report is about, from its address or its pin (domain/areas.py)."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain import areas
from chalicelib.domain.forms import areas as ward_areas
from chalicelib.domain.ward import DATA_DIR


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("東京都葛飾区金町6丁目", "kanamachi"),
        ("東京都葛飾区東金町1丁目", "higashi-kanamachi"),  # the longer name, not 金町 inside it
        ("葛飾区水元公園3", "mizumoto-koen"),
        ("東京都葛飾区西新小岩1-2", "nishi-shinkoiwa"),
        ("柴又公園の北側入口付近", "shibamata"),  # typed by a resident, no ward name
        ("金町駅前", "kanamachi"),
        ("立石５－１３－１", "tateishi"),  # full-width, as phones type it
        ("6 Chome Higashikanamachi, Katsushika City, Tokyo", "higashi-kanamachi"),
        ("Kameari, Katsushika-ku, Tokyo", "kameari"),
        ("東京都新宿区西新宿2-8-1", None),  # Shinjuku, not Katsushika's 新宿 (Niijuku)
        ("千葉県松戸市松戸", None),
        ("公園の入口", None),
        ("", None),
    ],
)
def test_the_address_names_the_area(address, expected):
    assert areas.from_address(address) == expected


def test_every_area_has_a_representative_point_inside_the_ward():
    points = json.loads((DATA_DIR / "area_points.json").read_text(encoding="utf-8"))["points"]
    assert set(points) == {area["id"] for area in ward_areas()}
    for area_id, (latitude, longitude) in points.items():
        assert areas.nearest(latitude, longitude) == area_id  # each point is its own nearest


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (35.74344, 139.84717, "tateishi"),  # the ward office, 立石5-13-1
        (35.7585, 139.8783, "shibamata"),  # 柴又帝釈天
        (35.7574, 139.8133, "kosuge"),  # 東京拘置所
        (35.7694, 139.8704, "kanamachi"),  # 金町駅
        (35.6812, 139.7671, None),  # Tokyo Station: outside the ward
    ],
)
def test_a_pin_without_an_address_goes_to_the_nearest_area(latitude, longitude, expected):
    assert areas.nearest(latitude, longitude) == expected


def test_the_address_wins_over_the_pin_and_the_pin_fills_in():
    near_tateishi = {"latitude": 35.74344, "longitude": 139.84717}
    assert areas.locate({**near_tateishi, "address": "葛飾区宝町2丁目"}) == "takaramachi"
    assert areas.locate({**near_tateishi, "address": "橋のたもと"}) == "tateishi"
    assert areas.locate({"address": "橋のたもと"}) is None
    assert areas.locate(None) is None


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("2-8-1 Nishi-Shinjuku, Shinjuku-ku, Tokyo", True),
        ("東京都新宿区西新宿2-8-1", True),
        ("〒120-0034 東京都足立区千住1-2-3", True),
        ("千葉県松戸市松戸1", True),
        ("Kita-ku Akabane", True),
        ("Matsudo City, Chiba", True),
        ("葛飾区新宿6丁目", False),  # Katsushika's own 新宿 (Niijuku)
        ("新宿6-3-1", False),
        ("立石市場の前", False),  # a market, not a city
        ("6 Chome Higashikanamachi, Katsushika City, Tokyo", False),
        ("柴又公園の北側入口付近", False),
        ("otaku street", False),
        ("2-8-1 Nishishinjuku, Shinjuku City, Tokyo", True),  # LINE's English for a ward
        ("住所：東京都新宿区西新宿", True),
        ("日本、〒120-0005 東京都足立区綾瀬", True),  # LINE's address for a pin
        ("日本、〒125-0062 東京都葛飾区青戸", False),
        ("江戸川区との境の道、高砂8丁目", False),  # a road of ours along the border
        ("", False),
        (None, False),
    ],
)
def test_an_address_in_another_ward_or_a_neighbouring_city_is_elsewhere(address, expected):
    assert areas.elsewhere(address) is expected
