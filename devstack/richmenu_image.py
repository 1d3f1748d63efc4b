"""Draws the rich menu image, chalicelib/data/richmenu.png: `.venv/bin/python devstack/richmenu_image.py`.

One tile per area of chalicelib/data/richmenu.json, at that area's bounds, so the picture and the
tap areas cannot drift apart: a pictogram made of simple shapes and an English word, white on a
dark colour (contrast with white of at least 4.5:1), tiles parted by thin white lines.

The Japanese labels (通報, 申請, ...) would need a CJK font, and none is installed where this runs
(nor may one be installed by hand); they live in the JSON instead, as each action's `label`, which screen readers
speak, and `displayText`, which the chat shows as the resident's message.

The output is the same bytes on every run (with the pinned Pillow): a unit test compares it with
the committed PNG, so redraw and commit the PNG whenever the layout or this drawing changes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DATA = Path(__file__).resolve().parents[1] / "chalicelib" / "data"
DEFINITION = DATA / "richmenu.json"
OUTPUT = DATA / "richmenu.png"

SUPERSAMPLE = 3  # tiles are drawn this much larger and scaled down, for smooth edges
WHITE = (255, 255, 255)
SEPARATOR_PX = 4
ICON_RADIUS = 0.24  # of the tile's height: the pictogram fits a square of twice this
ICON_CENTRE = 0.40  # of the tile's height, from its top
LABEL_CENTRE = 0.80  # likewise
LABEL_SIZE = 0.15  # font size, of the tile's height
LABEL_WEIGHT = 0.015  # stroke width, of the font size

Point = tuple[float, float]
Colour = tuple[int, int, int]


class Pen:
    """Draws in a pictogram's own coordinates: (0, 0) is its centre, ±1 the edges of its square."""

    def __init__(self, draw: ImageDraw.ImageDraw, centre: Point, radius: float, background: Colour) -> None:
        self.draw, self.centre, self.radius, self.background = draw, centre, radius, background

    def at(self, x: float, y: float) -> Point:
        return (self.centre[0] + x * self.radius, self.centre[1] + y * self.radius)

    def box(self, left: float, top: float, right: float, bottom: float) -> tuple[Point, Point]:
        return (self.at(left, top), self.at(right, bottom))

    def px(self, length: float) -> int:
        return round(length * self.radius)


def _report(pen: Pen) -> None:
    """A warning triangle with "!"."""
    pen.draw.polygon([pen.at(0, -0.95), pen.at(1, 0.8), pen.at(-1, 0.8)], fill=WHITE)
    pen.draw.rounded_rectangle(pen.box(-0.09, -0.4, 0.09, 0.3), radius=pen.px(0.06), fill=pen.background)
    pen.draw.ellipse(pen.box(-0.11, 0.43, 0.11, 0.65), fill=pen.background)


def _apply(pen: Pen) -> None:
    """A form: a sheet with a folded corner, lines of text and a tick."""
    pen.draw.polygon(
        [pen.at(-0.7, -0.95), pen.at(0.3, -0.95), pen.at(0.7, -0.55), pen.at(0.7, 0.95), pen.at(-0.7, 0.95)],
        fill=WHITE,
    )
    pen.draw.polygon([pen.at(0.3, -0.95), pen.at(0.3, -0.55), pen.at(0.7, -0.55)], fill=pen.background)
    for top, right in ((-0.45, 0.45), (-0.15, 0.45), (0.15, 0.1)):
        pen.draw.rectangle(pen.box(-0.45, top, right, top + 0.12), fill=pen.background)
    pen.draw.line(
        [pen.at(0.1, 0.6), pen.at(0.25, 0.75), pen.at(0.5, 0.42)],
        fill=pen.background,
        width=pen.px(0.1),
        joint="curve",
    )


def _ask(pen: Pen) -> None:
    """A speech bubble with "?"."""
    pen.draw.rounded_rectangle(pen.box(-1, -0.85, 1, 0.5), radius=pen.px(0.35), fill=WHITE)
    pen.draw.polygon([pen.at(-0.55, 0.4), pen.at(-0.1, 0.4), pen.at(-0.65, 0.95)], fill=WHITE)
    font = ImageFont.load_default(size=pen.px(1.2))
    pen.draw.text(
        pen.at(0, -0.17), "?", font=font, fill=pen.background, anchor="mm", stroke_width=pen.px(0.03)
    )


def _settings(pen: Pen) -> None:
    """A bell: what the resident chooses to be told about."""
    pen.draw.ellipse(pen.box(-0.12, -1.0, 0.12, -0.76), fill=WHITE)
    pen.draw.pieslice(pen.box(-0.55, -0.85, 0.55, 0.25), 180, 360, fill=WHITE)
    pen.draw.polygon(
        [pen.at(-0.55, -0.31), pen.at(0.55, -0.31), pen.at(0.8, 0.5), pen.at(-0.8, 0.5)], fill=WHITE
    )
    pen.draw.rounded_rectangle(pen.box(-0.95, 0.45, 0.95, 0.64), radius=pen.px(0.09), fill=WHITE)
    pen.draw.ellipse(pen.box(-0.16, 0.66, 0.16, 0.98), fill=WHITE)


def _queue(pen: Pen) -> None:
    """Three people waiting in line."""
    for x in (-0.68, 0, 0.68):
        pen.draw.ellipse(pen.box(x - 0.2, -0.7, x + 0.2, -0.3), fill=WHITE)
        pen.draw.rounded_rectangle(pen.box(x - 0.29, -0.2, x + 0.29, 0.85), radius=pen.px(0.22), fill=WHITE)


def _pay(pen: Pen) -> None:
    """A coin with a yen sign, drawn in strokes as heavy as the other pictograms' (the font's "¥" is thin)."""
    pen.draw.ellipse(pen.box(-0.95, -0.95, 0.95, 0.95), fill=WHITE)
    pen.draw.ellipse(pen.box(-0.78, -0.78, 0.78, 0.78), outline=pen.background, width=pen.px(0.06))
    stroke = pen.px(0.12)
    pen.draw.line(
        [pen.at(-0.36, -0.5), pen.at(0, -0.02), pen.at(0.36, -0.5)],
        fill=pen.background,
        width=stroke,
        joint="curve",
    )
    pen.draw.line([pen.at(0, -0.02), pen.at(0, 0.55)], fill=pen.background, width=stroke)
    for y in (0.08, 0.3):
        pen.draw.line([pen.at(-0.3, y), pen.at(0.3, y)], fill=pen.background, width=stroke)


@dataclass(frozen=True)
class Tile:
    label: str
    colour: Colour
    pictogram: Callable[[Pen], None]


TILES = {
    "menu.report": Tile("Report", (0xC6, 0x28, 0x28), _report),
    "menu.apply": Tile("Apply", (0x15, 0x65, 0xC0), _apply),
    "menu.ask": Tile("Ask", (0x2E, 0x7D, 0x32), _ask),
    "menu.settings": Tile("Settings", (0x6A, 0x1B, 0x9A), _settings),
    "menu.queue": Tile("Queue", (0xB4, 0x53, 0x09), _queue),
    "menu.pay": Tile("Pay", (0x37, 0x47, 0x4F), _pay),
}


def _draw_tile(tile: Tile, width: int, height: int) -> Image.Image:
    big = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), tile.colour)
    draw = ImageDraw.Draw(big)
    scaled = height * SUPERSAMPLE
    tile.pictogram(Pen(draw, (big.width / 2, scaled * ICON_CENTRE), scaled * ICON_RADIUS, tile.colour))
    font = ImageFont.load_default(size=round(scaled * LABEL_SIZE))
    # The bundled font has one, light weight; a stroke of its own colour makes it bold enough to read.
    draw.text(
        (big.width / 2, scaled * LABEL_CENTRE),
        tile.label,
        font=font,
        fill=WHITE,
        anchor="mm",
        stroke_width=round(scaled * LABEL_SIZE * LABEL_WEIGHT),
        stroke_fill=WHITE,
    )
    return big.resize((width, height), Image.Resampling.LANCZOS)


def render(definition: dict) -> bytes:
    """The PNG for a rich menu definition whose areas carry `x-action`s."""
    size = definition["size"]
    image = Image.new("RGB", (size["width"], size["height"]), WHITE)
    draw = ImageDraw.Draw(image)
    boxes = [(area["bounds"], TILES[area["action"]["x-action"]]) for area in definition["areas"]]
    for bounds, tile in boxes:
        image.paste(_draw_tile(tile, bounds["width"], bounds["height"]), (bounds["x"], bounds["y"]))
    # Separators along the edges tiles share; the image's own edges stay unframed.
    half = SEPARATOR_PX // 2
    for bounds, _ in boxes:
        x, y, width, height = bounds["x"], bounds["y"], bounds["width"], bounds["height"]
        if x > 0:
            draw.rectangle((x - half, y, x + half - 1, y + height - 1), fill=WHITE)
        if y > 0:
            draw.rectangle((x, y - half, x + width - 1, y + half - 1), fill=WHITE)
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def main() -> None:
    png = render(json.loads(DEFINITION.read_text(encoding="utf-8")))
    OUTPUT.write_bytes(png)
    print(f"wrote {OUTPUT} ({len(png):,} bytes)")


if __name__ == "__main__":
    main()
