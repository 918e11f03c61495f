"""A simulated box crowd (issue 17, point 6): images with 1–5 instances, drawers whose boxes
miss the truth by a realistic amount, sloppy and lazy workers, and verifiers whose answers
depend on the truth. Pure behaviour on plain data with a ``random.Random``; the benchmark drives
it through the real API and compares it with the merged-annotations baseline.

Assumptions, each a stated choice rather than a measured fact:

* Instances per image: 1–5 with weights 45/25/15/10/5 %; boxes of 12–55 % of the image side,
  placed with little overlap (as in ILSVRC's multi-instance images, most have one or two).
* Careful drawers (70 %): every edge off by a normal error of s.d. 3 % of the box side, and they
  see 97 % of the instances. Sloppy drawers (20 %): s.d. 12 %, and one box in five covers half an
  instance or spans two. Lazy drawers (10 %): answer "nothing left" half the time whatever is
  left, otherwise draw like careful ones. Everyone boxes an instance not yet boxed.
* Verifiers: careful ones answer right 95 % of the time, sloppy ones 80 %, lazy ones say "yes"
  70 % of the time whatever they see. A box is good when its IoU with some instance is ≥ 0.7; an
  image is covered when every instance has a shown box with IoU ≥ 0.5.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .geometry import best_iou, iou, match_greedy, merge_annotations

INSTANCE_WEIGHTS = (45, 25, 15, 10, 5)
GOOD_IOU = 0.7
COVER_IOU = 0.5
Box = tuple[float, float, float, float]


class Kind(StrEnum):
    CAREFUL = "careful"
    SLOPPY = "sloppy"
    LAZY = "lazy"


@dataclass(frozen=True)
class SimDrawer:
    index: int
    kind: Kind

    @property
    def edge_error(self) -> float:
        return {Kind.CAREFUL: 0.03, Kind.SLOPPY: 0.12, Kind.LAZY: 0.04}[self.kind]

    @property
    def sees(self) -> float:
        return {Kind.CAREFUL: 0.97, Kind.SLOPPY: 0.9, Kind.LAZY: 0.9}[self.kind]

    @property
    def accuracy(self) -> float:
        return {Kind.CAREFUL: 0.95, Kind.SLOPPY: 0.8, Kind.LAZY: 0.5}[self.kind]


def crowd_make(n: int, rng: random.Random) -> list[SimDrawer]:
    kinds = rng.choices([Kind.CAREFUL, Kind.SLOPPY, Kind.LAZY], weights=[70, 20, 10], k=n)
    return [SimDrawer(i, kind) for i, kind in enumerate(kinds)]


def instances_make(width: int, height: int, rng: random.Random) -> list[Box]:
    """1–5 boxes (whole pixels) inside the image, overlapping each other by IoU < 0.3."""
    n = rng.choices(range(1, 6), weights=INSTANCE_WEIGHTS)[0]
    boxes: list[Box] = []
    for _ in range(200):
        if len(boxes) == n:
            break
        w = round(width * rng.uniform(0.12, 0.55))
        h = round(height * rng.uniform(0.12, 0.55))
        box = (rng.randint(0, width - w), rng.randint(0, height - h), w, h)
        if all(iou(box, other) < 0.3 for other in boxes):
            boxes.append(box)
    return boxes


def _clip(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    x1 = max(0, min(width, round(box[0])))
    y1 = max(0, min(height, round(box[1])))
    x2 = max(0, min(width, round(box[0] + box[2])))
    y2 = max(0, min(height, round(box[1] + box[3])))
    return (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1))


def noisy(box: Box, sd: float, rng: random.Random, width: int, height: int) -> tuple[int, ...]:
    x, y, w, h = box
    left, right = x + rng.gauss(0, sd * w), x + w + rng.gauss(0, sd * w)
    top, bottom = y + rng.gauss(0, sd * h), y + h + rng.gauss(0, sd * h)
    return _clip((left, top, right - left, bottom - top), width, height)


def draw_answer(
    drawer: SimDrawer,
    truth: Sequence[Box],
    shown: Sequence[Box],
    width: int,
    height: int,
    rng: random.Random,
) -> tuple[int, int, int, int] | None:
    """One box around an instance not yet boxed (``shown``), or None for "nothing left"."""
    if drawer.kind == Kind.LAZY and rng.random() < 0.5:
        return None
    left = [t for t in truth if best_iou(t, shown) < COVER_IOU and rng.random() < drawer.sees]
    if not left:
        return None
    target = rng.choice(left)
    if drawer.kind == Kind.SLOPPY and rng.random() < 0.2:
        others = [t for t in truth if t != target]
        if others and rng.random() < 0.5:  # one box around two instances
            other = rng.choice(others)
            x1, y1 = min(target[0], other[0]), min(target[1], other[1])
            x2 = max(target[0] + target[2], other[0] + other[2])
            y2 = max(target[1] + target[3], other[1] + other[3])
            return _clip((x1, y1, x2 - x1, y2 - y1), width, height)
        x, y, w, h = target  # half an instance
        return _clip((x, y, w / 2, h), width, height)
    return noisy(target, drawer.edge_error, rng, width, height)


def _answer(truth: bool, drawer: SimDrawer, rng: random.Random) -> bool:
    if drawer.kind == Kind.LAZY:
        return rng.random() < 0.7
    return truth if rng.random() < drawer.accuracy else not truth


def quality_answer(drawer: SimDrawer, box: Box, truth: Sequence[Box], rng: random.Random) -> bool:
    return _answer(best_iou(box, truth) >= GOOD_IOU, drawer, rng)


def coverage_answer(
    drawer: SimDrawer, shown: Sequence[Box], truth: Sequence[Box], rng: random.Random
) -> bool:
    return _answer(is_covered(shown, truth), drawer, rng)


def gold_answer(drawer: SimDrawer, label: bool, rng: random.Random) -> bool:
    return _answer(label, drawer, rng)


def is_covered(found: Sequence[Box], truth: Sequence[Box]) -> bool:
    return len(match_greedy(found, truth, threshold=COVER_IOU)) == len(truth)


def full_annotation(
    drawer: SimDrawer, truth: Sequence[Box], width: int, height: int, rng: random.Random
) -> list[tuple[int, int, int, int]]:
    """The baseline's task: one worker boxes every instance they see in one go."""
    boxes = []
    for instance in truth:
        if drawer.kind == Kind.LAZY and boxes and rng.random() < 0.5:
            break
        if rng.random() < drawer.sees:
            boxes.append(noisy(instance, drawer.edge_error, rng, width, height))
    return boxes


def baseline_merge(
    annotations: Sequence[Sequence[Box]], *, threshold: float = 0.5
) -> list[tuple[float, ...]]:
    """Three independent full annotations merged by IoU: boxes two of three agree on."""
    return merge_annotations(annotations, threshold=threshold, min_votes=2)
