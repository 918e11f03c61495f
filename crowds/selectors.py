"""What the crowd HIT pages show: an assignment's grid, or a preview sample, with image URLs
signed for the frame (a worker framed inside MTurk has no session with us)."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from labeling.hits.selectors import hit_card
from labeling.models import Assignment, AssignmentItem, Item

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


def _crowd_image_urls(candidate_id: int) -> tuple[str, str]:
    return (
        crowd_image_url(candidate_id=candidate_id),
        crowd_image_url(candidate_id=candidate_id, large=True),
    )


def crowd_hit_payload(*, assignment: Assignment) -> dict:
    """The grid of one assignment (labeling's HIT card, with signed image URLs)."""
    rows = (
        AssignmentItem.objects.filter(assignment=assignment)
        .order_by("position")
        .values_list("item_id", "item__candidate_id")
    )
    return hit_card(
        card_id=assignment.pk,
        synset_id=assignment.synset_id,
        rows=rows,
        image_urls=_crowd_image_urls,
    )


def crowd_preview_payload(*, project_id: int, synset_id: str | None) -> dict | None:
    """A sample grid for MTurk's preview: a few images of the HIT's synset, nothing leased."""
    items = Item.objects.filter(project_id=project_id)
    if synset_id:
        items = items.filter(synset_id=synset_id)
    rows = list(items.order_by("pk").values_list("synset_id", "candidate_id")[:PREVIEW_SAMPLE])
    if not rows:
        return None
    return hit_card(
        card_id=None,
        synset_id=rows[0][0],
        rows=[(None, candidate_id) for _, candidate_id in rows],
        image_urls=_crowd_image_urls,
    )
