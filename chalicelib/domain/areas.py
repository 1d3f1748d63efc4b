"""Which 町 of the ward a report is about: from its address text, else from its map pin. Pure.

The address wins when it names a 町 (LINE's own address for a pin, or what the resident typed):
the 町 whose name appears first in it after the ward's name, the longer name on a tie (東金町
before 金町, 水元公園 before 水元). An address in another city or ward gives nothing.

Without a usable address, the pin goes to the 町 with the nearest representative point
(data/area_points.json; its comment says where the points come from and how accurate they
are). Distances are equirectangular (longitude scaled by cos(latitude)), which over a ward
11 km across differs from the great-circle distance by far less than the points' own error.
A pin outside the ward's bounds, or further than MAX_DISTANCE_KM from every point, gives nothing.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from functools import cache

from chalicelib.domain.ward import DATA_DIR

MAX_DISTANCE_KM = 2.0
_KM_PER_DEGREE = 111.32
WARD_JA = "葛飾区"
# Another municipality named in the address (新宿区 is Shinjuku, not Katsushika's 新宿).
_OTHER_PLACE = re.compile(r"[\u3005\u4e00-\u9fff\u30a0-\u30ffヶケ]+?[区市村]")


@cache
def _areas() -> tuple[tuple[str, str, str], ...]:
    """(id, ja, romanised name compacted) of every 町, longest Japanese name first."""
    areas = json.loads((DATA_DIR / "areas.json").read_text(encoding="utf-8"))["areas"]
    found = [(a["id"], a["ja"], _compact(a["en"])) for a in areas]
    return tuple(sorted(found, key=lambda a: -len(a[1])))


@cache
def _points() -> dict[str, tuple[float, float]]:
    raw = json.loads((DATA_DIR / "area_points.json").read_text(encoding="utf-8"))["points"]
    return {area_id: (float(lat), float(lon)) for area_id, (lat, lon) in raw.items()}


@cache
def _bounds() -> dict[str, dict[str, float]]:
    return json.loads((DATA_DIR / "ward.json").read_text(encoding="utf-8"))["bounds"]


def _compact(text: str) -> str:
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKC", text).lower())


def from_address(address: str | None) -> str | None:
    """The 町 an address names, or None (no 町 of ours, or another municipality's address)."""
    if not address:
        return None
    text = unicodedata.normalize("NFKC", address)
    ward_at = text.find(WARD_JA)
    if ward_at >= 0:
        text = text[ward_at + len(WARD_JA) :]
    elif any(match.group(0) != WARD_JA for match in _OTHER_PLACE.finditer(text.replace("東京都", ""))):
        return None
    best: tuple[int, int, str] | None = None
    for area_id, ja, _ in _areas():
        at = text.find(ja)
        if at >= 0 and (best is None or (at, -len(ja)) < (best[0], best[1])):
            best = (at, -len(ja), area_id)
    if best is not None:
        return best[2]
    return _from_romanised(address)


# Municipalities a Katsushika resident may name by mistake: the other 22 special wards and the
# cities around the ward. Only these are refused (elsewhere()): a free pattern such as "…市" would
# also catch 立石市場 (a market in Katsushika).
_OTHER_WARDS = (
    "千代田 Chiyoda,中央 Chuo,港 Minato,新宿 Shinjuku,文京 Bunkyo,台東 Taito,墨田 Sumida,江東 Koto,"
    "品川 Shinagawa,目黒 Meguro,大田 Ota,世田谷 Setagaya,渋谷 Shibuya,中野 Nakano,杉並 Suginami,"
    "豊島 Toshima,北 Kita,荒川 Arakawa,板橋 Itabashi,練馬 Nerima,足立 Adachi,江戸川 Edogawa"
)
_NEIGHBOUR_CITIES = "市川 Ichikawa,松戸 Matsudo,三郷 Misato,八潮 Yashio,草加 Soka,浦安 Urayasu,柏 Kashiwa"
# Japanese: where an address starts (after 日本、 as LINE writes a pin's, 住所：, 〒 and the postal
# code, 東京都/千葉県/埼玉県), and not "江戸川区との境" (a road of ours along the border); English:
# anywhere, as it ends addresses there ("Shinjuku City, Tokyo" is how LINE writes a ward in English).
_ELSEWHERE_JA = re.compile(
    r"^(?:日本[、,]?\s*)?(?:住所[:：]?\s*)?(?:〒?\s*\d{3}-?\d{4}\s*)?(?:東京都|千葉県|埼玉県)?\s*(?:"
    + "|".join(
        [
            *(f"{ja}区" for ja, _ in (w.split() for w in _OTHER_WARDS.split(","))),
            *(f"{ja}市" for ja, _ in (c.split() for c in _NEIGHBOUR_CITIES.split(","))),
        ]
    )
    + ")(?!と|の境|境)"
)
_ELSEWHERE_EN = re.compile(
    "|".join(
        [
            *(rf"\b{en}[- ](?:ku|ward|city)\b" for _, en in (w.split() for w in _OTHER_WARDS.split(","))),
            *(rf"\b{en}[- ](?:shi|city)\b" for _, en in (c.split() for c in _NEIGHBOUR_CITIES.split(","))),
        ]
    ),
    re.IGNORECASE,
)


def elsewhere(address: str | None) -> bool:
    """The address names another ward or a neighbouring city, and not Katsushika: a report there
    is not the ward's to handle (a pin outside the ward is refused the same way)."""
    if not address:
        return False
    text = unicodedata.normalize("NFKC", address)
    if WARD_JA in text or "katsushika" in text.lower():
        return False
    return bool(_ELSEWHERE_JA.search(text.strip()) or _ELSEWHERE_EN.search(text))


def _from_romanised(address: str) -> str | None:
    """LINE's English addresses ("6 Chome Higashikanamachi, Katsushika City, Tokyo")."""
    text = unicodedata.normalize("NFKC", address).lower()
    if "katsushika" not in text:
        return None
    compact = _compact(text.split("katsushika", 1)[0]) or _compact(text)
    best: tuple[int, int, str] | None = None
    for area_id, _, roman in _areas():
        at = compact.find(roman)
        if at >= 0 and (best is None or (at, -len(roman)) < (best[0], best[1])):
            best = (at, -len(roman), area_id)
    return best[2] if best else None


def nearest(latitude: float, longitude: float) -> str | None:
    """The 町 whose representative point is nearest the pin, or None outside the ward."""
    bounds = _bounds()
    if not (
        bounds["latitude"]["min"] <= latitude <= bounds["latitude"]["max"]
        and bounds["longitude"]["min"] <= longitude <= bounds["longitude"]["max"]
    ):
        return None
    scale = math.cos(math.radians(latitude))
    best_id, best_km = None, math.inf
    for area_id, (lat, lon) in _points().items():
        km = _KM_PER_DEGREE * math.hypot(latitude - lat, (longitude - lon) * scale)
        if km < best_km:
            best_id, best_km = area_id, km
    return best_id if best_km <= MAX_DISTANCE_KM else None


def locate(location: object) -> str | None:
    """The 町 of a form's `location` ({"latitude", "longitude", "address"}), or None."""
    if not isinstance(location, dict):
        return None
    address = location.get("address")
    found = from_address(address) if isinstance(address, str) else None
    if found:
        return found
    latitude, longitude = _number(location.get("latitude")), _number(location.get("longitude"))
    return nearest(latitude, longitude) if latitude is not None and longitude is not None else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
