"""The rich menu: its definition (chalicelib/data/richmenu.json), how infra/richmenu.py builds it, and its image."""

from __future__ import annotations

import copy
import io
import json
from itertools import combinations

import pytest
from PIL import Image

from chalicelib.domain import postbacks
from devstack import richmenu_image
from infra.richmenu import DEFINITION, IMAGE, NAME_PREFIX, build_rich_menu, registered_name

SECRET = "unit-test-channel-secret"
ACTIONS = {
    "通報": "menu.report",
    "申請": "menu.apply",
    "質問": "menu.ask",
    "配信設定": "menu.settings",
    "窓口の混雑": "menu.queue",
    "支払い": "menu.pay",
}


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(DEFINITION.read_text(encoding="utf-8"))


def test_every_area_is_signed_with_its_action(definition: dict) -> None:
    menu = build_rich_menu(definition, SECRET)
    signed = {
        area["action"]["label"]: postbacks.read(SECRET, area["action"]["data"]) for area in menu["areas"]
    }
    assert signed == {label: postbacks.Postback(action) for label, action in ACTIONS.items()}
    with pytest.raises(postbacks.TamperedPostback):
        postbacks.read("another-channel-secret", menu["areas"][0]["action"]["data"])


def test_the_built_menu_is_a_plain_line_object(definition: dict) -> None:
    original = copy.deepcopy(definition)
    menu = build_rich_menu(definition, SECRET)
    assert definition == original  # the definition itself is not touched
    assert set(menu) == {"size", "selected", "name", "chatBarText", "areas"}
    assert menu["size"] == {"width": 2500, "height": 1686}
    assert menu["selected"] is True
    assert 1 <= len(menu["chatBarText"]) <= 14
    for area in menu["areas"]:
        action = area["action"]
        assert set(action) == {"type", "label", "displayText", "data"}
        assert action["type"] == "postback"
        # The label is what a screen reader speaks: the Japanese name of the tile, at most 20 characters.
        assert action["label"] == action["displayText"] and 1 <= len(action["label"]) <= 20
        assert len(action["data"]) <= postbacks.MAX_DATA_CHARS


def test_the_areas_tile_the_image_exactly(definition: dict) -> None:
    size = definition["size"]
    boxes = [
        (b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"])
        for b in (area["bounds"] for area in definition["areas"])
    ]
    assert len(boxes) == 6
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= size["width"] and 0 <= top < bottom <= size["height"]
    for a, b in combinations(boxes, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], f"{a} overlaps {b}"
    # Inside the image and without overlap, covering all of it means the areas add up to it.
    assert sum((r - left) * (b - top) for left, top, r, b in boxes) == size["width"] * size["height"]


def test_x_action_needs_a_postback() -> None:
    definition = {"areas": [{"action": {"type": "uri", "uri": "https://example.jp", "x-action": "menu.ask"}}]}
    with pytest.raises(ValueError, match="postback"):
        build_rich_menu(definition, SECRET)


def test_the_registered_name_changes_with_anything_sent(definition: dict) -> None:
    menu = build_rich_menu(definition, SECRET)
    image = IMAGE.read_bytes()
    name = registered_name(menu, image)
    assert name.startswith(NAME_PREFIX) and name.endswith(" ward menu") and len(name) <= 300
    assert registered_name(build_rich_menu(definition, SECRET), image) == name
    assert registered_name(menu, image + b"\0") != name
    assert registered_name(build_rich_menu(definition, "rotated-secret"), image) != name
    relabelled = copy.deepcopy(menu)
    relabelled["chatBarText"] = "Menu"
    assert registered_name(relabelled, image) != name


def test_the_committed_image_fits_the_definition(definition: dict) -> None:
    data = IMAGE.read_bytes()
    assert len(data) < 1_000_000  # LINE's limit is 1 MB
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (definition["size"]["width"], definition["size"]["height"])


def test_the_generator_reproduces_the_committed_image(definition: dict) -> None:
    assert richmenu_image.render(definition) == IMAGE.read_bytes(), (
        "chalicelib/data/richmenu.png is stale: run .venv/bin/python devstack/richmenu_image.py"
    )


def test_every_tile_is_drawn_with_white_at_a_readable_contrast(definition: dict) -> None:
    def luminance(colour: tuple[int, int, int]) -> float:
        linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    assert {area["action"]["x-action"] for area in definition["areas"]} == set(richmenu_image.TILES)
    for tile in richmenu_image.TILES.values():
        assert 1.05 / (luminance(tile.colour) + 0.05) >= 4.5, tile.label  # WCAG AA for text
