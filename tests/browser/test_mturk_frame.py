"""Our MTurk HIT page in Chromium, framed by a local stand-in for MTurk's worker site: preview,
accept, submit to the stand-in's /mturk/externalSubmit; then a sync (botocore Stubber) built from
what the stand-in received confirms the pending votes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from django.conf import settings

from crowds.conf import MTURK_SANDBOX_ENDPOINT
from crowds.models import CrowdAssignment, CrowdHIT, CrowdPublication
from crowds.mturk import MTurkApi, mturk_sync
from labeling.models import Vote
from tests.crowds.standin import PlatformStandIn
from tests.crowds.test_mturk_sync import answer_xml
from tests.factories import project_make

# Playwright's sync API runs an event loop in this thread; the DB work here is plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_hit_page_framed_by_mturk_preview_accept_submit_then_sync_confirms(
    live_server, settings
):
    from playwright.sync_api import expect, sync_playwright

    project = project_make(images=8, images_per_hit=4, gold_per_hit=0, min_votes=1,
                           with_files=True)  # fmt: skip
    publication = CrowdPublication.objects.create(
        project=project, title="t", description="d", reward_cents=10, committed_cents=108
    )
    hit = CrowdHIT.objects.create(
        publication=publication, project=project, hit_id="HITBROWSER0000000000000001",
        synset_id=project.project_synsets.first().synset_id, max_assignments=9, reward_cents=10,
    )  # fmt: skip
    hit_page = f"{live_server.url}/crowds/mturk/hit/"
    ARTIFACTS.mkdir(exist_ok=True)

    with PlatformStandIn(hit_page_url=hit_page) as mturk, sync_playwright() as p:
        # The stand-in is another origin (127.0.0.1 on its own port): let it frame us and take
        # the answer post, as MTurk's origins are by default.
        settings.CROWDS_EXTRA_FRAME_ORIGIN = mturk.origin
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})

        # Preview: a sample grid, submit disabled, nothing leased.
        page.goto(f"{mturk.origin}/hit?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId={hit.hit_id}")
        frame = page.frame_locator("#hit-frame")
        expect(frame.locator("#preview-note")).to_be_visible()
        expect(frame.locator("#submit-button")).to_be_disabled()
        expect(frame.locator("button.tile")).to_have_count(6)
        page.screenshot(path=str(ARTIFACTS / "mturk-preview.png"))
        assert not CrowdAssignment.objects.exists()

        # Accepted: the worker's own assignment, selectable; submit posts through to MTurk.
        page.goto(f"{mturk.origin}/hit?assignmentId=ASSIGNBROWSER1&hitId={hit.hit_id}"
                  "&workerId=AWORKERBROWSER")  # fmt: skip
        frame = page.frame_locator("#hit-frame")
        tiles = frame.locator("button.tile")
        expect(tiles).to_have_count(4)
        expect(tiles.first.locator("img")).to_have_js_property("complete", True)
        tiles.nth(0).click()
        tiles.nth(2).click()
        expect(frame.locator("#selected-count")).to_have_text("2")
        page.screenshot(path=str(ARTIFACTS / "mturk-accepted.png"))
        frame.locator("#submit-button").click()
        expect(frame.locator("#thanks")).to_have_text("HIT submitted")
        page.screenshot(path=str(ARTIFACTS / "mturk-submitted.png"))
        browser.close()

    _wait_for(lambda: mturk.submissions)
    [posted] = mturk.submissions
    assert posted["assignmentId"] == "ASSIGNBROWSER1" and len(posted["digest"]) == 32
    crowd = CrowdAssignment.objects.get(external_assignment_id="ASSIGNBROWSER1")
    votes = Vote.objects.filter(assignment=crowd.assignment)
    assert votes.count() == 4 and votes.filter(label=True).count() == 2
    assert set(votes.values_list("status", flat=True)) == {Vote.Status.PENDING}

    # MTurk's record of the assignment carries exactly the fields the worker's browser posted.
    client = boto3.client(
        "mturk", region_name="us-east-1", endpoint_url=MTURK_SANDBOX_ENDPOINT,
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",  # noqa: S106
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )  # fmt: skip
    with Stubber(client) as stubber:
        stubber.add_response(
            "list_assignments_for_hit",
            {"Assignments": [{
                "AssignmentId": posted["assignmentId"], "WorkerId": "AWORKERBROWSER",
                "HITId": hit.hit_id, "AssignmentStatus": "Submitted",
                "Answer": answer_xml(digest=posted["digest"]),
            }]},
        )  # fmt: skip
        stubber.add_response("approve_assignment", {}, {"AssignmentId": "ASSIGNBROWSER1"})
        result = mturk_sync(publication_id=publication.pk, api=MTurkApi(client))
        stubber.assert_no_pending_responses()

    assert (result.confirmed, result.approved) == (1, 1)
    assert set(votes.values_list("status", flat=True)) == {Vote.Status.CONFIRMED}
