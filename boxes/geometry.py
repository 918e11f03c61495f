"""Pure box geometry: validation of a drawn box against its image, intersection over union, and
merging several annotators' boxes by IoU (the baseline the box loop is compared with). Boxes
are ``(x, y, w, h)`` in image pixels, ``x, y`` the top-left corner. No Django here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BoxTuple = tuple[float, float, float, float]


class BoxInvalid(ValueError):
    """A drawn box that cannot be stored; the message says why, in the worker's words."""


@dataclass(frozen=True, slots=True)
class PixelBox:
    x: int
    y: int
    w: int
    h: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def box_parse(value: object, *, width: int, height: int, min_px: int) -> PixelBox:
    """Check a submitted ``{"x", "y", "w", "h"}`` mapping: whole pixels, inside the image, at
    least ``min_px`` wide and high. Raises :class:`BoxInvalid` with a clear message."""
    if not isinstance(value, Mapping):
        raise BoxInvalid("a box is an object with x, y, w and h")
    keys = set(value)
    if keys != {"x", "y", "w", "h"}:
        raise BoxInvalid(f"a box has exactly x, y, w and h; got {sorted(map(str, keys))}")
    numbers: dict[str, int] = {}
    for key in ("x", "y", "w", "h"):
        number = value[key]
        # bool is an int in Python; a float like 3.0 is fine, 3.5 is not a pixel.
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise BoxInvalid(f"{key} must be a whole number of pixels")
        if number != number or number in (float("inf"), float("-inf")) or number != int(number):
            raise BoxInvalid(f"{key} must be a whole number of pixels")
        numbers[key] = int(number)
    box = PixelBox(**numbers)
    if box.x < 0 or box.y < 0 or box.x + box.w > width or box.y + box.h > height:
        raise BoxInvalid(f"the box must lie inside the image ({width}×{height} pixels)")
    if box.w < min_px or box.h < min_px:
        raise BoxInvalid(f"the box is too small: at least {min_px}×{min_px} pixels")
    return box


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when they do not overlap)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def best_iou(box: Sequence[float], others: Sequence[Sequence[float]]) -> float:
    return max((iou(box, other) for other in others), default=0.0)


def match_greedy(
    found: Sequence[Sequence[float]], truth: Sequence[Sequence[float]], *, threshold: float
) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(found index, truth index, IoU)`` with IoU ≥ ``threshold``, highest
    IoU first (as detection benchmarks match predictions to ground truth)."""
    pairs = sorted(
        ((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_found: set[int] = set()
    used_truth: set[int] = set()
    matches = []
    for value, i, j in pairs:
        if value < threshold:
            break
        if i in used_found or j in used_truth:
            continue
        used_found.add(i)
        used_truth.add(j)
        matches.append((i, j, value))
    return matches


def merge_annotations(
    annotations: Sequence[Sequence[Sequence[float]]], *, threshold: float = 0.5, min_votes: int = 2
) -> list[BoxTuple]:
    """Merge several annotators' full annotations of one image: boxes of different annotators
    that overlap with IoU ≥ ``threshold`` form a cluster (greedy, against the cluster's mean);
    a cluster backed by ≥ ``min_votes`` annotators becomes one box, the mean of its members."""
    clusters: list[dict] = []
    for annotator, boxes in enumerate(annotations):
        for box in boxes:
            best, best_value = None, threshold
            for cluster in clusters:
                if annotator in cluster["annotators"]:
                    continue
                value = iou(box, cluster["mean"])
                if value >= best_value:
                    best, best_value = cluster, value
            if best is None:
                clusters.append({"members": [tuple(box)], "annotators": {annotator}, "mean": box})
                continue
            best["members"].append(tuple(box))
            best["annotators"].add(annotator)
            members = best["members"]
            best["mean"] = tuple(sum(m[k] for m in members) / len(members) for k in range(4))
    return [tuple(c["mean"]) for c in clusters if len(c["annotators"]) >= min_votes]
