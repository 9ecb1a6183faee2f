"""Images: opened under a pixel limit, re-encoded without metadata, oriented, thumbnailed."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from tradetalk.attachments.sniff import AttachmentUnreadable, FileKind, UnsupportedAttachmentType
from tradetalk.errors import DomainError

try:  # HEIC (iPhone photos) decodes through libheif, shipped in pillow-heif's wheels.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is a dependency; kept optional on purpose
    HEIC_SUPPORTED = False

THUMBNAIL_BOX = (320, 320)
OCR_MAX_SIDE = 2000

_PILLOW_FORMAT = {
    FileKind.JPEG: "JPEG",
    FileKind.PNG: "PNG",
    FileKind.WEBP: "WEBP",
    FileKind.GIF: "GIF",
    FileKind.HEIC: "HEIF",
}
# HEIC is re-encoded as JPEG: browsers barely show HEIC, and every phone reads JPEG.
OUTPUT_KIND = {
    FileKind.JPEG: FileKind.JPEG,
    FileKind.PNG: FileKind.PNG,
    FileKind.WEBP: FileKind.WEBP,
    FileKind.GIF: FileKind.GIF,
    FileKind.HEIC: FileKind.JPEG,
}


class ImageTooLarge(DomainError):
    status = 422
    code = "image_too_large"
    title = "The image has too many pixels"


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A re-encoded image with no metadata, its thumbnail, and a copy for text recognition."""

    data: bytes
    kind: FileKind
    width: int
    height: int
    thumbnail: bytes  # WebP
    ocr_png: bytes  # greyscale, at most OCR_MAX_SIDE on its long side


def _open(file: IO[bytes], kind: FileKind, max_pixels: int) -> Image.Image:
    file.seek(0)
    try:
        with warnings.catch_warnings():
            # Our own limit below is the one that counts; Pillow's global one only warns here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file, formats=[_PILLOW_FORMAT[kind]])
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"Images may have at most {max_pixels:,} pixels.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise AttachmentUnreadable(
            f"The file starts like {kind.name} but cannot be read as one."
        ) from None
    width, height = image.size
    # Checked from the header, before any pixel is decoded: a 100-byte PNG can declare a
    # 100,000 x 100,000 canvas that would take tens of gigabytes to decode.
    if width * height > max_pixels or width <= 0 or height <= 0:
        image.close()
        raise ImageTooLarge(
            f"Images may have at most {max_pixels:,} pixels; this one has {width}x{height}."
        )
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert to sRGB when the image carries a colour profile, so dropping the profile keeps
    its colours (wide-gamut phone photos would look washed out otherwise)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.createProfile("sRGB")
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, target, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _pixels_only(image: Image.Image) -> Image.Image:
    """Strip the image (our own copy, from exif_transpose) down to its pixels and palette
    transparency: no EXIF, GPS, XMP, IPTC, ICC, comments or text chunks."""
    transparency = image.info.get("transparency")
    image.info = {}
    if transparency is not None and image.mode in ("P", "L", "RGB"):
        image.info["transparency"] = transparency
    return image


def _encode(image: Image.Image, kind: FileKind) -> bytes:
    out = io.BytesIO()
    if kind is FileKind.JPEG:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=88)
    elif kind is FileKind.PNG:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG")
    elif kind is FileKind.WEBP:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "WEBP", quality=88)
    else:
        if image.mode not in ("P", "L", "1"):
            image = image.convert("P", palette=Image.Palette.ADAPTIVE)
        image.save(out, "GIF")
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_BOX)
    has_alpha = "A" in thumb.getbands() or "transparency" in thumb.info
    thumb = thumb.convert("RGBA" if has_alpha else "RGB")
    thumb.info = {}
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80)
    return out.getvalue()


def _for_ocr(image: Image.Image) -> bytes:
    grey = image.convert("L")
    grey.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE))
    out = io.BytesIO()
    grey.save(out, "PNG", compress_level=1)  # read once by tesseract, then dropped
    return out.getvalue()


def sanitise(file: IO[bytes], kind: FileKind, *, max_pixels: int) -> CleanImage:
    """Decode a still image of `kind` (raise on a bomb, a mismatch, damage or animation), apply
    its orientation and re-encode it with no metadata at all; CPU-bound, run it in a thread."""
    if kind is FileKind.HEIC and not HEIC_SUPPORTED:  # pragma: no cover
        raise UnsupportedAttachmentType("HEIC photos are not supported on this server.")
    with _open(file, kind, max_pixels) as image:
        if getattr(image, "n_frames", 1) > 1:
            raise UnsupportedAttachmentType(
                "Animated images are not accepted; send a still image or a single frame."
            )
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise AttachmentUnreadable(f"The {kind.name} image is damaged or truncated.") from None
        if oriented is None:  # pragma: no cover - exif_transpose returns an image unless in_place
            oriented = image
        pixels = _pixels_only(_to_srgb(oriented))
    output_kind = OUTPUT_KIND[kind]
    return CleanImage(
        data=_encode(pixels, output_kind),
        kind=output_kind,
        width=pixels.width,
        height=pixels.height,
        thumbnail=_thumbnail(pixels),
        ocr_png=_for_ocr(pixels),
    )
