"""Box verifications decided by the calibrated consensus engine, per synset and per kind
(quality or coverage), each with its own stopping rule from the project's box settings.

Votes are "yes" (True) / "no" (False) answers to a yes/no question about a task, exactly the
shape of the image-verification votes, so the same engine (worker reliability EM, calibration on
gold, two informative votes behind every decision) decides them. Gold quality tasks are clamped
and anchor the worker model. A decision is applied once: the loop moves on, and a later
recompute over more votes never reopens a closed task.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from consensus.engine.dynamic import decide_synset
from consensus.engine.stopping import DECISIONS, StoppingRule
from consensus.engine.types import Decision, VoteMatrix
from consensus.engine.types import Vote as EngineVote

from . import loop
from .models import BoxConsensusState, BoxProject, BoxTask, BoxVote, TaskKind
from .project_settings import box_settings_get


@dataclass(frozen=True)
class BoxConsensusSummary:
    kind: str
    votes: int
    tasks_open: int
    accepted: int
    rejected: int
    still_open: int


def stopping_rule(config: BoxProject, kind: str) -> StoppingRule:
    if kind == TaskKind.QUALITY:
        threshold, low, high = (
            config.quality_threshold,
            config.quality_min_votes,
            config.quality_max_votes,
        )
    else:
        threshold, low, high = (
            config.coverage_threshold,
            config.coverage_min_votes,
            config.coverage_max_votes,
        )
    return StoppingRule(
        accept_threshold=threshold, reject_threshold=threshold, max_votes=high,
        positive=True, min_votes=low,
    )  # fmt: skip


def box_consensus_recompute(
    *, project_id: int, synset_id: str, kind: str
) -> BoxConsensusSummary | None:
    """Decide the open verification tasks of one synset and kind, and move their images on.

    Locks the synset's consensus state row (one recompute at a time per synset and kind), then
    the images and tasks it changes, in primary-key order. Idempotent.
    """
    kind = TaskKind(kind)
    if kind == TaskKind.DRAW:
        raise ValueError("draw tasks have no votes to decide")
    with transaction.atomic():
        state, _ = BoxConsensusState.objects.get_or_create(
            project_id=project_id, synset_id=synset_id, kind=kind
        )
        state = BoxConsensusState.objects.select_for_update().get(pk=state.pk)
        config = box_settings_get(project=state.project)
        rule = stopping_rule(config, kind)
        # One worker model for both questions of a synset: a careless verifier is careless at
        # both, and the gold quality boxes then calibrate coverage answers too.
        synset_tasks = BoxTask.objects.filter(
            project_id=project_id,
            synset_id=synset_id,
            kind__in=[TaskKind.QUALITY, TaskKind.COVERAGE],
        )
        tasks = synset_tasks.filter(kind=kind)
        votes = list(
            BoxVote.objects.filter(task__in=synset_tasks)
            .order_by("pk")
            .values_list("task_id", "worker_id", "label")
        )
        gold = dict(synset_tasks.filter(is_gold=True).values_list("pk", "gold_label"))
        open_ids = set(
            tasks.filter(state=BoxTask.State.OPEN, is_gold=False).values_list("pk", flat=True)
        )
        decided: dict[int, tuple[Decision, float]] = {}
        voted_open = {t for t, _, _ in votes if t in open_ids}
        if voted_open:
            matrix = VoteMatrix.from_votes(
                [EngineVote(t, w, bool(label)) for t, w, label in votes],
                label_set=[False, True],
                item_set=list(gold),
            )
            result = decide_synset(matrix, rule=rule, gold=gold or None)
            n_votes = matrix.votes_per_item()
            for row, pk in enumerate(matrix.items):
                if pk in voted_open:
                    decided[pk] = (
                        DECISIONS[result.codes[row]],
                        float(result.posterior[row, 1]),
                        int(n_votes[row]),
                    )
        accepted = rejected = 0
        final = {pk: v for pk, v in decided.items() if v[0] is not Decision.NEED_MORE}
        if final:
            images, locked = loop.images_tasks_lock(final)
            for pk in sorted(final):
                task = locked[pk]
                if task.state != BoxTask.State.OPEN:
                    continue
                verdict, posterior, _ = final[pk]
                # At the vote cap without a confident answer, the posterior's side wins: the
                # loop must move on, and the posterior is stored with the box for the audit.
                yes = verdict is Decision.ACCEPT or (
                    verdict is Decision.UNDECIDED and posterior >= 0.5
                )
                accepted += yes
                rejected += not yes
                image = images[task.image_id]
                if kind == TaskKind.QUALITY:
                    loop.quality_decided(
                        image=image, task=task, accepted=yes, posterior=posterior, config=config
                    )
                else:
                    loop.coverage_decided(
                        image=image, task=task, covered=yes, posterior=posterior, config=config
                    )
        # Undecided tasks ask for as many answers as the rule's minimum still needs, else one.
        low = rule.min_votes
        for pk, (verdict, posterior, n) in decided.items():
            if verdict is Decision.NEED_MORE:
                BoxTask.objects.filter(pk=pk, state=BoxTask.State.OPEN).update(
                    answers_needed=max(low - n, 1), posterior=posterior
                )
        summary = BoxConsensusSummary(
            kind=kind, votes=len(votes), tasks_open=len(open_ids), accepted=accepted,
            rejected=rejected, still_open=len(open_ids) - accepted - rejected,
        )  # fmt: skip
        state.needs_recompute = False
        state.recomputed_at = timezone.now()
        state.summary = {**summary.__dict__, "agreement": _agreement(votes)}
        state.save(update_fields=["needs_recompute", "recomputed_at", "summary", "updated_at"])
    return summary


def _agreement(votes: list[tuple[int, int, bool]]) -> float | None:
    """Share of pairs of answers on the same task that agree (observed pairwise agreement)."""
    per_task: dict[int, list[int]] = {}
    for task, _, label in votes:
        counts = per_task.setdefault(task, [0, 0])
        counts[bool(label)] += 1
    agree = pairs = 0
    for no, yes in per_task.values():
        n = no + yes
        pairs += n * (n - 1) // 2
        agree += yes * (yes - 1) // 2 + no * (no - 1) // 2
    return round(agree / pairs, 4) if pairs else None


def box_consensus_pending(*, limit: int = 50) -> list[tuple[int, str, str]]:
    return list(
        BoxConsensusState.objects.filter(needs_recompute=True)
        .order_by("pk")
        .values_list("project_id", "synset_id", "kind")[:limit]
    )
