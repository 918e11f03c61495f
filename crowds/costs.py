"""Cost accounting: rewards, platform fees and bonuses per HIT, per synset and per accepted image
(docs/crowds.md, Costs).

MTurk's commission is 20% of rewards and bonuses, 40% for HITs with 10 or more assignments,
with a minimum of $0.01 per assignment or bonus. Amounts are integer cents throughout; fees round
half up to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q, Sum

from labeling.models import Assignment, Project, ProjectSynset
from synsets.models import Synset

MTURK_FEE_RATE = Decimal("0.20")
MTURK_FEE_RATE_LARGE_HIT = Decimal("0.40")
MTURK_LARGE_HIT_ASSIGNMENTS = 10
MTURK_MIN_FEE_CENTS = 1


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def mturk_fee_cents(*, amount_cents: int, max_assignments: int = 1) -> int:
    """MTurk's fee on one assignment's reward (or on one bonus, with ``max_assignments=1``)."""
    if amount_cents <= 0:
        return 0
    rate = (
        MTURK_FEE_RATE_LARGE_HIT
        if max_assignments >= MTURK_LARGE_HIT_ASSIGNMENTS
        else MTURK_FEE_RATE
    )
    return max(MTURK_MIN_FEE_CENTS, _cents(Decimal(amount_cents) * rate))


def mturk_hit_cost_cents(*, reward_cents: int, max_assignments: int) -> int:
    """Most a HIT can cost: every assignment paid, with its fee."""
    per_assignment = reward_cents + mturk_fee_cents(
        amount_cents=reward_cents, max_assignments=max_assignments
    )
    return per_assignment * max_assignments


def panel_fee_cents(*, amount_cents: int, fee_percent: int) -> int:
    if amount_cents <= 0 or fee_percent <= 0:
        return 0
    return _cents(Decimal(amount_cents) * Decimal(fee_percent) / 100)


def project_committed_cents(*, project: Project) -> int:
    """What the project's paid crowds may still cost at most, plus what they already cost:
    the figure the budget cap is checked against."""
    from .models import CrowdPayment, CrowdPublication, PanelConfig

    publications = (
        CrowdPublication.objects.filter(project=project).aggregate(total=Sum("committed_cents"))[
            "total"
        ]
        or 0
    )
    bonuses = CrowdPayment.objects.filter(
        crowd_assignment__assignment__project=project,
        kind=CrowdPayment.Kind.BONUS,
        status=CrowdPayment.Status.SENT,
    ).aggregate(total=Sum("amount_cents"), fees=Sum("fee_cents"))
    panel = PanelConfig.objects.filter(project=project).first()
    panel_cents = 0
    if panel is not None:
        participants = panel.participants.count()
        panel_cents = participants * panel_participant_max_cents(panel=panel)
    return publications + (bonuses["total"] or 0) + (bonuses["fees"] or 0) + panel_cents


def panel_participant_max_cents(*, panel) -> int:
    reward = panel.hits_per_participant * panel.reward_cents_per_hit
    return reward + panel_fee_cents(amount_cents=reward, fee_percent=panel.fee_percent)


# Costs of the task types of stages after this one (bounding boxes, …), shown on the project's
# cost page beside the image-verification HITs. Each stage registers, in its AppConfig.ready(), a
# function project -> list of {"task", "assignments", "answers", "reward_cents", "per", "per_label"}
# rows (crowds cannot import those apps: they come after it in the pipeline).
_TASK_COSTS: list[Callable[[Project], list[dict]]] = []


def task_costs_register(function: Callable[[Project], list[dict]]) -> None:
    if function not in _TASK_COSTS:
        _TASK_COSTS.append(function)


def task_costs(*, project: Project, costs: dict) -> list[dict]:
    """Rows per task type: the image-verification HITs of ``costs`` (``project_costs``) first,
    then every registered stage's."""
    rows = [
        {
            "task": "image verification (HITs)",
            "assignments": costs["hits"],
            "answers": None,
            "reward_cents": costs["total_cents"],
            "per": costs["cents_per_accepted_image"],
            "per_label": "accepted image",
        }
    ]
    for function in _TASK_COSTS:
        rows.extend(function(project))
    return rows


def project_costs(*, project: Project) -> dict:
    """Money spent on a project so far: totals, per synset, per HIT and per accepted image.

    Built-in HITs cost their reward (no fee). MTurk and panel HITs cost what was recorded as
    sent or payable (rewards, bonuses and their fees); pending MTurk work is not spent yet.
    """
    from .models import CrowdPayment

    per_synset: dict[str, dict[str, int]] = defaultdict(
        lambda: {"hits": 0, "rewards_cents": 0, "fees_cents": 0, "bonuses_cents": 0}
    )
    builtin = (
        Assignment.objects.filter(
            project=project, status=Assignment.Status.SUBMITTED, crowd__isnull=True
        )
        .values("synset_id")
        .annotate(hits=Count("pk"), rewards=Sum("reward_cents"))
    )
    by_backend: dict[str, dict[str, int]] = defaultdict(
        lambda: {"hits": 0, "rewards_cents": 0, "fees_cents": 0, "bonuses_cents": 0}
    )
    for row in builtin:
        cell = per_synset[row["synset_id"]]
        cell["hits"] += row["hits"]
        cell["rewards_cents"] += row["rewards"] or 0
        by_backend["builtin"]["hits"] += row["hits"]
        by_backend["builtin"]["rewards_cents"] += row["rewards"] or 0

    paid = Q(status__in=[CrowdPayment.Status.SENT, CrowdPayment.Status.PAYABLE])
    payments = (
        CrowdPayment.objects.filter(paid, crowd_assignment__assignment__project=project)
        .values("crowd_assignment__assignment__synset_id", "crowd_assignment__backend", "kind")
        .annotate(
            n=Count("crowd_assignment", distinct=True),
            amount=Sum("amount_cents"),
            fees=Sum("fee_cents"),
        )
    )
    for row in payments:
        cell = per_synset[row["crowd_assignment__assignment__synset_id"]]
        backend = by_backend[row["crowd_assignment__backend"]]
        for target in (cell, backend):
            if row["kind"] == CrowdPayment.Kind.REWARD:
                target["hits"] += row["n"]
                target["rewards_cents"] += row["amount"] or 0
            else:
                target["bonuses_cents"] += row["amount"] or 0
            target["fees_cents"] += row["fees"] or 0

    accepted = dict(
        ProjectSynset.objects.filter(project=project).values_list("synset_id", "accepted_count")
    )
    wnids = sorted(set(per_synset) | set(accepted))
    names = {
        wnid: (lemmas[0] if lemmas else wnid)
        for wnid, lemmas in Synset.objects.filter(wnid__in=wnids).values_list("wnid", "lemmas")
    }
    synsets = []
    for synset_id in wnids:
        cell = per_synset.get(synset_id) or {
            "hits": 0, "rewards_cents": 0, "fees_cents": 0, "bonuses_cents": 0,
        }  # fmt: skip
        total = cell["rewards_cents"] + cell["fees_cents"] + cell["bonuses_cents"]
        synsets.append(
            {
                "wnid": synset_id,
                "name": names.get(synset_id, synset_id).replace("_", " "),
                **cell,
                "total_cents": total,
                "accepted_images": accepted.get(synset_id, 0),
                "cents_per_accepted_image": _per(total, accepted.get(synset_id, 0)),
            }
        )
    totals = {
        key: sum(s[key] for s in synsets)
        for key in ("hits", "rewards_cents", "fees_cents", "bonuses_cents", "total_cents")
    }
    accepted_total = sum(accepted.values())
    return {
        "project": project.slug,
        "crowd_backend": project.crowd_backend,
        "budget_cents": project.budget_cents,
        "committed_cents": project_committed_cents(project=project),
        **totals,
        "accepted_images": accepted_total,
        "cents_per_hit": _per(totals["total_cents"], totals["hits"]),
        "cents_per_accepted_image": _per(totals["total_cents"], accepted_total),
        "by_backend": {name: dict(cell) for name, cell in sorted(by_backend.items())},
        "synsets": synsets,
    }


def _per(total: int, n: int) -> float | None:
    return round(total / n, 2) if n else None
