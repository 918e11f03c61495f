"""Pure box geometry and the simulated crowd's behaviour (no database)."""

from __future__ import annotations

import random

import pytest

from boxes import simulation as sim
from boxes.geometry import BoxInvalid, box_parse, iou, match_greedy, merge_annotations


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_box_parse_accepts_whole_floats_and_refuses_nan():
    assert box_parse({"x": 1.0, "y": 2, "w": 5, "h": 5}, width=10, height=10, min_px=4).x == 1
    with pytest.raises(BoxInvalid, match="whole number"):
        box_parse({"x": float("nan"), "y": 2, "w": 5, "h": 5}, width=10, height=10, min_px=4)


def test_match_is_one_to_one():
    truth = [(0, 0, 10, 10)]
    found = [(0, 0, 10, 10), (1, 0, 10, 10)]
    assert len(match_greedy(found, truth, threshold=0.5)) == 1


def test_merge_keeps_boxes_two_of_three_annotators_agree_on():
    a = [(0, 0, 10, 10), (50, 50, 10, 10)]
    b = [(1, 1, 10, 10)]
    c = [(80, 80, 10, 10)]
    merged = merge_annotations([a, b, c], threshold=0.5, min_votes=2)
    assert merged == [pytest.approx((0.5, 0.5, 10, 10))]


def test_simulated_instances_lie_inside_the_image():
    rng = random.Random(3)
    for _ in range(200):
        boxes = sim.instances_make(500, 375, rng)
        assert 1 <= len(boxes) <= 5
        assert all(x >= 0 and y >= 0 and x + w <= 500 and y + h <= 375 for x, y, w, h in boxes)


def test_careful_drawer_boxes_an_instance_not_yet_boxed():
    rng = random.Random(1)
    careful = sim.SimDrawer(0, sim.Kind.CAREFUL)
    truth = [(10, 10, 100, 100), (200, 200, 100, 100)]
    for _ in range(50):
        box = sim.draw_answer(careful, truth, [truth[0]], 500, 375, rng)
        if box is not None:
            assert iou(box, truth[1]) > iou(box, truth[0])
    assert sim.draw_answer(careful, truth, truth, 500, 375, rng) is None
