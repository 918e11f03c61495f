"""What the crowd HIT pages show: an assignment's grid, or a preview sample, with image URLs
signed for the frame (a worker framed inside MTurk has no session with us)."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from labeling.models import Assignment, AssignmentItem, Item
from synsets.models import Synset
from synsets.selectors import synset_parents

IMAGE_SALT = "crowds.image"
# Long enough for a HIT left open in a tab; short enough that a leaked URL soon dies.
IMAGE_URL_MAX_AGE = 2 * 24 * 3600
PREVIEW_SAMPLE = 6


def crowd_image_url(*, candidate_id: int, large: bool = False) -> str:
    token = signing.dumps([candidate_id, int(large)], salt=IMAGE_SALT, compress=True)
    return reverse("crowds:image", args=[token])


def crowd_image_unsign(token: str) -> tuple[int, bool] | None:
    try:
        candidate_id, large = signing.loads(token, salt=IMAGE_SALT, max_age=IMAGE_URL_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return int(candidate_id), bool(large)


def _synset_payload(synset_id: str) -> dict:
    synset = Synset.objects.get(pk=synset_id)
    parent = synset_parents(synset.wnid).first()
    return {
        "wnid": synset.wnid,
        "lemmas": synset.lemmas,
        "gloss": synset.gloss,
        "wikipedia_url": synset.wikipedia_url,
        "parent": parent.name if parent else "",
    }


def crowd_hit_payload(*, assignment: Assignment) -> dict:
    """The grid of one assignment; which images are gold is deliberately absent."""
    rows = (
        AssignmentItem.objects.filter(assignment=assignment)
        .order_by("position")
        .values_list("item_id", "item__candidate_id")
    )
    return {
        "id": assignment.pk,
        "synset": _synset_payload(assignment.synset_id),
        "items": [
            {
                "id": item_id,
                "thumbnail_url": crowd_image_url(candidate_id=candidate_id),
                "image_url": crowd_image_url(candidate_id=candidate_id, large=True),
            }
            for item_id, candidate_id in rows
        ],
    }


def crowd_preview_payload(*, project_id: int, synset_id: str | None) -> dict | None:
    """A sample grid for MTurk's preview: a few images of the HIT's synset, nothing leased."""
    items = Item.objects.filter(project_id=project_id)
    if synset_id:
        items = items.filter(synset_id=synset_id)
    rows = list(items.order_by("pk").values_list("synset_id", "candidate_id")[:PREVIEW_SAMPLE])
    if not rows:
        return None
    return {
        "id": None,
        "synset": _synset_payload(rows[0][0]),
        "items": [
            {"id": None, "thumbnail_url": crowd_image_url(candidate_id=candidate_id),
             "image_url": crowd_image_url(candidate_id=candidate_id, large=True)}
            for _, candidate_id in rows
        ],  # fmt: skip
    }
