"""The annotator grid in Chromium: log in, label a HIT with the keyboard only, submit with Enter,
see the next HIT; the votes are stored as chosen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import Assignment, Vote
from labeling.roles import annotator_create
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
def test_label_a_hit_with_the_keyboard_only(live_server):
    from playwright.sync_api import expect, sync_playwright

    project = project_make(images=12, images_per_hit=6, gold_per_hit=0, with_files=True)
    worker = annotator_create(username="kbd", password="pw-kbd-123")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(f"{live_server.url}/accounts/login/?next=/label/{project.slug}/")
        page.fill("input[name=username]", "kbd")
        page.fill("input[name=password]", "pw-kbd-123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"**/label/{project.slug}/")
        tiles = page.locator("button.tile")
        expect(tiles).to_have_count(6)
        first_hit = page.evaluate("JSON.parse(document.getElementById('first-hit').textContent)")
        ids = [item["id"] for item in first_hit["items"]]

        # Keyboard only: select image 1 and 3, select all then none, help dialog, select 1 and 3.
        page.keyboard.press("a")
        expect(page.locator("button.tile[aria-pressed=true]")).to_have_count(6)
        page.keyboard.press("n")
        expect(page.locator("button.tile[aria-pressed=true]")).to_have_count(0)
        page.keyboard.press("?")
        expect(page.locator("#help-dialog")).to_be_visible()
        page.keyboard.press("Escape")
        tiles.first.focus()
        page.keyboard.press(" ")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press(" ")
        expect(tiles.nth(0)).to_have_attribute("aria-pressed", "true")
        expect(tiles.nth(1)).to_have_attribute("aria-pressed", "false")
        expect(tiles.nth(2)).to_have_attribute("aria-pressed", "true")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "annotator-grid.png"), full_page=True)

        page.keyboard.press("Enter")

        # The next HIT replaces the grid: different images, none selected.
        expect(page.locator("#status")).to_contain_text("Saved 6 answers")
        expect(page.locator("button.tile")).to_have_count(6)
        expect(page.locator("button.tile[aria-pressed=true]")).to_have_count(0)
        new_ids = page.evaluate(
            "Array.from(document.querySelectorAll('button.tile')).map(b => Number(b.dataset.item))"
        )
        assert not set(new_ids) & set(ids)
        expect(page.locator("#stat-hits")).to_have_text("1")
        page.set_viewport_size({"width": 375, "height": 740})
        page.screenshot(path=str(ARTIFACTS / "annotator-grid-375.png"), full_page=True)
        browser.close()

    votes = dict(Vote.objects.filter(worker=worker).values_list("item_id", "label"))
    assert votes == {item_id: index in (0, 2) for index, item_id in enumerate(ids)}
    assert Assignment.objects.filter(worker=worker, status="submitted").count() == 1


def _login(page, live_server, project, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/label/{project.slug}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"**/label/{project.slug}/")


def _grid_ids(page) -> list[int]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('button.tile')).map(b => Number(b.dataset.item))"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_five_consecutive_hits_by_keyboard_with_prefetch_all_saved(live_server):
    from playwright.sync_api import expect, sync_playwright

    # Given one synset with 4 gold images and 2 gold per HIT: consecutive HITs (the one on
    # screen and the prefetched one) compete for the same small gold pool
    project = project_make(
        images=60, gold=4, images_per_hit=6, gold_per_hit=2, with_files=True
    )
    worker = annotator_create(username="five", password="pw-five-123")
    submits: list[int] = []
    nexts: list[dict] = []
    stats_requests: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})

        def seen(response) -> None:
            if "/api/me/stats/" in response.url:
                stats_requests.append(response.url)
            if response.request.method != "POST":
                return
            if response.url.endswith("/submit/"):
                submits.append(response.status)
            elif response.url.endswith("/hits/next/"):
                nexts.append(response.request.post_data_json or {})

        page.on("response", seen)
        _login(page, live_server, project, "five", "pw-five-123")
        shown: list[int] = []
        for n in range(1, 6):
            ids = _grid_ids(page)
            assert ids
            shown.extend(ids)
            # The page prefetches the next HIT (exclude = the one on screen) before we answer.
            page.wait_for_function(
                "n => performance.getEntriesByType('resource')"
                ".filter(e => e.name.endsWith('/hits/next/')).length >= n",
                arg=n,
            )
            page.locator("button.tile").first.focus()
            page.keyboard.press(" ")
            page.keyboard.press("Enter")
            expect(page.locator("#stat-hits")).to_have_text(str(n))
        page.screenshot(path=str(ARTIFACTS / "annotator-grid-5th-hit.png"), full_page=True)
        browser.close()

    assert submits == [200] * 5
    assert any(body.get("exclude") for body in nexts)  # prefetch was on
    # The totals shown after each HIT come with its submission: no stats request per HIT.
    assert stats_requests == []
    assert len(shown) == len(set(shown))  # gold included: nothing shown twice
    assert Assignment.objects.filter(worker=worker, status="submitted").count() == 5


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_refused_submission_shows_the_reason_and_skips_to_the_next_hit(live_server):
    from playwright.sync_api import expect, sync_playwright

    project = project_make(images=24, images_per_hit=6, gold_per_hit=0, with_files=True)
    worker = annotator_create(username="stuck", password="pw-stuck-123")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        _login(page, live_server, project, "stuck", "pw-stuck-123")
        first = _grid_ids(page)
        page.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".some(e => e.name.endsWith('/hits/next/'))"
        )
        # The HIT on screen can never be saved: one of its images already has this worker's
        # vote (as if answered in another tab).
        on_screen = Assignment.objects.get(
            worker=worker, status="leased", assignment_items__item_id=first[0]
        )
        Vote.objects.create(item_id=first[0], worker=worker, assignment=on_screen, label=True)

        page.locator("button.tile").first.focus()
        page.keyboard.press("Enter")

        status = page.locator("#status")
        expect(status).to_contain_text("already answered one of these images")
        expect(page.locator("#skip-button")).to_be_visible()
        expect(page.locator("#submit-button")).to_be_hidden()
        # The reason is in view, beside the button, without scrolling.
        assert status.bounding_box()["y"] < 700
        page.screenshot(path=str(ARTIFACTS / "annotator-grid-refused.png"))

        page.keyboard.press("Enter")

        expect(page.locator("#submit-button")).to_be_visible()
        expect(status).to_contain_text("Skipped that HIT")
        second = _grid_ids(page)
        assert second and not set(second) & set(first)
        page.keyboard.press("Enter")
        expect(status).to_contain_text("Saved 6 answers")
        browser.close()

    on_screen.refresh_from_db()
    assert on_screen.status == Assignment.Status.EXPIRED
    assert Assignment.objects.filter(worker=worker, status="submitted").count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_worker_blocked_on_gold_is_told_why_instead_of_nothing_left(live_server):
    from playwright.sync_api import expect, sync_playwright

    # Given a project that blocks after 2 gold answers below 60% and only positive gold images
    project = project_make(
        images=40, gold=3, images_per_hit=6, gold_per_hit=2, with_files=True,
        gold_min_answers=2, gold_block_below=0.6,
    )
    from labeling.models import Item

    Item.objects.filter(project=project, is_gold=True).update(gold_label=True)
    annotator_create(username="sloppy", password="pw-sloppy-123")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        _login(page, live_server, project, "sloppy", "pw-sloppy-123")
        # When they answer "no" to everything (gold included) and submit
        page.locator("button.tile").first.focus()
        page.keyboard.press("n")
        page.keyboard.press("Enter")

        # Then the page says labelling is paused and why, and shows no further grid
        expect(page.locator("#empty-blocked")).to_be_visible()
        expect(page.locator("#empty-nothing")).to_be_hidden()
        expect(page.locator("button.tile")).to_have_count(0)
        # with nothing left to submit or look up, and the HIT it just paid for counted
        expect(page.locator("#submit-button")).to_be_hidden()
        expect(page.locator("#synset-wiki")).to_be_hidden()
        expect(page.locator("#stat-hits")).to_have_text("1")
        page.screenshot(path=str(ARTIFACTS / "annotator-grid-blocked.png"))
        browser.close()

    # And the prefetched HIT was given back at once
    assert not Assignment.objects.filter(worker__username="sloppy", status="leased").exists()
