"""The box pages in Chromium: draw a box by dragging with the mouse, adjust its edges with the
keyboard, be refused a tiny box, submit with Enter; verify boxes on the keyboard grid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from boxes.models import Box, BoxImage, BoxTask, BoxVote
from boxes.scheduler import box_task_next_for_worker
from boxes.services import box_draw_submit
from labeling.roles import annotator_create
from tests.boxes.factories import boxed_project

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


def _login(page, live_server, path: str, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(f"**{path}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_draw_adjust_and_submit_a_box_with_mouse_and_keyboard(live_server):
    from playwright.sync_api import expect, sync_playwright

    project = boxed_project(images=2, with_files=True)
    annotator_create(username="drawer", password="pw-drawer-123")
    path = f"/boxes/{project.slug}/draw/"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1000})
        _login(page, live_server, path, "drawer", "pw-drawer-123")
        stage = page.locator("#stage")
        expect(stage).to_be_visible()
        page.evaluate("document.getElementById('stage').scrollIntoView({block: 'center'})")
        rect = stage.bounding_box()
        scale = rect["width"] / 96  # the test images are 96 × 72 pixels
        assert rect["height"] == pytest.approx(72 * scale, abs=1)

        def at(x: float, y: float) -> tuple[float, float]:
            return rect["x"] + x * scale, rect["y"] + y * scale

        # A slip (smaller than 4 × 4 image pixels) is refused with a message.
        page.mouse.move(*at(50, 50))
        page.mouse.down()
        page.mouse.move(*at(51.5, 51.5), steps=3)
        page.mouse.up()
        expect(page.locator("#status")).to_contain_text("too small")
        expect(page.locator("#current-box")).to_have_count(0)

        # Drag a box from (10, 10) to (50, 40) in image pixels (measured again: the message
        # above may have moved the image).
        rect = stage.bounding_box()
        page.mouse.move(*at(10.2, 10.2))
        page.mouse.down()
        page.mouse.move(*at(50.2, 40.2), steps=8)
        page.mouse.up()
        expect(page.locator("#readout")).to_contain_text("x 10, y 10, 40 × 30 px")

        # Keyboard: left edge 10 px right (Shift), right edge 1 px right, whole box 1 px down.
        page.keyboard.press("e")
        expect(page.locator("#readout")).to_contain_text("left edge")
        page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("e")
        page.keyboard.press("e")
        expect(page.locator("#readout")).to_contain_text("right edge")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("e")
        page.keyboard.press("e")
        expect(page.locator("#readout")).to_contain_text("whole box")
        page.keyboard.press("ArrowDown")
        expect(page.locator("#readout")).to_contain_text("x 20, y 11, 31 × 30 px")

        # Zoom in and out keeps the box in image pixels.
        page.keyboard.press("+")
        expect(page.locator("#status")).to_contain_text("Zoom 1.5×")
        page.keyboard.press("0")
        page.keyboard.press("?")
        expect(page.locator("#help-dialog")).to_be_visible()
        page.keyboard.press("Escape")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "boxes-draw.png"), full_page=True)

        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Box saved")
        expect(page.locator("#readout")).to_have_text("No box yet.")

        # Esc cancels a box being made with the keyboard; then "nothing left" for the next image.
        page.keyboard.press("b")
        expect(page.locator("#current-box")).to_have_count(1)
        page.keyboard.press("Escape")
        expect(page.locator("#current-box")).to_have_count(0)
        page.set_viewport_size({"width": 375, "height": 740})
        page.keyboard.press("b")
        page.screenshot(path=str(ARTIFACTS / "boxes-draw-375.png"), full_page=True)
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        expect(page.locator("#empty")).to_be_visible()
        browser.close()

    box = Box.objects.get()
    assert (box.x, box.y, box.w, box.h) == (20, 11, 31, 30)
    # "Nothing left" on the second image, which has no accepted box yet, is not a coverage
    # answer: that image waits for another drawer.
    assert not BoxVote.objects.filter(task__kind="coverage").exists()
    other = BoxImage.objects.exclude(pk=box.image_id).get(project=project, is_gold=False)
    assert other.state == BoxImage.State.DRAWING
    assert BoxTask.objects.filter(image=other, kind="draw", state="open").count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_verify_boxes_on_the_keyboard_grid(live_server):
    from playwright.sync_api import expect, sync_playwright

    project = boxed_project(images=3, with_files=True)
    drawer = annotator_create(username="drawer2", password="pw-drawer-123")
    verifier = annotator_create(username="checker", password="pw-checker-123")
    for box in ({"x": 5, "y": 5, "w": 40, "h": 30}, {"x": 0, "y": 0, "w": 96, "h": 10}):
        assignment = box_task_next_for_worker(project=project, worker=drawer, kind="draw")
        box_draw_submit(
            assignment_id=assignment.pk, worker=drawer, task_id=assignment.tasks.get().pk, box=box
        )
    path = f"/boxes/{project.slug}/verify/quality/"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        _login(page, live_server, path, "checker", "pw-checker-123")
        tiles = page.locator("button.tile")
        expect(tiles).to_have_count(2)
        expect(page.locator("button.tile .bbox")).to_have_count(2)
        ids = page.evaluate(
            "Array.from(document.querySelectorAll('button.tile')).map(b => Number(b.dataset.task))"
        )
        tiles.first.focus()
        page.keyboard.press(" ")
        expect(tiles.nth(0)).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("z")
        expect(page.locator("#zoom-frame .bbox")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "boxes-verify-zoom.png"))
        page.keyboard.press("z")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "boxes-verify.png"), full_page=True)
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Saved 2 answers")
        expect(page.locator("#empty")).to_be_visible()
        browser.close()

    votes = dict(BoxVote.objects.filter(worker=verifier).values_list("task_id", "label"))
    assert votes == {ids[0]: True, ids[1]: False}
