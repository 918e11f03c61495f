"""Read-side queries of the box stage: what the draw page and the verification grids show for an
assignment, a project's box progress and agreement, costs per task type, and the boxes of an
image (for the detection export and the audit)."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q, Sum
from django.urls import reverse

from labeling.hits.selectors import synset_card
from labeling.models import Project

from .models import (
    Box,
    BoxAssignment,
    BoxAssignmentTask,
    BoxConsensusState,
    BoxImage,
    BoxTask,
    TaskKind,
)

INSTRUCTIONS = {
    TaskKind.DRAW: "Draw one box tightly around one instance that has no box yet.",
    TaskKind.QUALITY: "Select every image whose box is tight around one whole instance.",
    TaskKind.COVERAGE: "Select every image in which every instance already has a box.",
}


def synset_summary(wnid: str) -> dict:
    """The synset as the grids show it (``synset_card``), without the Wikipedia link."""
    card = synset_card(wnid)
    del card["wikipedia_url"]
    return card


def _box(row) -> dict:
    return {"id": row.pk, "x": row.x, "y": row.y, "w": row.w, "h": row.h}


def box_assignment_payload(*, assignment: BoxAssignment) -> dict:
    """Everything a box page needs for one assignment. Which tasks are gold is absent."""
    rows = list(
        BoxAssignmentTask.objects.filter(assignment=assignment)
        .order_by("position")
        .select_related("task__image__item", "task__box")
    )
    accepted: dict[int, list[dict]] = {}
    image_ids = {r.task.image_id for r in rows}
    for box in Box.objects.filter(image_id__in=image_ids, state=Box.State.ACCEPTED).order_by("pk"):
        accepted.setdefault(box.image_id, []).append(_box(box))
    tasks = []
    for row in rows:
        task, image = row.task, row.task.image
        if assignment.kind == TaskKind.QUALITY:
            shown = [_box(task.box)]
        elif assignment.kind == TaskKind.COVERAGE:
            wanted = set(task.boxes_shown or [])
            shown = [b for b in accepted.get(image.pk, []) if b["id"] in wanted]
        else:
            shown = accepted.get(image.pk, [])
        tasks.append(
            {
                "id": task.pk,
                "image_url": reverse("labeling:image", args=[image.item.candidate_id]),
                "width": image.width,
                "height": image.height,
                "boxes": shown,
            }
        )
    verify = assignment.kind != TaskKind.DRAW
    return {
        "id": assignment.pk,
        "kind": assignment.kind,
        "project": assignment.project.slug,
        "lease_expires_at": assignment.lease_expires_at,
        "instruction": INSTRUCTIONS[TaskKind(assignment.kind)],
        "submit_url": reverse("api-box-verify" if verify else "api-box-draw", args=[assignment.pk]),
        "release_url": reverse("api-box-release", args=[assignment.pk]),
        "synset": synset_summary(assignment.synset_id),
        "tasks": tasks,
    }


def image_boxes(*, project: Project, covered_only: bool = True) -> dict[int, dict]:
    """Accepted boxes per candidate id (the export's image key): ``{candidate_id: {"wnid",
    "width", "height", "state", "boxes": [(x, y, w, h), …]}}``. ``covered_only`` keeps the
    images whose coverage was verified (every instance boxed)."""
    images = BoxImage.objects.filter(project=project, is_gold=False)
    if covered_only:
        images = images.filter(state=BoxImage.State.COVERED)
    rows = images.order_by("pk").values_list(
        "pk", "item__candidate_id", "synset_id", "width", "height", "state"
    )
    out: dict[int, dict] = {}
    key_of: dict[int, int] = {}
    for pk, candidate_id, wnid, width, height, state in rows:
        key_of[pk] = candidate_id
        out[candidate_id] = {
            "wnid": wnid, "width": width, "height": height, "state": state, "boxes": [],
        }  # fmt: skip
    boxes = Box.objects.filter(image_id__in=key_of, state=Box.State.ACCEPTED).order_by("pk")
    for image_id, x, y, w, h in boxes.values_list("image_id", "x", "y", "w", "h"):
        out[key_of[image_id]]["boxes"].append((x, y, w, h))
    return out


def box_progress(*, project: Project) -> dict:
    """Per synset: images by state, accepted boxes per image, covered share, and the last
    consensus run's observed agreement per verification kind."""
    states = (
        BoxImage.objects.filter(project=project, is_gold=False)
        .values("synset_id", "state")
        .annotate(n=Count("pk"))
    )
    per: dict[str, dict] = {}
    for row in states:
        cell = per.setdefault(row["synset_id"], {"wnid": row["synset_id"], "images": Counter()})
        cell["images"][row["state"]] = row["n"]
    boxes = (
        Box.objects.filter(image__project=project, image__is_gold=False)
        .values("image__synset_id")
        .annotate(
            accepted=Count("pk", filter=Q(state=Box.State.ACCEPTED)),
            rejected=Count("pk", filter=Q(state=Box.State.REJECTED)),
            pending=Count("pk", filter=Q(state=Box.State.PENDING)),
        )
    )
    for row in boxes:
        cell = per.setdefault(
            row["image__synset_id"], {"wnid": row["image__synset_id"], "images": Counter()}
        )
        cell.update(accepted_boxes=row["accepted"], rejected_boxes=row["rejected"],
                    pending_boxes=row["pending"])  # fmt: skip
    for state in BoxConsensusState.objects.filter(project=project):
        cell = per.setdefault(state.synset_id, {"wnid": state.synset_id, "images": Counter()})
        cell[f"{state.kind}_agreement"] = state.summary.get("agreement")
    synsets = []
    for wnid in sorted(per):
        cell = per[wnid]
        images = cell.pop("images")
        total = sum(images.values())
        covered = images.get(BoxImage.State.COVERED, 0)
        accepted = cell.get("accepted_boxes", 0)
        synsets.append(
            {
                "wnid": wnid,
                "images": total,
                **{state: images.get(state, 0) for state in BoxImage.State.values},
                "accepted_boxes": accepted,
                "rejected_boxes": cell.get("rejected_boxes", 0),
                "pending_boxes": cell.get("pending_boxes", 0),
                "boxes_per_covered_image": _per(
                    Box.objects.filter(
                        image__project=project,
                        image__synset_id=wnid,
                        image__state=BoxImage.State.COVERED,
                        state=Box.State.ACCEPTED,
                        image__is_gold=False,
                    ).count(),
                    covered,
                ),  # fmt: skip
                "covered_share": _per(covered, total),
                "quality_agreement": cell.get("quality_agreement"),
                "coverage_agreement": cell.get("coverage_agreement"),
            }
        )
    total_images = sum(s["images"] for s in synsets)
    covered_total = sum(s["covered"] for s in synsets)
    return {
        "project": project.slug,
        "images": total_images,
        "covered": covered_total,
        "covered_share": _per(covered_total, total_images),
        "accepted_boxes": sum(s["accepted_boxes"] for s in synsets),
        "synsets": synsets,
    }


def box_costs(*, project: Project) -> dict:
    """Money and work per task type: submitted assignments, answers, rewards (built-in crowd:
    the reward is the cost), and cents per covered image."""
    rows = (
        BoxAssignment.objects.filter(project=project, status=BoxAssignment.Status.SUBMITTED)
        .values("kind")
        .annotate(assignments=Count("pk"), cents=Sum("reward_cents"))
    )
    answers = dict(
        BoxTask.objects.filter(project=project)
        .values("kind")
        .annotate(n=Count("votes"))
        .values_list("kind", "n")
    )
    by_kind = {
        kind: {"assignments": 0, "answers": 0, "reward_cents": 0} for kind in TaskKind.values
    }
    for row in rows:
        by_kind[row["kind"]]["assignments"] = row["assignments"]
        by_kind[row["kind"]]["reward_cents"] = row["cents"] or 0
    for kind in (TaskKind.QUALITY, TaskKind.COVERAGE):
        by_kind[kind]["answers"] = answers.get(kind, 0)
    by_kind[TaskKind.DRAW]["answers"] = by_kind[TaskKind.DRAW]["assignments"]
    total = sum(cell["reward_cents"] for cell in by_kind.values())
    covered = BoxImage.objects.filter(
        project=project, state=BoxImage.State.COVERED, is_gold=False
    ).count()
    return {
        "by_kind": by_kind,
        "total_cents": total,
        "covered_images": covered,
        "cents_per_covered_image": _per(total, covered),
    }


def box_task_costs(project: Project) -> list[dict]:
    """The box stage's rows on the project's cost page (one per task type, built-in rewards),
    in the shape ``crowds.costs.task_costs`` lists."""
    costs = box_costs(project=project)
    names = {
        TaskKind.DRAW: "box drawing",
        TaskKind.QUALITY: "box quality check",
        TaskKind.COVERAGE: "box coverage check",
    }
    rows = [
        {
            "task": names.get(kind, kind),
            "assignments": cell["assignments"],
            "answers": cell["answers"],
            "reward_cents": cell["reward_cents"],
            "per": None,
            "per_label": "",
        }
        for kind, cell in costs["by_kind"].items()
    ]
    rows.append(
        {
            "task": "boxes, all tasks",
            "assignments": sum(cell["assignments"] for cell in costs["by_kind"].values()),
            "answers": sum(cell["answers"] for cell in costs["by_kind"].values()),
            "reward_cents": costs["total_cents"],
            "per": costs["cents_per_covered_image"],
            "per_label": "covered image",
        }
    )
    return rows


def _per(total: float, n: int) -> float | None:
    return round(total / n, 3) if n else None
