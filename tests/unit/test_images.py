"""Photo metadata stripping (chalicelib/domain/images.py) on real JPEG, PNG and HEIC files.

The fixtures (tests/fixtures/images, built by make_fixtures.py) carry what phones write: EXIF
with a GPS position, XMP with GPS, text, thumbnails. Each is decoded before and after stripping
with Pillow / pillow-heif, so "the picture is unchanged" and "the metadata is gone" are checked
by an independent reader, not by the stripper's own parser.
"""

from __future__ import annotations

import contextlib
import io
import random
import struct
import time
import zlib
from pathlib import Path

import pillow_heif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from chalicelib.domain.images import (
    HEIC,
    JPEG,
    PNG,
    UnsupportedImage,
    has_location_metadata,
    sniff,
    strip_metadata,
)

pillow_heif.register_heif_opener()

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
KINDS = {
    "gps.jpg": JPEG,
    "gps_progressive.jpg": JPEG,
    "gps_mpo.jpg": JPEG,
    "gps.png": PNG,
    "gps_palette.png": PNG,
    "gps.heic": HEIC,
    "gps_idat.heic": HEIC,
    "gps_iloc_v2.heic": HEIC,
}
GPS_IFD = 0x8825
ORIENTATION = 0x0112
# Strings the fixtures carry in their metadata (owner, device, serial, place); none may survive.
IDENTIFYING = (b"Katsushika Taro", b"Katsushika Camera", b"SN123", b"Tateishi", b"35.7436", b"GPSLatitude")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Independent readers for the container structure (not the module's own parsers).


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(marker, payload) of each segment before the first scan, and the bytes from SOS on."""
    assert data[:2] == b"\xff\xd8"
    pos, segments = 2, []
    while data[pos + 1] != 0xDA:
        assert data[pos] == 0xFF
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segments.append((data[pos + 1], data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return segments, data[pos:]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(ctype + body)
        chunks.append((ctype, body))
        pos += 12 + length
    return chunks


def top_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    pos, boxes = 0, []
    while pos < len(data):
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append((btype, pos, pos + size))
        pos += size
    return boxes


# --- sniff --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_sniff_recognises_each_fixture(name: str) -> None:
    assert sniff(fixture(name)) == KINDS[name]


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", PNG),
        (ftyp(b"heic", b"mif1", b"heic"), HEIC),
        (ftyp(b"heix", b"mif1"), HEIC),
        (ftyp(b"heim"), HEIC),
        (ftyp(b"heis", b"msf1"), HEIC),
        (ftyp(b"hevc", b"msf1"), HEIC),
        (ftyp(b"mif1", b"heic"), HEIC),
        (ftyp(b"mif1", b"miaf"), HEIC),
        (ftyp(b"avif", b"mif1", b"miaf"), None),  # AVIF is not among the accepted types
        (ftyp(b"mif1", b"avif"), None),
        (ftyp(b"isom", b"mp41"), None),  # an MP4 video
        (ftyp(b"qt  "), None),  # a QuickTime movie (e.g. a Live Photo's video half)
        (b"\x00\x00\x00\x0bftypheic", None),  # an ftyp box too small to be one
        (b"\x00\x00\x00\x11ftypheic\x00\x00\x00\x00mif1", None),  # size not a whole number of brands
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None),
        (b"BM\x00\x00", None),
        (b"%PDF-1.7", None),
        (b"\xff\xd8", None),  # SOI alone is not enough
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


# --- stripping the fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize("name", KINDS)
def test_fixtures_carry_location_before_stripping(name: str) -> None:
    # Without this, every "no GPS afterwards" assertion below would prove nothing.
    data = fixture(name)
    assert has_location_metadata(data)
    assert GPS_IFD in decode(data).getexif()


@pytest.mark.parametrize("name", KINDS)
def test_strip_keeps_the_picture_and_removes_location(name: str) -> None:
    original = fixture(name)
    cleaned = strip_metadata(original)

    assert sniff(cleaned) == KINDS[name]
    before, after = decode(original), decode(cleaned)
    assert (after.mode, after.size) == (before.mode, before.size)
    assert after.tobytes() == before.tobytes()

    assert not has_location_metadata(cleaned)
    exif = after.getexif()
    assert GPS_IFD not in exif
    assert not exif.get_ifd(GPS_IFD)
    assert b"GPS" not in (after.info.get("xmp") or b"")
    for text in IDENTIFYING:
        assert text not in cleaned, text


@pytest.mark.parametrize("name", KINDS)
def test_strip_is_idempotent(name: str) -> None:
    once = strip_metadata(fixture(name))
    assert strip_metadata(once) == once


def test_strip_accepts_bytearray_and_memoryview() -> None:
    data = fixture("gps.jpg")
    expected = strip_metadata(data)
    assert strip_metadata(bytearray(data)) == expected
    assert strip_metadata(memoryview(data)) == expected


# --- JPEG ---------------------------------------------------------------------------------------


def test_jpeg_keeps_only_decoding_colour_and_orientation_segments() -> None:
    original = fixture("gps.jpg")
    cleaned = strip_metadata(original)
    before, _ = jpeg_segments(original)
    after, _ = jpeg_segments(cleaned)
    before_markers = {marker for marker, _ in before}
    assert {0xE1, 0xE2, 0xE5, 0xED, 0xFE} <= before_markers  # Exif/XMP, ICC, vendor, IPTC, comment

    app_markers = [marker for marker, _ in after if 0xE0 <= marker <= 0xEF or marker == 0xFE]
    assert app_markers == [0xE0, 0xE1, 0xE2]  # JFIF, orientation-only Exif, ICC
    # Decoding segments (DQT, SOF, DHT...) are kept byte for byte and in order.
    assert [s for s in after if s[0] < 0xE0] == [s for s in before if s[0] < 0xE0]
    # ICC colour is kept whole.
    assert [p for m, p in after if m == 0xE2] == [
        p for m, p in before if m == 0xE2 and p.startswith(b"ICC_PROFILE")
    ]
    assert decode(cleaned).info["icc_profile"] == decode(original).info["icc_profile"]


def test_jpeg_keeps_the_orientation_and_nothing_else_of_exif() -> None:
    cleaned = decode(strip_metadata(fixture("gps.jpg")))
    exif = cleaned.getexif()
    assert dict(exif) == {ORIENTATION: 6}  # a portrait photo still shows upright
    assert not exif.get_ifd(0x8769)  # no Exif sub-IFD (dates, serial number)
    assert exif.get_ifd(0x0001) == {}  # no IFD1: the thumbnail is gone


def test_jpeg_cmyk_keeps_its_adobe_segment() -> None:
    # Without APP14 Adobe a CMYK JPEG decodes with inverted colours.
    buffer = io.BytesIO()
    image = Image.new("CMYK", (16, 8), (10, 200, 30, 40))
    image.save(buffer, "JPEG", quality=90, exif=decode(fixture("gps.jpg")).info["exif"])
    original = buffer.getvalue()
    cleaned = strip_metadata(original)
    adobe = [p for m, p in jpeg_segments(original)[0] if m == 0xEE]
    assert adobe and [p for m, p in jpeg_segments(cleaned)[0] if m == 0xEE] == adobe
    assert decode(cleaned).tobytes() == decode(original).tobytes()
    assert has_location_metadata(original) and not has_location_metadata(cleaned)


def test_jpeg_scan_data_is_copied_untouched() -> None:
    for name in ("gps.jpg", "gps_progressive.jpg"):
        original = fixture(name)
        _, scans_before = jpeg_segments(original)
        _, scans_after = jpeg_segments(strip_metadata(original))
        assert scans_after == scans_before


def test_jpeg_progressive_with_restart_markers_and_jfif_thumbnail() -> None:
    original = fixture("gps_progressive.jpg")
    segments, scans = jpeg_segments(original)
    assert scans.count(b"\xff\xda") > 1 and b"\xff\xd0" in scans  # several scans, restart markers
    jfif = [p for m, p in segments if m == 0xE0][0]
    assert jfif[12:14] == b"\x02\x01"  # the fixture's JFIF carries a 2x1 thumbnail

    cleaned_segments, _ = jpeg_segments(strip_metadata(original))
    cleaned_jfif = [p for m, p in cleaned_segments if m == 0xE0]
    assert cleaned_jfif == [jfif[:12] + b"\x00\x00"]  # same header, no thumbnail
    assert 0xE1 not in {m for m, _ in cleaned_segments}  # no orientation to keep, so no Exif at all


def test_jpeg_multi_picture_trailer_is_dropped() -> None:
    original = fixture("gps_mpo.jpg")
    assert original.count(b"Exif\x00\x00") == 2  # the second picture after EOI has its own GPS
    cleaned = strip_metadata(original)
    assert cleaned.endswith(b"\xff\xd9")
    assert b"MPF\x00" not in cleaned
    assert b"Exif" not in cleaned
    assert len(cleaned) < original.index(b"\xff\xd8", 2)  # nothing of the second picture remains
    assert getattr(decode(cleaned), "n_frames", 1) == 1


def test_jpeg_trailing_bytes_after_eoi_are_dropped() -> None:
    cleaned = strip_metadata(fixture("gps.jpg"))
    with_trailer = cleaned + b"vendor trailer: 35.7436,139.8467 " + b"exif:GPSLatitude"
    assert has_location_metadata(with_trailer)
    assert strip_metadata(with_trailer) == cleaned


def test_jpeg_fill_bytes_before_markers_are_accepted() -> None:
    cleaned = strip_metadata(fixture("gps.jpg"))
    # Any marker may be preceded by extra 0xFF fill bytes (ITU T.81 B.1.1.2).
    padded = cleaned[:2] + b"\xff\xff\xff" + cleaned[2:]
    assert strip_metadata(padded) == cleaned


def test_jpeg_second_exif_segment_does_not_survive() -> None:
    cleaned = strip_metadata(fixture("gps.jpg"))
    segments, _ = jpeg_segments(fixture("gps.jpg"))
    exif_payload = [p for m, p in segments if m == 0xE1 and p.startswith(b"Exif")][0]
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif_payload) + 2) + exif_payload
    # Put the original GPS Exif after the kept (orientation-only) one: it must be dropped too.
    at = cleaned.index(b"\xff\xe2")
    doubled = cleaned[:at] + app1 + cleaned[at:]
    assert has_location_metadata(doubled)
    assert strip_metadata(doubled) == cleaned


# --- PNG ----------------------------------------------------------------------------------------


def test_png_drops_metadata_chunks_and_keeps_the_rest_byte_for_byte() -> None:
    original = fixture("gps.png")
    before = png_chunks(original)
    after = png_chunks(strip_metadata(original))
    assert {b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME", b"caBX"} <= {t for t, _ in before}
    assert [t for t, _ in before][-2] == b"tEXt"  # one text chunk follows the image data

    assert [t for t, _ in after] == [b"IHDR", b"iCCP", b"pHYs", b"eXIf", b"IDAT", b"IEND"]
    kept = [chunk for chunk in before if chunk[0] != b"eXIf" and chunk[0] in {t for t, _ in after}]
    assert [chunk for chunk in after if chunk[0] != b"eXIf"] == kept


def test_png_keeps_the_orientation_only() -> None:
    cleaned = decode(strip_metadata(fixture("gps.png")))
    assert dict(cleaned.getexif()) == {ORIENTATION: 6}
    assert not getattr(cleaned, "text", {})


def test_png_palette_and_transparency_survive() -> None:
    original = fixture("gps_palette.png")
    cleaned = strip_metadata(original)
    assert [t for t, _ in png_chunks(cleaned)] == [b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"]
    assert decode(cleaned).info["transparency"] == decode(original).info["transparency"]
    kept = [chunk for chunk in png_chunks(original) if chunk[0] in (b"IHDR", b"PLTE", b"tRNS")]
    assert png_chunks(cleaned)[:3] == kept  # as they were, byte for byte


# --- HEIC ---------------------------------------------------------------------------------------


def metadata_regions(data: bytes) -> list[tuple[int, int]]:
    """Where the Exif and XMP items of a fixture sit, found through pillow-heif's view of them."""
    image = decode(data)
    tiff = image.info["exif"][6:]  # pillow-heif returns "Exif\0\0" + TIFF
    exif_at = data.index(tiff)
    xmp_at = data.index(image.info["xmp"])
    # The Exif item starts with a 4-byte offset and, in libheif's files, "Exif\0\0".
    return [(exif_at - 10, exif_at + len(tiff)), (xmp_at, xmp_at + len(image.info["xmp"]))]


@pytest.mark.parametrize("name", ["gps.heic", "gps_idat.heic", "gps_iloc_v2.heic"])
def test_heic_changes_only_the_metadata_items_in_place(name: str) -> None:
    original = fixture(name)
    cleaned = strip_metadata(original)
    assert len(cleaned) == len(original)  # nothing moves, so every iloc offset stays right
    allowed = metadata_regions(original)
    btype, start, end = top_boxes(original)[-1]
    if btype not in (b"mdat", b"meta"):
        allowed.append((start, end))
    changed = [i for i, (a, b) in enumerate(zip(original, cleaned, strict=True)) if a != b]
    assert changed
    assert all(any(lo <= i < hi for lo, hi in allowed) for i in changed)


@pytest.mark.parametrize("name", ["gps.heic", "gps_idat.heic", "gps_iloc_v2.heic"])
def test_heic_metadata_reads_as_empty(name: str) -> None:
    cleaned = decode(strip_metadata(fixture(name)))
    assert dict(cleaned.getexif()) == {}
    xmp = cleaned.info["xmp"]
    assert xmp.startswith(b"<?xpacket begin=") and xmp.rstrip().endswith(b'<?xpacket end="w"?>')
    assert b"rdf:Description" not in xmp


def test_heic_trailing_box_becomes_free_space() -> None:
    original = fixture("gps_iloc_v2.heic")
    btype, start, end = top_boxes(original)[-1]
    assert btype == b"mpvd" and b"+35.7436+139.8467" in original[start:end]
    cleaned = strip_metadata(original)
    assert top_boxes(cleaned)[-1] == (b"free", start, end)
    assert cleaned[start + 8 : end] == bytes(end - start - 8)


# Synthetic HEIF files (no picture; structure only) for the layouts phones rarely write.

EXIF_GPS = (
    b"\x00\x00\x00\x06Exif\x00\x00"
    + b"MM\x00\x2a\x00\x00\x00\x08\x00\x01"
    + struct.pack(">HHII", GPS_IFD, 4, 1, 26)
    + b"\x00\x00\x00\x00"
    + b"\x00\x00\x00\x00\x00\x00"  # an empty GPS IFD: the pointer alone is location metadata
)
XMP_GPS = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="35,44.6N"/></x:xmpmeta>'


def box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def full_box(btype: bytes, version: int, payload: bytes) -> bytes:
    return box(btype, bytes([version, 0, 0, 0]) + payload)


def infe(item_id: int, item_type: bytes, content_type: bytes = b"", version: int = 2) -> bytes:
    if version >= 2:
        body = item_id.to_bytes(2 if version == 2 else 4, "big") + b"\x00\x00" + item_type + b"\x00"
        if item_type == b"mime":
            body += content_type + b"\x00"
    else:
        body = item_id.to_bytes(2, "big") + b"\x00\x00" + b"\x00" + content_type + b"\x00"
    return full_box(b"infe", version, body)


def synthetic_heif(
    items: list[dict],
    *,
    iloc_version: int = 1,
    infe_version: int = 2,
    meta_extra: bytes = b"",
    top_extra: bytes = b"",
    handler: bytes = b"pict",
) -> bytes:
    """ftyp + meta(hdlr, iinf, iloc, idat) + mdat, with each item's payload in mdat or idat.

    An item: {"id", "type", "payload"} and optionally "content_type", "method" (0 mdat, 1 idat),
    "reference" (data_reference_index), "length" (override the stored extent length).
    """
    head = ftyp(b"heic", b"mif1", b"heic")
    idat = b"".join(item["payload"] for item in items if item.get("method", 0) == 1)

    def meta(mdat_body_at: int) -> bytes:
        id_size = 4 if iloc_version == 2 else 2
        iloc = bytes([0x44, 0x00]) + len(items).to_bytes(id_size, "big")
        mdat_pos, idat_pos = mdat_body_at, 0
        for item in items:
            method = item.get("method", 0)
            iloc += item["id"].to_bytes(id_size, "big")
            if iloc_version >= 1:
                iloc += struct.pack(">H", method)
            iloc += struct.pack(">HH", item.get("reference", 0), 1)
            at = mdat_pos if method == 0 else idat_pos
            iloc += struct.pack(">II", at, item.get("length", len(item["payload"])))
            if method == 0:
                mdat_pos += len(item["payload"])
            else:
                idat_pos += len(item["payload"])
        entries = b"".join(infe(i["id"], i["type"], i.get("content_type", b""), infe_version) for i in items)
        children = full_box(b"hdlr", 0, b"\x00" * 4 + handler + b"\x00" * 13)
        children += full_box(b"iinf", 0, len(items).to_bytes(2, "big") + entries)
        children += full_box(b"iloc", iloc_version, iloc) + meta_extra
        if idat:
            children += box(b"idat", idat)
        return full_box(b"meta", 0, children)

    mdat_body = b"".join(item["payload"] for item in items if item.get("method", 0) == 0)
    at = len(head) + len(meta(0)) + 8
    return head + meta(at) + box(b"mdat", mdat_body) + top_extra


PICTURE = {"id": 1, "type": b"hvc1", "payload": b"\x00\x00\x00\x10picture-bytes..."}


def test_synthetic_heif_is_stripped_in_place() -> None:
    data = synthetic_heif(
        [
            PICTURE,
            {"id": 2, "type": b"Exif", "payload": EXIF_GPS},
            {"id": 3, "type": b"mime", "content_type": b"application/rdf+xml", "payload": XMP_GPS},
        ]
    )
    assert has_location_metadata(data)
    cleaned = strip_metadata(data)
    assert len(cleaned) == len(data)
    assert not has_location_metadata(cleaned)
    assert PICTURE["payload"] in cleaned
    assert EXIF_GPS not in cleaned and XMP_GPS not in cleaned


@pytest.mark.parametrize("iloc_version", [0, 1, 2])
@pytest.mark.parametrize("infe_version", [2, 3])
def test_heif_iloc_and_infe_versions(iloc_version: int, infe_version: int) -> None:
    data = synthetic_heif(
        [PICTURE, {"id": 2, "type": b"Exif", "payload": EXIF_GPS}],
        iloc_version=iloc_version,
        infe_version=infe_version,
    )
    cleaned = strip_metadata(data)
    assert not has_location_metadata(cleaned) and EXIF_GPS not in cleaned


def test_heif_legacy_infe_xmp_is_recognised_by_content_type() -> None:
    # infe versions 0/1 have no item type; XMP is known by its content type alone.
    data = synthetic_heif(
        [{"id": 3, "type": b"", "content_type": b"application/rdf+xml", "payload": XMP_GPS}], infe_version=0
    )
    cleaned = strip_metadata(data)
    assert XMP_GPS not in cleaned and not has_location_metadata(cleaned)


def test_heif_exif_in_idat() -> None:
    data = synthetic_heif([PICTURE, {"id": 2, "type": b"Exif", "payload": EXIF_GPS, "method": 1}])
    cleaned = strip_metadata(data)
    assert EXIF_GPS not in cleaned and not has_location_metadata(cleaned)


def test_heif_unneeded_boxes_become_free_and_zeroed() -> None:
    xml = full_box(b"xml ", 0, XMP_GPS)
    uuid = box(
        b"uuid",
        b"\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac"
        + b"<dc:creator>Taro</dc:creator>",
    )
    data = synthetic_heif([PICTURE], meta_extra=xml, top_extra=uuid)
    cleaned = strip_metadata(data)
    assert len(cleaned) == len(data)
    assert b"xml " not in cleaned and b"uuid" not in cleaned and b"Taro" not in cleaned
    assert cleaned.count(b"free") == 2


@pytest.mark.parametrize(
    ("items", "options"),
    [
        ([{"id": 2, "type": b"Exif", "payload": EXIF_GPS, "reference": 1}], {}),  # data in another file
        ([{"id": 2, "type": b"Exif", "payload": EXIF_GPS, "method": 2}], {}),  # built from other items
        ([{"id": 2, "type": b"Exif", "payload": EXIF_GPS, "length": 0}], {}),  # "to the end of the file"
        ([{"id": 2, "type": b"Exif", "payload": EXIF_GPS, "length": 10_000}], {}),  # past the end
        ([{"id": 2, "type": b"Exif", "payload": EXIF_GPS, "method": 1, "length": 10_000}], {}),  # past idat
        ([PICTURE], {"handler": b"vide"}),  # not an image
        ([PICTURE], {"top_extra": box(b"moov", b"")}),  # an image sequence
        ([PICTURE], {"top_extra": box(b"meta", b"\x00" * 4)}),  # two meta boxes
    ],
)
def test_heif_layouts_we_cannot_clean_are_refused(items: list[dict], options: dict) -> None:
    with pytest.raises(UnsupportedImage):
        strip_metadata(synthetic_heif(items, **options))


@pytest.mark.parametrize(
    "in_idat", [PICTURE | {"method": 1}, {"id": 2, "type": b"Exif", "payload": EXIF_GPS, "method": 1}]
)
def test_heif_item_in_idat_without_an_idat_box_is_refused(in_idat: dict) -> None:
    data = synthetic_heif([PICTURE, {"id": 2, "type": b"Exif", "payload": EXIF_GPS}, in_idat | {"id": 4}])
    assert data.count(b"idat") == 1
    with pytest.raises(UnsupportedImage):
        strip_metadata(data.replace(b"idat", b"free"))


def test_heif_metadata_item_without_location_is_refused() -> None:
    data = synthetic_heif([PICTURE, {"id": 2, "type": b"Exif", "payload": EXIF_GPS}])
    # Renumber the Exif item in iinf only, so iloc no longer knows it.
    renumbered = data.replace(b"\x00\x02\x00\x00Exif", b"\x00\x09\x00\x00Exif")
    assert renumbered != data
    with pytest.raises(UnsupportedImage):
        strip_metadata(renumbered)


def test_heif_metadata_extent_pointing_at_the_header_is_refused() -> None:
    data = synthetic_heif([PICTURE, {"id": 2, "type": b"Exif", "payload": EXIF_GPS}])
    exif_offset = struct.pack(">I", data.index(EXIF_GPS))
    assert data.count(exif_offset) == 1
    with pytest.raises(UnsupportedImage):
        strip_metadata(data.replace(exif_offset, struct.pack(">I", 8)))  # inside ftyp


def test_unknown_item_type_holding_gps_is_refused_not_passed_through() -> None:
    # An Exif block hidden under an item type we do not clean: the last guard refuses the file.
    data = synthetic_heif([PICTURE, {"id": 2, "type": b"Exix", "payload": EXIF_GPS}])
    with pytest.raises(UnsupportedImage):
        strip_metadata(data)


# --- has_location_metadata ----------------------------------------------------------------------


def tiff_with(tag: int) -> bytes:
    return b"II\x2a\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHII", tag, 4, 1, 26) + b"\x00" * 4


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (tiff_with(GPS_IFD), True),  # little-endian TIFF with a GPS pointer
        (b"junk" + EXIF_GPS[10:], True),  # big-endian, anywhere in the bytes
        (tiff_with(ORIENTATION), False),  # Exif without GPS
        (b'<rdf:Description exif:GPSLongitude="139,50.8E"/>', True),
        (b"<drone-dji:GpsLatitude>35.74</drone-dji:GpsLatitude>", True),
        (b"<exif:GPSDestLatitude>35,44.6N</exif:GPSDestLatitude>", True),
        (b"<dc:title>GPS unit test</dc:title>", False),
        (b"<exif:GPSVersionID>2.3.0.0</exif:GPSVersionID>", False),  # says nothing about the place
        (b"II\x2a\x00\xff\xff\xff\xff", False),  # a TIFF header pointing nowhere
        (b"", False),
    ],
)
def test_has_location_metadata(data: bytes, expected: bool) -> None:
    assert has_location_metadata(data) is expected


def png_with(chunks: list[tuple[bytes, bytes]]) -> bytes:
    # The palette fixture without its metadata, built by the test's own reader.
    base = [
        c
        for c in png_chunks(fixture("gps_palette.png"))
        if c[0] in (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND")
    ]
    out = b"\x89PNG\r\n\x1a\n"
    for ctype, body in [base[0], *chunks, *base[1:]]:
        out += struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))
    return out


def test_has_location_metadata_looks_inside_compressed_png_text() -> None:
    compressed_xmp = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP_GPS)
    assert XMP_GPS not in compressed_xmp
    assert has_location_metadata(png_with([(b"iTXt", compressed_xmp)]))
    hexed = b"\nexif\n      40\n" + EXIF_GPS[4:].hex().encode()
    assert has_location_metadata(
        png_with([(b"zTXt", b"Raw profile type exif\x00\x00" + zlib.compress(hexed))])
    )
    assert not has_location_metadata(png_with([(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"hello"))]))


def test_has_location_metadata_reads_a_damaged_png_up_to_the_damage() -> None:
    compressed_xmp = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(XMP_GPS)
    damaged = png_with([(b"iTXt", compressed_xmp)])[:-40]  # cut inside the image data
    assert has_location_metadata(damaged)


# --- malformed input ----------------------------------------------------------------------------


def complete_length(name: str) -> int:
    """Where the picture itself ends: what follows is a trailer, and a cut there loses nothing."""
    data = fixture(name)
    if name == "gps_mpo.jpg":
        return data.index(b"\xff\xd8\xff", 2)  # the second picture starts after the first EOI
    btype, start, _ = top_boxes(data)[-1]
    return start if btype == b"mpvd" else len(data)


@pytest.mark.parametrize("name", KINDS)
def test_every_truncation_is_refused(name: str) -> None:
    data = fixture(name)
    complete = complete_length(name)
    for cut in range(complete):
        with pytest.raises(UnsupportedImage):
            strip_metadata(data[:cut])
    # Cutting into a trailer only loses the trailer, which stripping drops anyway (JPEG) or
    # frees (HEIC: a whole box, so only a cut on its boundary parses).
    expected = strip_metadata(data)
    for cut in range(complete, len(data)):
        if name.endswith(".jpg"):
            assert strip_metadata(data[:cut]) == expected
        elif cut == complete:
            assert strip_metadata(data[:cut]) == expected[:cut]
        else:
            with pytest.raises(UnsupportedImage):
                strip_metadata(data[:cut])


def with_u16(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + struct.pack(">H", value) + data[at + 2 :]


def with_u32(data: bytes, at: int, value: int) -> bytes:
    return data[:at] + struct.pack(">I", value) + data[at + 4 :]


def wrong_lengths() -> list[tuple[str, bytes]]:
    jpeg, png, heic = fixture("gps.jpg"), fixture("gps.png"), fixture("gps.heic")
    sos = jpeg.index(b"\xff\xda")
    sof = jpeg.index(b"\xff\xc0")
    iloc = heic.index(b"iloc")
    return [
        ("jpeg app0 length 0", with_u16(jpeg, 4, 0)),
        ("jpeg app0 length 1", with_u16(jpeg, 4, 1)),
        ("jpeg app0 length past the end", with_u16(jpeg, 4, 0xFFFF)),
        (
            "jpeg no frame header",
            jpeg[:sof] + jpeg[sof + 2 + struct.unpack(">H", jpeg[sof + 2 : sof + 4])[0] :],
        ),
        ("jpeg no EOI", jpeg[:-2]),
        ("jpeg EOI before any scan", jpeg[:sos] + b"\xff\xd9"),
        ("jpeg second SOI", jpeg[:2] + b"\xff\xd8" + jpeg[2:]),
        ("jpeg garbage between segments", jpeg[:2] + b"\x00" + jpeg[2:]),
        ("png IHDR length huge", with_u32(png, 8, 0x7FFFFFFF)),
        ("png IHDR length over 2^31", with_u32(png, 8, 0x80000000)),
        ("png bad CRC", png[:29] + bytes([png[29] ^ 1]) + png[30:]),
        ("png bad chunk type", png[:12] + b"IH\x00R" + png[16:]),
        ("png no IHDR first", png[:8] + png[33:]),
        ("png no IEND", png[:-12]),
        ("png unknown critical chunk", png_with([(b"ABCD", b"x")])),
        ("heic box size 4", with_u32(heic, 28, 4)),
        ("heic box size past the end", with_u32(heic, 28, len(heic))),
        (
            "heic largesize past the end",
            heic[:28] + b"\x00\x00\x00\x01meta" + struct.pack(">Q", 1 << 40) + heic[44:],
        ),
        ("heic iloc version 3", heic[: iloc + 4] + b"\x03" + heic[iloc + 5 :]),
        ("heic iloc field size 3", heic[: iloc + 8] + b"\x34" + heic[iloc + 9 :]),
        ("heic ftyp only", heic[:28]),
        ("heic without meta", heic[:28] + heic[top_boxes(heic)[2][1] :]),
    ]


@pytest.mark.parametrize(("label", "data"), wrong_lengths(), ids=[label for label, _ in wrong_lengths()])
def test_wrong_lengths_and_structures_are_refused(label: str, data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        strip_metadata(data)


def test_unsupported_image_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a JPEG, PNG or HEIC"):
        strip_metadata(b"GIF89a")


def assert_clean_or_refused(data: bytes) -> None:
    """The contract for any input: UnsupportedImage, or an image of the same type without location."""
    try:
        cleaned = strip_metadata(data)
    except UnsupportedImage:
        return
    assert sniff(cleaned) == sniff(data)
    assert not has_location_metadata(cleaned)
    assert strip_metadata(cleaned) == cleaned


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    assert_clean_or_refused(data)
    has_location_metadata(data)  # never raises either


MAGIC = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    ftyp(b"heic", b"mif1"),
    ftyp(b"heic") + b"\x00\x00\x00\x10meta\x00\x00\x00\x00",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_random_bytes_behind_real_magic(magic: bytes, tail: bytes) -> None:
    assert_clean_or_refused(magic + tail)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(KINDS)),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_mutated_fixtures(name: str, edits: list[tuple[float, int]]) -> None:
    data = bytearray(fixture(name))
    for where, value in edits:
        data[int(where * len(data))] = value
    assert_clean_or_refused(bytes(data))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(KINDS)), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=64))
def test_fixtures_with_inserted_bytes(name: str, where: float, inserted: bytes) -> None:
    data = fixture(name)
    at = int(where * len(data))
    assert_clean_or_refused(data[:at] + inserted + data[at:])


# --- size and time ------------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024


def noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), random.Random(3).randbytes(width * height * 3))


@pytest.fixture(scope="module")
def big_images() -> dict[str, bytes]:
    exif = decode(fixture("gps.jpg")).info["exif"]
    jpeg = io.BytesIO()
    noise(1800, 1450).save(jpeg, "JPEG", quality=100, subsampling=0, exif=exif)
    png = io.BytesIO()
    noise(1900, 1800).save(png, "PNG", compress_level=1, exif=exif)
    filler = random.Random(4).randbytes(TEN_MB)
    heic = fixture("gps_iloc_v2.heic") + struct.pack(">I", 8 + len(filler)) + b"skip" + filler
    return {"jpeg": jpeg.getvalue(), "png": png.getvalue(), "heic": heic}


def timed_strip(data: bytes) -> tuple[bytes, float]:
    started = time.perf_counter()
    cleaned = strip_metadata(data)
    return cleaned, time.perf_counter() - started


@pytest.mark.parametrize("kind", ["jpeg", "png", "heic"])
def test_a_ten_megabyte_photo_takes_well_under_a_second(big_images: dict[str, bytes], kind: str) -> None:
    data = big_images[kind]
    assert len(data) >= 8 * 1024 * 1024
    assert has_location_metadata(data)
    cleaned, seconds = timed_strip(data)
    assert seconds < 1.0, f"{kind}: {seconds:.2f}s"
    assert not has_location_metadata(cleaned)


def shared_ifd(headers: int = 20_000, entries: int = 4096) -> bytes:
    """Many TIFF headers whose IFD0 offsets all point at one large IFD at the end."""
    ifd_at = 8 * headers
    heads = b"".join(b"II\x2a\x00" + struct.pack("<I", ifd_at - 8 * i) for i in range(headers))
    return heads + struct.pack("<H", entries) + struct.pack("<HHII", ORIENTATION, 3, 1, 1) * entries


def hostile_inputs() -> list[tuple[str, bytes]]:
    jpeg = fixture("gps.jpg")
    segments, _ = jpeg_segments(jpeg)
    tables = [(m, p) for m, p in segments if m < 0xE0]  # DQT, SOF, DHT: no metadata
    header = b"\xff\xd8" + b"".join(bytes([0xFF, m]) + struct.pack(">H", len(p) + 2) + p for m, p in tables)
    sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    png = fixture("gps_palette.png")
    tiny_chunk = struct.pack(">I", 0) + b"prVt" + struct.pack(">I", zlib.crc32(b"prVt"))
    return [
        ("jpeg of empty comments", b"\xff\xd8" + b"\xff\xfe\x00\x02" * (TEN_MB // 4)),
        ("jpeg of fill bytes", b"\xff\xd8" + b"\xff" * TEN_MB),
        ("jpeg scan of stuffed bytes", header + sos + b"\xff\x00" * (TEN_MB // 2) + b"\xff\xd9"),
        ("png of empty chunks", png[:33] + tiny_chunk * (TEN_MB // 12) + png[33:]),
        ("heic of empty boxes", ftyp(b"heic") + b"\x00\x00\x00\x08free" * (TEN_MB // 8)),
        ("tiff headers everywhere", b"\xff\xd8" + b"II\x2a\x00" * (TEN_MB // 4)),
        ("tiff headers sharing one huge ifd", shared_ifd()),
        (
            "png of compressed tiff traps",
            png_with([(b"zTXt", b"t\x00\x00" + zlib.compress(shared_ifd(200, 400), 9))] * 3000),
        ),
    ]


@pytest.mark.parametrize(("label", "data"), hostile_inputs(), ids=[label for label, _ in hostile_inputs()])
def test_hostile_ten_megabyte_inputs_finish_quickly(label: str, data: bytes) -> None:
    started = time.perf_counter()
    with contextlib.suppress(UnsupportedImage):
        strip_metadata(data)
    has_location_metadata(data)
    assert time.perf_counter() - started < 2.0, label


def _png_of(width: int, height: int) -> bytes:
    """A PNG that declares this size over a few bytes of data (nothing here decodes it)."""

    def chunk(ctype: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def _with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    at = 2
    while data[at + 1] not in (0xC0, 0xC1, 0xC2):  # segment by segment to the frame header
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def _with_heif_size(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"ispe") + 8  # type, version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


@pytest.mark.parametrize(
    "make",
    [
        lambda: _png_of(20_000, 20_000),
        lambda: _with_jpeg_size(fixture("gps.jpg"), 20_000, 20_000),
        lambda: _with_heif_size(fixture("gps.heic"), 20_000, 20_000),
    ],
    ids=["png", "jpeg", "heic"],
)
def test_a_picture_of_more_pixels_than_any_phone_takes_is_refused(make) -> None:
    """An outside run: a 48 KB PNG of 20,000 x 20,000 pixels was kept and shown to staff."""
    from chalicelib.domain.images import TooManyPixels

    with pytest.raises(TooManyPixels):
        strip_metadata(make())


def test_a_108_megapixel_phone_photo_is_kept() -> None:
    assert sniff(strip_metadata(_png_of(12_000, 9_000))) == PNG
    assert sniff(strip_metadata(_with_jpeg_size(fixture("gps.jpg"), 12_000, 9_000))) == JPEG
