"""The link-based panel flow in Chromium: a participant follows the panel's link with their id,
labels their quota of HITs (keyboard and mouse), sees the completion code and is redirected to
the panel's completion URL (a local stand-in)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from crowds.models import CrowdPayment, PanelParticipant
from crowds.panels import panel_configure
from labeling.models import Vote
from tests.crowds.standin import PlatformStandIn
from tests.factories import project_make

# Playwright's sync API runs an event loop in this thread; the DB work here is plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_panel_participant_labels_quota_and_is_redirected_with_the_code(live_server, settings):
    from playwright.sync_api import expect, sync_playwright

    project = project_make(images=12, images_per_hit=4, gold_per_hit=0, min_votes=1,
                           with_files=True)  # fmt: skip
    project.budget_cents, project.crowd_backend = 500, "panel"
    project.save(update_fields=["budget_cents", "crowd_backend"])
    ARTIFACTS.mkdir(exist_ok=True)

    with PlatformStandIn() as prolific, sync_playwright() as p:
        settings.CROWDS_EXTRA_FRAME_ORIGIN = prolific.origin
        panel = panel_configure(
            project=project, completion_code="CODE77", hits_per_participant=2,
            completion_url=f"{prolific.origin}/complete?cc={{code}}",
            extra_params=["STUDY_ID", "SESSION_ID"],
        )  # fmt: skip
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"{live_server.url}/crowds/panel/{panel.token}/"
                  "?PROLIFIC_PID=5f00participant&STUDY_ID=study1&SESSION_ID=sess1")  # fmt: skip

        # HIT 1 with the keyboard: select all, then submit with Enter.
        expect(page.locator("#panel-progress")).to_have_text("Task 1 of 2")
        tiles = page.locator("button.tile")
        expect(tiles).to_have_count(4)
        page.screenshot(path=str(ARTIFACTS / "panel-hit.png"), full_page=True)
        page.keyboard.press("a")
        expect(page.locator("button.tile[aria-pressed=true]")).to_have_count(4)
        page.keyboard.press("Enter")

        # HIT 2 with the mouse: one image, then the submit button.
        expect(page.locator("#panel-progress")).to_have_text("Task 2 of 2")
        page.locator("button.tile").nth(1).click()
        page.locator("#submit-button").click()

        expect(page.locator("#completion-code")).to_have_text("CODE77")
        page.screenshot(path=str(ARTIFACTS / "panel-done.png"), full_page=True)
        page.wait_for_url(f"{prolific.origin}/complete?cc=CODE77", timeout=10_000)
        expect(page.locator("#done")).to_be_visible()
        browser.close()

    assert prolific.completions == [{"cc": "CODE77"}]
    participant = PanelParticipant.objects.get()
    assert participant.external_id == "5f00participant" and participant.completed_at
    assert participant.params == {"STUDY_ID": "study1", "SESSION_ID": "sess1"}
    votes = Vote.objects.filter(worker=participant.user)
    assert votes.count() == 8 and votes.filter(label=True).count() == 5
    assert CrowdPayment.objects.filter(status="payable").count() == 2
