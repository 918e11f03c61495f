"""Serving stored candidate images: the one response every page that shows an image uses (the
candidate pages, the annotators' grid, the audit, panel and MTurk pages).

A stored file is always served with a fixed image type from an allow-list, ``nosniff`` and a
sandboxing Content-Security-Policy, so a file that is really HTML or SVG never renders as a page
(Label Studio's stored XSS through uploads served with a guessed Content-Type;
docs/architecture.md §6). Who may see an image is the calling view's business.
"""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404

# Formats a browser renders, by Pillow's format name; anything else is shown as the thumbnail.
BROWSER_IMAGE_TYPES = {
    "JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
}  # fmt: skip
# Every format the candidate pages serve as is (staff may download a BMP or TIFF original).
IMAGE_TYPES = {**BROWSER_IMAGE_TYPES, "BMP": "image/bmp", "TIFF": "image/tiff"}


def image_response(field: FieldFile | None, *, content_type: str = "image/jpeg") -> FileResponse:
    """The stored file as an inline image with the security headers; 404 when it is missing."""
    if not field:
        raise Http404("no file")
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("file missing from storage") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def candidate_view_response(candidate, *, large: bool) -> FileResponse:
    """What a labeling grid shows: the thumbnail (always JPEG), or for the larger view the
    original when browsers render its format, else the thumbnail again."""
    if large:
        content_type = BROWSER_IMAGE_TYPES.get((candidate.format or "").upper())
        if content_type is not None:
            return image_response(candidate.image, content_type=content_type)
    return image_response(candidate.thumbnail, content_type="image/jpeg")
