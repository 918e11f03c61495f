"""A staff user's project workflow in Chromium, with a real Celery worker: create a project over a
small subtree with a preview, upload a URL list served on 127.0.0.1 and watch the job finish on
its page (summary by reason, what matched no synset), then review gold on the keyboard grid.
Screenshots of every page are kept in test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from labeling.models import GoldReview, Item, Project
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import SynsetFactory
from tests.labeling.workflow_helpers import SAMPLES, photo_server

# Playwright's sync API runs an event loop in this thread; the DB work here is plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.slow]


@pytest.fixture
def shared_upload_dir(tmp_path, monkeypatch, settings) -> Path:
    folder = tmp_path / "uploads"
    monkeypatch.setenv("CANDIDATES_UPLOAD_DIR", str(folder))
    settings.CANDIDATES_UPLOAD_DIR = folder
    # The page serves the images the worker stored (celery_worker_process: tmp_path/media).
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return folder


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"project-{name}.png"), full_page=True)


def test_staff_create_collect_and_review_gold_in_the_browser(
    shared_upload_dir, celery_worker_process, live_server, django_user_model, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    celery_worker_process()
    root = SynsetFactory(lemmas=["hound"], gloss="any of several breeds of dog used for hunting")
    leaves = [SynsetFactory(lemmas=[name], gloss=f"a {name}") for name in ("beagle", "basset")]
    stranger = SynsetFactory(lemmas=["teapot"])
    for leaf in leaves:
        SynsetEdge.objects.create(parent=root, child=leaf, kind="hypernym")
        SynsetClosure.objects.create(ancestor=root, descendant=leaf, distance=1)
    django_user_model.objects.create_user(username="lead", password="pw-lead-123", is_staff=True)

    with photo_server() as base, sync_playwright() as p:
        photos = sorted(SAMPLES.glob("*.JPEG"))[:9]
        owners = [leaves[0].wnid] * 4 + [leaves[1].wnid] * 4 + [stranger.wnid]
        url_list = tmp_path / "hounds.csv"
        url_list.write_text(
            "url,wnid\n"
            + "".join(
                f"{base}/{photo.name},{wnid}\n" for photo, wnid in zip(photos, owners, strict=True)
            )
        )

        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{live_server.url}/accounts/login/?next=/projects/new/")
        page.fill("input[name=username]", "lead")
        page.fill("input[name=password]", "pw-lead-123")
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/projects/new/")

        # Create: a bad wnid first (a clear message, nothing saved), then the real subtree.
        page.fill("textarea[name=synsets]", "n99999999")
        page.click("#preview-button")
        expect(page.locator("#form-errors")).to_contain_text("no such wnid in WordNet 3.0")
        _shot(page, "create-error")
        page.fill("textarea[name=synsets]", "")
        page.fill("#finder-query", root.wnid)  # the finder adds what the synset API finds
        page.locator("#finder-results button").first.click()
        expect(page.locator("textarea[name=synsets]")).to_have_value(root.wnid)
        page.click("#preview-button")
        expect(page.locator("#preview-synsets")).to_have_text("3")
        expect(page.locator("#preview-leaves")).to_have_text("2")
        expect(page.locator("#label-internal-text")).to_contain_text("as ImageNet did")
        _shot(page, "create-preview")
        page.fill("input[name=name]", "Hounds")
        page.fill("input[name=slug]", "hounds")
        page.click("#create-button")
        page.wait_for_url("**/projects/hounds/collect/")
        assert Project.objects.filter(slug="hounds").exists()

        # Collect: the uploaded URL list on the internal synset, split over its leaves.
        page.check("input[name=source][value=urls]")
        page.set_input_files("input[name=url_list]", str(url_list))
        page.select_option("select[name=wnids]", root.wnid)
        _shot(page, "collect")
        page.click("#collect-button")
        page.wait_for_url("**/candidates/jobs/*/")
        expect(page.locator("#job-status")).to_have_text("done", timeout=120_000)
        expect(page.locator("#job-stored")).to_have_text("8")
        expect(page.locator("#job-unmatched")).to_contain_text("1 image names no synset")
        expect(page.locator("#job-unmatched-wnids")).to_contain_text(stranger.wnid)
        _shot(page, "job")

        # The job's images are items now; the settings page shows them against the target.
        assert Item.objects.filter(project__slug="hounds").count() == 8
        page.goto(f"{live_server.url}/projects/hounds/settings/")
        expect(page.locator("#synset-table tbody tr")).to_have_count(3)
        _shot(page, "settings")

        # Gold: no gold yet, said on the page; review any image on the keyboard grid.
        page.goto(f"{live_server.url}/projects/hounds/gold/?mode=items")
        expect(page.locator("#gold-summary")).to_contain_text("agreement between workers alone")
        tiles = page.locator("#grid button.tile")
        expect(tiles).to_have_count(4)
        expect(tiles.first).to_be_focused()
        page.keyboard.press("y")  # gold yes, focus moves on
        page.keyboard.press("x")  # gold no
        expect(tiles.nth(0)).to_have_attribute("data-gold", "yes")
        expect(tiles.nth(1)).to_have_attribute("data-gold", "no")
        expect(tiles.nth(2)).to_have_attribute("data-gold", "skip")
        _shot(page, "gold-review")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_have_text("Saved: 1 gold yes, 1 gold no, 2 skipped.")
        expect(page.locator("#synset-name")).to_have_text(leaves[1].lemmas[0])  # next synset
        _shot(page, "gold-next")
        page.goto(f"{live_server.url}/projects/hounds/gold/")
        expect(page.locator("#gold-summary")).to_contain_text("2")
        _shot(page, "gold-summary")
        browser.close()

    assert GoldReview.objects.filter(decision="gold_yes").count() == 1
    assert Item.objects.filter(project__slug="hounds", is_gold=True).count() == 2
