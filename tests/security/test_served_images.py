"""Stored images are always served with a fixed image Content-Type, nosniff and a sandbox CSP —
an HTML file stored as a candidate never renders as a page (Label Studio's stored XSS)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from tests.factories import CandidateFactory

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "", "HTML", "SVG"])
def test_html_stored_as_an_image_is_served_as_an_image(world, fmt):
    candidate = CandidateFactory(
        synset=world["synset"], format=fmt,
        image=ContentFile(HTML, name="evil.html"), thumbnail=ContentFile(HTML, name="evil.svg"),
    )  # fmt: skip
    client = Client()
    client.force_login(world["owner"])
    for url in (f"/candidates/{candidate.pk}/image", f"/candidates/{candidate.pk}/thumbnail",
                f"/label/image/{candidate.pk}/", f"/label/thumb/{candidate.pk}/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].split(";")[0] in {
            "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"
        }, (url, response["Content-Type"])
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
