"""The Fig. 5 diversity measure through the synset page, on generated images: a synset of one
image repeated averages to that sharp image (large PNG); varied images average to a smooth blur
(small PNG)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from labeling.models import Item
from tests.factories import CandidateFactory, project_make

pytestmark = pytest.mark.django_db


def _noise_jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _synset_with(project, index: int, seeds: list[int]) -> str:
    synset = project.project_synsets.order_by("synset_id")[index].synset
    for seed in seeds:
        candidate = CandidateFactory(
            synset=synset, image=ContentFile(_noise_jpeg(seed), name="n.jpg")
        )
        Item.objects.create(
            project=project, synset=synset, candidate=candidate, state=Item.State.ACCEPTED
        )
    return synset.wnid


def test_repeated_images_compress_worse_than_varied_ones(client, admin_user):
    client.force_login(admin_user)
    project = project_make(synsets=2, images=0)
    same = _synset_with(project, 0, [7] * 8)
    varied = _synset_with(project, 1, list(range(100, 109)))

    pages = {
        wnid: client.get(reverse("dashboards:synset", args=[project.slug, wnid]))
        for wnid in (same, varied)
    }

    sizes = {wnid: page.context["diversity"]["result"].png_size for wnid, page in pages.items()}
    assert sizes[same] > sizes[varied]
    assert pages[same].context["diversity"]["result"].n_images == 8
    html = pages[varied].content.decode()
    assert 'src="data:image/png;base64,' in html
    assert f'data-png-size="{sizes[varied]}"' in html
