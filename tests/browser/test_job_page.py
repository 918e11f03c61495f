"""The collection job page follows a running job live: opened while the job runs (nothing to
report yet), it shows the end — status, counts and the files that named no synset — without a
reload (a folded wnid list once broke the page's polling at the first unmatched file)."""

from __future__ import annotations

import os

import pytest

from candidates.models import CollectionJob

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


def test_job_page_follows_a_running_job_to_its_end(live_server, django_user_model):
    from playwright.sync_api import expect, sync_playwright

    job = CollectionJob.objects.create(
        source="folder", wnids=["n01726692", "n01728572"], status=CollectionJob.Status.RUNNING
    )
    django_user_model.objects.create_user(username="lead", password="pw-lead-123", is_staff=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/accounts/login/?next=/candidates/jobs/{job.pk}/")
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", "pw-lead-123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"**/candidates/jobs/{job.pk}/")
        expect(page.locator("#job-status")).to_have_text("running")
        expect(page.locator("#job-unmatched-details")).to_be_hidden()

        # The worker finishes the job: two synsets stored, 25 files named other wnids
        unmatched = {f"n0{1440764 + i}": 1 for i in range(24)} | {"n01443537": 1}
        CollectionJob.objects.filter(pk=job.pk).update(
            status=CollectionJob.Status.DONE, synsets_done=2, stored=2,
            source_report={"unmatched_count": 25, "unmatched_by_wnid": unmatched,
                           "unmatched_examples": ["n01440764_tench.JPEG"]},
        )  # fmt: skip

        expect(page.locator("#job-status")).to_have_text("done", timeout=10_000)
        expect(page.locator("#job-stored")).to_have_text("2")
        expect(page.locator("#job-unmatched")).to_contain_text("25 images name no synset")
        details = page.locator("#job-unmatched-details")
        expect(details).to_be_visible()
        expect(page.locator("#job-unmatched-wnid-count")).to_have_text("25")
        # A long list stays folded under its summary, the rows are there to unfold
        expect(details).not_to_have_attribute("open", "")
        expect(page.locator("#job-unmatched-wnids tr")).to_have_count(25)
        expect(page.locator("#job-cancel")).to_have_count(0)
        browser.close()
