"""Remove identifying metadata (EXIF with GPS, XMP, text) from residents' photos.

Residents send photos with their reports (road damage, illegal dumping). Phones write where
and when the photo was taken, the device and sometimes the owner's name into the file; staff
need the picture, not that. This module cleans JPEG, PNG and HEIC in pure Python (the Lambda
package carries no imaging library) without decoding or re-encoding the picture, so pixels
are untouched and the work is a linear pass over the bytes.

Rules:
- JPEG: keep APP0 JFIF (without its thumbnail), APP2 ICC_PROFILE, APP14 Adobe and every
  segment a decoder needs; drop every other APPn (Exif, XMP, IPTC, MPF...), COM and anything
  after EOI (multi-picture trailers carry their own Exif). Scan data is copied verbatim.
- PNG: keep the critical chunks and the ancillary chunks that affect how pixels look
  (colour, transparency, density, animation); drop everything else (eXIf, tEXt, iTXt, zTXt,
  tIME, private chunks such as C2PA) and anything after IEND. Kept chunks are copied with
  their CRCs.
- HEIC: the file is patched in place, never shifted, so every offset stays valid. Exif items
  become an empty Exif block, XMP items an empty XMP packet; boxes no reader needs (top-level
  extras such as a motion-photo video, XML boxes in `meta`) become zero-filled `free` boxes.
- The Exif orientation (a photo taken in portrait) is not identifying and staff would see the
  photo sideways without it, so JPEG and PNG keep a minimal Exif block holding only that tag.

Anything that is not one of these formats, or that does not parse exactly, raises
UnsupportedImage: a half-cleaned image is never returned. As a last guard, a result in which
`has_location_metadata` still finds GPS data is refused too.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Iterator
from typing import Literal

JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"


class UnsupportedImage(ValueError):
    """Not a JPEG, PNG or HEIC that can be cleaned with certainty; do not keep or show it."""


class TooManyPixels(UnsupportedImage):
    """A picture larger than any phone takes: a few KB of PNG can declare 20,000 × 20,000 pixels,
    which would stall the staff browser that opens it."""


# A 108-megapixel phone camera's full picture fits; a decompression bomb does not.
MAX_PIXELS = 120_000_000


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise TooManyPixels(f"{width} x {height} pixels")


# --- sniffing ----------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# HEVC-coded HEIF brands (still images and sequences), ISO/IEC 23008-12 Annex B.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
# Generic HEIF brands: HEIC unless the file says it is AVIF, which we do not accept.
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def sniff(data: bytes) -> str | None:
    """The image type from the magic bytes: "image/jpeg", "image/png", "image/heic" or None."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == _PNG_SIGNATURE:
        return PNG
    if len(data) >= 12 and data[4:8] == b"ftyp":
        size = int.from_bytes(data[0:4], "big")
        if size < 16 or size % 4:
            return None
        major = data[8:12]
        compatible = {data[i : i + 4] for i in range(16, min(size, len(data)) - 3, 4)}
        if major in _HEIC_BRANDS:
            return HEIC
        if major in _HEIF_GENERIC_BRANDS and not compatible & _AVIF_BRANDS:
            return HEIC
    return None


def strip_metadata(data: bytes) -> bytes:
    """The same image with identifying metadata removed (see the module docstring).

    Raises UnsupportedImage for anything that is not a well-formed JPEG, PNG or HEIC.
    """
    data = bytes(data)
    kind = sniff(data)
    if kind == JPEG:
        cleaned = _strip_jpeg(data)
    elif kind == PNG:
        cleaned = _strip_png(data)
    elif kind == HEIC:
        cleaned = _strip_heic(data)
    else:
        raise UnsupportedImage("not a JPEG, PNG or HEIC image")
    # Defence in depth: whatever path the bytes took, location data never leaves here.
    if sniff(cleaned) != kind or has_location_metadata(cleaned):
        raise UnsupportedImage("location metadata could not be removed")
    return cleaned


# --- shared: minimal Exif carrying only the orientation ------------------------------------------

_TAG_ORIENTATION = 0x0112
_TAG_GPS_IFD = 0x8825
_TIFF_SHORT = 3
_MAX_IFD_ENTRIES = 4096


def _ifd0_entries(
    tiff: bytes, start: int = 0
) -> Iterator[tuple[int, int, int, bytes, Literal["big", "little"]]]:
    """Yield (tag, type, count, value_field_bytes, byte_order) for IFD0 of the TIFF at `start`.

    Returns nothing for anything that is not a readable TIFF header and IFD0: callers use this
    to look, never to decide whether an image is valid.
    """
    header = tiff[start : start + 8]
    if len(header) < 8:
        return
    order: Literal["big", "little"]
    if header[:2] == b"II":
        order = "little"
    elif header[:2] == b"MM":
        order = "big"
    else:
        return
    if int.from_bytes(header[2:4], order) != 42:
        return
    ifd = start + int.from_bytes(header[4:8], order)
    if ifd + 2 > len(tiff):
        return
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    if count > _MAX_IFD_ENTRIES:
        return
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            return
        yield (
            int.from_bytes(entry[0:2], order),
            int.from_bytes(entry[2:4], order),
            int.from_bytes(entry[4:8], order),
            entry[8:12],
            order,
        )


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (2..8) of a TIFF/Exif block, or None when absent or the default (1)."""
    for tag, typ, count, value, order in _ifd0_entries(tiff):
        if tag == _TAG_ORIENTATION and typ == _TIFF_SHORT and count == 1:
            orientation = int.from_bytes(value[0:2], order)
            return orientation if 2 <= orientation <= 8 else None
    return None


def _orientation_only_tiff(orientation: int) -> bytes:
    """A big-endian TIFF block with one IFD holding one entry: Orientation."""
    entry = (
        _TAG_ORIENTATION.to_bytes(2, "big")
        + _TIFF_SHORT.to_bytes(2, "big")
        + (1).to_bytes(4, "big")
        + orientation.to_bytes(2, "big")
        + b"\x00\x00"
    )
    return b"MM\x00\x2a" + (8).to_bytes(4, "big") + (1).to_bytes(2, "big") + entry + b"\x00\x00\x00\x00"


# --- JPEG ---------------------------------------------------------------------------------------

# Far above what any encoder writes (a progressive JPEG has tens of segments), low enough that a
# file of empty segments cannot keep the loop busy.
_JPEG_MAX_SEGMENTS = 10_000
_NOT_FILL = re.compile(rb"[^\xff]")
# The end of entropy-coded data: 0xFF followed by anything but stuffing (00), RSTn or fill.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_SOF_MARKERS = frozenset({*range(0xC0, 0xD0)} - {0xC4, 0xC8, 0xCC}) | {0xF7}
# Segments a decoder needs besides SOFn: DHT, DAC, DQT, DNL, DRI, DHP, EXP, JPEG-LS LSE.
_JPEG_TABLE_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xF8})
_EXIF_ID = b"Exif\x00\x00"


def _strip_jpeg(data: bytes) -> bytes:
    n = len(data)
    out = [b"\xff\xd8"]
    pos = 2
    seen_frame = seen_scan = exif_done = False
    for _ in range(_JPEG_MAX_SEGMENTS):
        if pos >= n or data[pos] != 0xFF:
            raise UnsupportedImage("JPEG: expected a marker")
        found = _NOT_FILL.search(data, pos)
        if found is None:
            raise UnsupportedImage("JPEG: truncated")
        marker = data[found.start()]
        pos = found.start() + 1
        if marker == 0xD9:  # EOI: anything after it (MPF images, vendor trailers) is dropped
            if not seen_scan:
                raise UnsupportedImage("JPEG: no image data")
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD8:
            raise UnsupportedImage("JPEG: unexpected marker")
        if pos + 2 > n:
            raise UnsupportedImage("JPEG: truncated")
        length = int.from_bytes(data[pos : pos + 2], "big")
        end = pos + length
        if length < 2 or end > n:
            raise UnsupportedImage("JPEG: bad segment length")
        if marker == 0xDA:  # SOS: copy the header and the entropy-coded data untouched
            if not seen_frame:
                raise UnsupportedImage("JPEG: scan before frame header")
            seen_scan = True
            scan_end = _SCAN_END.search(data, end)
            if scan_end is None:
                raise UnsupportedImage("JPEG: truncated scan")
            out.append(b"\xff\xda")
            out.append(data[pos : scan_end.start()])
            pos = scan_end.start()
            continue
        payload = data[pos + 2 : end]
        if marker in _SOF_MARKERS:
            seen_frame = True
            if len(payload) >= 5:  # precision, then height and width
                _check_pixels(int.from_bytes(payload[3:5], "big"), int.from_bytes(payload[1:3], "big"))
            out.append(data[pos - 2 : end])
        elif marker in _JPEG_TABLE_MARKERS:
            out.append(data[pos - 2 : end])
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            # Keep the JFIF header (density, version); drop its embedded thumbnail, which may
            # show the uncropped original.
            out.append(b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00")
        elif marker == 0xE1 and payload.startswith(_EXIF_ID) and not exif_done:
            exif_done = True
            orientation = _exif_orientation(payload[len(_EXIF_ID) :])
            if orientation is not None:
                block = _EXIF_ID + _orientation_only_tiff(orientation)
                out.append(b"\xff\xe1" + (len(block) + 2).to_bytes(2, "big") + block)
        elif (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00")) or (
            marker == 0xEE and payload.startswith(b"Adobe")
        ):
            out.append(data[pos - 2 : end])
        # Everything else (APPn, COM, reserved markers) is metadata a decoder does not need.
        pos = end
    raise UnsupportedImage("JPEG: too many segments")


# --- PNG ----------------------------------------------------------------------------------------

_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
# Ancillary chunks that change how the pixels look or move; all others are dropped.
_PNG_KEEP = frozenset(
    {
        b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"mDCv", b"cLLI",
        b"cLLi", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"sTER", b"acTL", b"fcTL", b"fdAT",
    }
)  # fmt: skip
_PNG_MAX_CHUNKS = 200_000
_PNG_MAX_CHUNK = 2**31 - 1


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int, int]]:
    """Yield (type, start, data_start, end) for each chunk up to and including IEND, checked."""
    view = memoryview(data)
    n = len(data)
    pos = len(_PNG_SIGNATURE)
    for index in range(_PNG_MAX_CHUNKS):
        if pos + 12 > n:
            raise UnsupportedImage("PNG: truncated")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > _PNG_MAX_CHUNK or end > n:
            raise UnsupportedImage("PNG: bad chunk length")
        if not ctype.isalpha() or not ctype.isascii():
            raise UnsupportedImage("PNG: bad chunk type")
        if zlib.crc32(view[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise UnsupportedImage("PNG: bad chunk CRC")
        if index == 0 and ctype != b"IHDR":
            raise UnsupportedImage("PNG: IHDR must come first")
        yield ctype, pos, pos + 8, end
        if ctype == b"IEND":
            return
        pos = end
    raise UnsupportedImage("PNG: too many chunks")


def _strip_png(data: bytes) -> bytes:
    out = [_PNG_SIGNATURE]
    seen_idat = exif_done = False
    for ctype, start, body, end in _png_chunks(data):
        if ctype == b"IHDR" and end - body >= 12:  # width, height
            _check_pixels(
                int.from_bytes(data[body : body + 4], "big"), int.from_bytes(data[body + 4 : body + 8], "big")
            )
        if ctype in _PNG_CRITICAL or ctype in _PNG_KEEP:
            seen_idat = seen_idat or ctype == b"IDAT"
            if ctype == b"IEND":
                if not seen_idat:
                    raise UnsupportedImage("PNG: no image data")
                out.append(data[start:end])
                return b"".join(out)
            out.append(data[start:end])
        elif ctype == b"eXIf" and not exif_done:
            exif_done = True
            orientation = _exif_orientation(data[body : end - 4])
            if orientation is not None:
                out.append(_png_chunk(b"eXIf", _orientation_only_tiff(orientation)))
        elif ctype[0:1].isupper() and ctype != b"eXIf":
            # An unknown critical chunk: a decoder must refuse the file, so do we.
            raise UnsupportedImage("PNG: unknown critical chunk")
    raise UnsupportedImage("PNG: no IEND")  # unreachable: _png_chunks raises first


# --- HEIC (ISO base media file format, ISO/IEC 14496-12 and 23008-12) -----------------------------

_MAX_BOXES = 10_000
_MAX_EXTENTS = 100_000
# Top-level and `meta` boxes kept as they are; others are turned into zero-filled `free` boxes.
_HEIF_TOP_KEEP = frozenset({b"ftyp", b"meta", b"mdat"})
_HEIF_META_KEEP = frozenset(
    {b"hdlr", b"pitm", b"iloc", b"iinf", b"iref", b"iprp", b"idat", b"dinf", b"ipro", b"grpl", b"ipmc"}
)
_XMP_CONTENT_TYPE = "application/rdf+xml"
# An Exif item: a 4-byte offset to the TIFF header (0: it follows at once), then an empty IFD0.
_EMPTY_EXIF_ITEM = b"\x00\x00\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"
_XMP_HEAD = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
)
_XMP_TAIL = b'<?xpacket end="w"?>'


class _Box:
    __slots__ = ("type", "start", "body", "end", "type_at")

    def __init__(self, btype: bytes, start: int, body: int, end: int) -> None:
        self.type = btype
        self.start = start  # first byte of the box
        self.body = body  # first byte after the header (size, type, largesize, uuid)
        self.end = end  # first byte after the box
        self.type_at = start + 4


def _u(data: bytes, pos: int, size: int, end: int) -> int:
    if size == 0:
        return 0
    if pos + size > end:
        raise UnsupportedImage("HEIF: truncated box")
    return int.from_bytes(data[pos : pos + size], "big")


def _boxes(data: bytes, start: int, end: int, *, top_level: bool = False) -> list[_Box]:
    boxes: list[_Box] = []
    pos = start
    while pos < end:
        if len(boxes) >= _MAX_BOXES:
            raise UnsupportedImage("HEIF: too many boxes")
        size = _u(data, pos, 4, end)
        btype = data[pos + 4 : pos + 8]
        if len(btype) < 4:
            raise UnsupportedImage("HEIF: truncated box")
        header = 8
        if size == 1:
            size = _u(data, pos + 8, 8, end)
            header = 16
        elif size == 0:
            if not top_level:
                raise UnsupportedImage("HEIF: open-ended box inside a container")
            size = end - pos
        if btype == b"uuid":
            header += 16
        if size < header or pos + size > end:
            raise UnsupportedImage("HEIF: bad box size")
        boxes.append(_Box(btype, pos, pos + header, pos + size))
        pos += size
    return boxes


def _optional(boxes: list[_Box], btype: bytes) -> _Box | None:
    """The one box of this type, or None; two of them make the file ambiguous."""
    found = [box for box in boxes if box.type == btype]
    if len(found) > 1:
        raise UnsupportedImage(f"HEIF: more than one {btype.decode('latin-1')} box")
    return found[0] if found else None


def _required(boxes: list[_Box], btype: bytes) -> _Box:
    box = _optional(boxes, btype)
    if box is None:
        raise UnsupportedImage(f"HEIF: no {btype.decode('latin-1')} box")
    return box


def _cstring(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """A NUL-terminated string; a missing final NUL (some writers) ends at the box end."""
    nul = data.find(b"\x00", pos, end)
    if nul < 0:
        return data[pos:end], end
    return data[pos:nul], nul + 1


def _metadata_items(data: bytes, iinf: _Box) -> dict[int, str]:
    """Item id -> "exif" | "xmp" for the items that carry metadata."""
    version = _u(data, iinf.body, 1, iinf.end)
    count_size = 2 if version == 0 else 4
    _u(data, iinf.body + 4, count_size, iinf.end)  # entry_count: the infe boxes are what counts
    items: dict[int, str] = {}
    for infe in _boxes(data, iinf.body + 4 + count_size, iinf.end):
        if infe.type != b"infe":
            continue
        end = infe.end
        infe_version = _u(data, infe.body, 1, end)
        pos = infe.body + 4
        if infe_version >= 2:
            id_size = 2 if infe_version == 2 else 4
            item_id = _u(data, pos, id_size, end)
            pos += id_size + 2  # item_protection_index
            item_type = data[pos : pos + 4]
            if len(item_type) < 4:
                raise UnsupportedImage("HEIF: truncated item info")
            _, pos = _cstring(data, pos + 4, end)  # item_name
            content_type = b""
            if item_type == b"mime":
                content_type, pos = _cstring(data, pos, end)
        else:
            item_id = _u(data, pos, 2, end)
            pos += 4
            item_type = b""
            _, pos = _cstring(data, pos, end)
            content_type, pos = _cstring(data, pos, end)
        mime = content_type.split(b";")[0].strip().decode("latin-1").lower()
        if item_type == b"Exif":
            items[item_id] = "exif"
        elif mime == _XMP_CONTENT_TYPE and item_type in (b"mime", b""):
            items[item_id] = "xmp"
    return items


def _item_locations(data: bytes, iloc: _Box) -> dict[int, tuple[int, int, list[tuple[int, int]]]]:
    """Item id -> (construction_method, data_reference_index, [(offset, length), ...]).

    Offsets already include the base offset; lengths of 0 mean "to the end of the source".
    """
    end = iloc.end
    version = _u(data, iloc.body, 1, end)
    if version > 2:
        raise UnsupportedImage("HEIF: unknown iloc version")
    pos = iloc.body + 4
    sizes = _u(data, pos, 2, end)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_offset_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF
    if version == 0:
        index_size = 0
    for size in (offset_size, length_size, base_offset_size, index_size):
        if size not in (0, 4, 8):
            raise UnsupportedImage("HEIF: bad iloc field size")
    pos += 2
    id_size = 4 if version == 2 else 2
    item_count = _u(data, pos, id_size, end)
    pos += id_size
    locations: dict[int, tuple[int, int, list[tuple[int, int]]]] = {}
    total_extents = 0
    for _ in range(item_count):
        item_id = _u(data, pos, id_size, end)
        pos += id_size
        method = 0
        if version >= 1:
            method = _u(data, pos, 2, end) & 0xF
            pos += 2
        reference = _u(data, pos, 2, end)
        base = _u(data, pos + 2, base_offset_size, end)
        pos += 2 + base_offset_size
        extent_count = _u(data, pos, 2, end)
        pos += 2
        total_extents += extent_count
        if total_extents > _MAX_EXTENTS:
            raise UnsupportedImage("HEIF: too many extents")
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = _u(data, pos, offset_size, end)
            length = _u(data, pos + offset_size, length_size, end)
            pos += offset_size + length_size
            extents.append((base + offset, length))
        if item_id in locations:
            raise UnsupportedImage("HEIF: item located twice")
        locations[item_id] = (method, reference, extents)
    return locations


def _empty_payload(kind: str, length: int) -> bytes:
    """A payload of exactly `length` bytes that readers accept as empty metadata."""
    if kind == "exif" and length >= len(_EMPTY_EXIF_ITEM):
        return _EMPTY_EXIF_ITEM + b"\x00" * (length - len(_EMPTY_EXIF_ITEM))
    if kind == "xmp" and length >= len(_XMP_HEAD) + len(_XMP_TAIL):
        # XMP packets are conventionally padded with whitespace before the trailer.
        return _XMP_HEAD + b" " * (length - len(_XMP_HEAD) - len(_XMP_TAIL)) + _XMP_TAIL
    return b"\x00" * length


def _free(out: bytearray, box: _Box) -> None:
    """Turn a box into a zero-filled `free` box of the same size (offsets elsewhere unchanged)."""
    out[box.type_at : box.type_at + 4] = b"free"
    # A uuid box's user type sits after the (large)size; it is payload of a free box.
    payload = box.body - 16 if box.type == b"uuid" else box.body
    out[payload : box.end] = bytes(box.end - payload)


def _check_heif_pixels(data: bytes, meta_children: list[_Box]) -> None:
    """Every image size the file declares (`ispe` properties in iprp/ipco), each checked."""
    iprp = _optional(meta_children, b"iprp")
    ipco = _optional(_boxes(data, iprp.body, iprp.end), b"ipco") if iprp else None
    for prop in _boxes(data, ipco.body, ipco.end) if ipco else []:
        if prop.type == b"ispe" and prop.end - prop.body >= 12:  # version/flags, width, height
            _check_pixels(_u(data, prop.body + 4, 4, prop.end), _u(data, prop.body + 8, 4, prop.end))


def _strip_heic(data: bytes) -> bytes:
    n = len(data)
    top = _boxes(data, 0, n, top_level=True)
    if not top or top[0].type != b"ftyp":
        raise UnsupportedImage("HEIF: ftyp must come first")
    if any(box.type == b"moov" for box in top):
        # Image sequences keep their metadata in tracks; we only clean still images.
        raise UnsupportedImage("HEIF: image sequences are not supported")
    meta = _required(top, b"meta")
    if _u(data, meta.body, 1, meta.end) != 0:
        raise UnsupportedImage("HEIF: unknown meta version")
    children = _boxes(data, meta.body + 4, meta.end)
    hdlr = _required(children, b"hdlr")
    if data[hdlr.body + 8 : hdlr.body + 12] != b"pict":
        raise UnsupportedImage("HEIF: not an image")
    _check_heif_pixels(data, children)
    items = _metadata_items(data, _required(children, b"iinf"))
    locations = _item_locations(data, _required(children, b"iloc"))
    idat = _optional(children, b"idat")

    # Every byte range some item reads, in file offsets; length 0 reaches the end of its source.
    # An extent past the end of its source means a truncated or corrupt file.
    used: list[tuple[int, int]] = []
    for method, reference, extents in locations.values():
        if reference != 0 or method not in (0, 1):
            continue  # data in another file, or built from other items: nothing to read here
        if method == 0:
            source_start, source_end = 0, n
        elif idat is not None:
            source_start, source_end = idat.body, idat.end
        else:
            raise UnsupportedImage("HEIF: item in idat without an idat box")
        for offset, length in extents:
            start = source_start + offset
            stop = start + length if length else source_end
            if stop > source_end:
                raise UnsupportedImage("HEIF: item extent out of bounds")
            used.append((start, stop))

    out = bytearray(data)
    for item_id, kind in items.items():
        if item_id not in locations:
            raise UnsupportedImage("HEIF: metadata item without location")
        method, reference, extents = locations[item_id]
        if reference != 0:
            raise UnsupportedImage("HEIF: metadata item in another file")
        if method == 0:
            source_start, source_end = 0, n
        elif method == 1 and idat is not None:
            source_start, source_end = idat.body, idat.end
        else:
            raise UnsupportedImage("HEIF: unsupported construction method for metadata")
        spans = []
        for offset, length in extents:
            start = source_start + offset
            if length == 0 or start + length > source_end:
                raise UnsupportedImage("HEIF: metadata extent out of bounds")
            if method == 0 and any(start < box.end and start + length > box.start for box in (top[0], meta)):
                # Zeroing it would break ftyp or the item tables themselves.
                raise UnsupportedImage("HEIF: metadata extent overlaps the file header")
            spans.append((start, length))
        payload = _empty_payload(kind, sum(length for _, length in spans))
        written = 0
        for start, length in spans:
            out[start : start + length] = payload[written : written + length]
            written += length

    # Boxes no still-image reader needs, and which no item reads from, lose their content.
    read = _Ranges(used)
    unneeded = [box for box in top if box.type not in _HEIF_TOP_KEEP]
    unneeded += [box for box in children if box.type not in _HEIF_META_KEEP]
    for box in unneeded:
        if not read.overlaps(box.start, box.end):
            _free(out, box)
    return bytes(out)


class _Ranges:
    """Byte ranges [start, end) answering "does any overlap [a, b)?" in O(log n)."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        ranges = sorted(ranges)
        self._starts = [start for start, _ in ranges]
        self._max_end: list[int] = []  # the furthest end among the ranges up to each index
        furthest = -1
        for _, end in ranges:
            furthest = max(furthest, end)
            self._max_end.append(furthest)

    def overlaps(self, a: int, b: int) -> bool:
        count = bisect.bisect_left(self._starts, b)  # ranges that start before b
        return count > 0 and self._max_end[count - 1] > a


# --- location audit -----------------------------------------------------------------------------

_TIFF_HEADER = re.compile(rb"II\x2a\x00|MM\x00\x2a")
# XMP properties that place the photo (exif:GPSLatitude, exif:GPSDestLongitude...) under any
# namespace prefix, and the drone spelling (drone-dji:GpsLatitude, ...GpsLongtitude). Whole
# names, because the last guard in strip_metadata runs this over compressed pixel data: a short
# pattern would match random bytes in about one 10 MB photo in a few thousand and refuse it.
_XMP_GPS = re.compile(
    rb":G(?:PS|ps)(?:Dest)?(?:Latitude|Longitude|Longtitude|Altitude|AreaInformation|Position)"
)
_MAX_TIFF_CANDIDATES = 10_000
_MAX_ENTRIES_SCANNED = 100_000
_MAX_INFLATE = 16 * 1024 * 1024
_HEX = re.compile(rb"[^0-9a-fA-F]")


def has_location_metadata(data: bytes) -> bool:
    """True if an EXIF GPS IFD or XMP GPS property can be found anywhere in the file.

    It looks at the raw bytes (so trailers and unknown containers count) and, for PNG, inside
    compressed text chunks, even in a damaged file. Where the work would be unbounded (an
    absurd number of TIFF headers or IFD entries) it cannot rule GPS out, and says True.
    """
    data = bytes(data)
    scan = _LocationScan()
    if scan.contains(data):
        return True
    if sniff(data) == PNG:
        return any(scan.contains(text) for text in _png_texts(data))
    return False


class _LocationScan:
    """Looks for GPS data in byte strings, with one work budget for everything in one file."""

    def __init__(self) -> None:
        self.candidates = _MAX_TIFF_CANDIDATES
        self.entries = _MAX_ENTRIES_SCANNED

    def contains(self, data: bytes) -> bool:
        if _XMP_GPS.search(data):
            return True
        for match in _TIFF_HEADER.finditer(data):
            self.candidates -= 1
            if self.candidates < 0:
                return True
            for tag, *_ in _ifd0_entries(data, match.start()):
                if tag == _TAG_GPS_IFD:
                    return True
                self.entries -= 1
                if self.entries < 0:
                    return True
        return False


def _png_texts(data: bytes) -> Iterator[bytes]:
    """Yield decompressed zTXt/iTXt payloads (and ImageMagick's hex "Raw profile" blobs).

    Reads chunks until the first damaged one: an audit wants what is there, not a verdict.
    """
    budget = _MAX_INFLATE
    chunks = _png_chunks(data)
    while budget > 0:
        try:
            ctype, _, body, end = next(chunks)
        except (StopIteration, UnsupportedImage):
            return
        content = data[body : end - 4]
        keyword, _, rest = content.partition(b"\x00")
        if ctype == b"zTXt":
            compressed = rest[1:]
        elif ctype == b"iTXt" and rest[:1] == b"\x01":
            _, _, after_tags = rest[2:].partition(b"\x00")  # language tag
            compressed = after_tags.partition(b"\x00")[2]  # translated keyword
        else:
            compressed = None
        if compressed is not None:
            try:
                text = zlib.decompressobj().decompress(compressed, budget)
            except zlib.error:
                continue
            budget -= len(text)
            yield text
        else:
            text = rest  # already scanned as part of the raw bytes
        if keyword.startswith(b"Raw profile type"):
            digits = _HEX.sub(b"", text.split(b"\n", 3)[-1])
            budget -= len(digits) // 2
            yield bytes.fromhex(digits[: len(digits) // 2 * 2].decode("ascii"))
