"""The annotator grid in Chromium: log in, label a HIT with the keyboard only, submit with Enter,
see the next HIT; the votes are stored as chosen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import Assignment, Vote
from labeling.roles import annotator_create
from tests.labeling.project_factories import project_make

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
