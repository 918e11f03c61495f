"""The project dashboard in Chromium: an admin logs in, sees the funnel, throughput and the
collapsible WordNet tree with progress bars; the screenshot is kept as a test artifact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import voted_project

# Playwright's sync API runs an event loop in this thread; the DB work here is plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dashboard_renders_charts_and_tree(live_server, django_user_model):
    from playwright.sync_api import expect, sync_playwright

    project, _ = voted_project(synsets=4, images=8, target_per_synset=10, name="Dogs demo")
    wnids = list(project.project_synsets.values_list("synset_id", flat=True))
    for child in wnids[1:3]:
        SynsetEdge.objects.create(parent_id=wnids[0], child_id=child, kind="hypernym")
        SynsetClosure.objects.create(ancestor_id=wnids[0], descendant_id=child, distance=1)
    django_user_model.objects.create_user(username="lead", password="pw-lead-123", is_staff=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/{project.slug}/")
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", "pw-lead-123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"**/dashboard/{project.slug}/")

        expect(page.locator("svg.chart-funnel")).to_be_visible()
        expect(page.locator("svg.chart-throughput")).to_be_visible()
        expect(page.locator("details.node")).to_have_count(4)
        root = page.locator(f'details.node[data-wnid="{wnids[0]}"]')
        expect(root).to_have_attribute("open", "")
        root.locator("summary").first.click()  # collapses the subtree
        expect(root).not_to_have_attribute("open", "")
        root.locator("summary").first.click()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
