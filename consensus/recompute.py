"""Per-synset dynamic consensus (Deng et al. 2009 §3.2) wired to the database: read a synset's
counted votes, run the project's consensus method, and write each image's posterior, state and
how many more votes to ask for — which is what the scheduler serves next.

Serialised per synset (an advisory lock, so submissions setting the synset's recompute flag never
wait for a recompute), the changed images locked in primary-key order as every writer does (see
``labeling.locks``), idempotent (states and votes needed depend only on the votes; a stored
posterior is within ``POSTERIOR_TOLERANCE`` of the one they give), and safe to kill and rerun:
everything is written in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from consensus.engine.confidence_table import ConfidenceTable, confidence_table_from_votes
from consensus.engine.dynamic import decide_synset
from consensus.engine.stopping import DECISIONS, StoppingRule
from consensus.engine.types import Decision, VoteMatrix, normalised_entropy
from consensus.engine.types import Vote as EngineVote
from labeling.locks import item_keys_lock
from labeling.models import Item, Project, ProjectSynset, Vote

# The table needs enough finished seed images before its cells mean anything.
MIN_SEED_ITEMS_FOR_TABLE = 5
POSTERIOR_DECIMALS = 4
# A refit after one HIT nudges nearly every posterior of the synset by 10⁻⁴ or so; rewriting
# 10,000 rows for that was most of a typical recompute. An image whose state and votes needed
# are unchanged keeps its stored posterior unless it moved by at least this much (every figure
# shown rounds posteriors to three decimals).
POSTERIOR_TOLERANCE = 5e-4


@dataclass(frozen=True)
class RecomputeSummary:
    project_synset_id: int
    method: str
    items: int
    votes: int
    accepted: int
    rejected: int
    undecided: int
    changed: int
    seconds: float


def _seed_table(project: Project, votes: list[tuple], seed_ids: set[int]) -> ConfidenceTable | None:
    seed_votes = [
        EngineVote(item=item, worker=worker, label=label)
        for item, worker, label in votes
        if item in seed_ids
    ]
    per_item: dict[int, int] = {}
    for vote in seed_votes:
        per_item[vote.item] = per_item.get(vote.item, 0) + 1
    finished = sum(1 for n in per_item.values() if n >= project.seed_votes)
    if finished < MIN_SEED_ITEMS_FOR_TABLE:
        return None
    return confidence_table_from_votes(seed_votes, positive=True, min_votes=project.seed_votes)


def _table_json(table: ConfidenceTable | None) -> dict:
    if table is None:
        return {}
    return {
        "rows": [list(row) for row in table.rows(max_total=3)],
        "max_votes": table.max_votes,
        "good_share": round(table.good_share, 4),
        "semantic_difficulty": round(table.semantic_difficulty, 4),
        "p_good": [
            [None if np.isnan(p) else round(float(p), 4) for p in row] for row in table.p_good
        ],
    }


def _decide(
    project: Project,
    items: list[dict],
    votes: list[tuple],
    gold: dict[int, bool],
    table: ConfidenceTable | None,
) -> tuple[dict[int, tuple[str, float | None, int]], float | None, dict]:
    """(state, posterior, votes_needed) for every non-gold item, the synset's difficulty, and
    what the calibration stood on (empty for the ImageNet table)."""
    rule = StoppingRule(
        accept_threshold=project.accept_threshold,
        reject_threshold=project.reject_threshold,
        max_votes=project.max_votes,
        positive=True,
    )
    counts: dict[int, list[int]] = {}
    for item, _, label in votes:
        yes_no = counts.setdefault(item, [0, 0])
        yes_no[0 if label else 1] += 1

    posterior: dict[int, float] = {}
    decision: dict[int, Decision] = {}
    difficulty = table.semantic_difficulty if table is not None else None
    calibration: dict = {}
    if project.consensus_method == Project.ConsensusMethod.IMAGENET_TABLE:
        if table is not None:
            for item in items:
                yes, no = counts.get(item["pk"], (0, 0))
                if yes + no > table.max_votes:
                    yes, no = _scale_to(table.max_votes, yes, no)
                posterior[item["pk"]] = table.p(yes, no)
                decision[item["pk"]] = table.decide(
                    yes, no,
                    accept_threshold=project.accept_threshold,
                    reject_threshold=project.reject_threshold,
                    max_votes=project.max_votes,
                )  # fmt: skip
    elif votes:
        posterior, decision, difficulty, calibration = _calibrated(
            project, items, votes, gold, rule
        )

    out: dict[int, tuple[str, float | None, int]] = {}
    for item in items:
        pk = item["pk"]
        n = sum(counts.get(pk, (0, 0)))
        p = posterior.get(pk)
        # Seed images always collect their full seed_votes first: they calibrate the table.
        if item["is_seed"] and n < project.seed_votes:
            out[pk] = (Item.State.PENDING, p, project.seed_votes - n)
            continue
        verdict = decision.get(pk)
        if verdict is Decision.ACCEPT:
            out[pk] = (Item.State.ACCEPTED, p, 0)
        elif verdict is Decision.REJECT:
            out[pk] = (Item.State.REJECTED, p, 0)
        elif verdict is Decision.UNDECIDED or n >= project.max_votes:
            out[pk] = (Item.State.UNDECIDED, p, 0)
        else:
            # Not decided yet: at least min_votes in total, then one more at a time.
            out[pk] = (Item.State.PENDING, p, max(project.min_votes - n, 1))
    return out, difficulty, calibration


def _calibrated(
    project: Project,
    items: list[dict],
    votes: list[tuple],
    gold: dict[int, bool],
    rule: StoppingRule,
) -> tuple[dict[int, float], dict[int, Decision], float | None, dict]:
    """The worker model deciding on calibrated probabilities (consensus.engine.dynamic): seed
    images that have their seed_votes and voted gold images calibrate it, and no image is
    decided on one worker's vote unless that worker is established on gold."""
    item_ids, worker_ids, labels = zip(*votes, strict=True)
    matrix = VoteMatrix.from_columns(
        item_ids, worker_ids, labels, label_set=[False, True], item_set=list(gold)
    )
    n_votes = matrix.votes_per_item()
    row_of = {pk: row for row, pk in enumerate(matrix.items)}
    seed_rows = np.array(
        [
            row_of[item["pk"]]
            for item in items
            if item["is_seed"]
            and item["pk"] in row_of
            and n_votes[row_of[item["pk"]]] >= project.seed_votes
        ],
        dtype=np.int64,
    )
    result = decide_synset(matrix, rule=rule, gold=gold or None, seed_rows=seed_rows)
    posterior: dict[int, float] = {}
    decision: dict[int, Decision] = {}
    for row, pk in enumerate(matrix.items):
        if pk not in gold:
            posterior[pk] = float(result.posterior[row, 1])
            decision[pk] = DECISIONS[result.codes[row]]
    voted = n_votes > 0
    difficulty = (
        float(normalised_entropy(result.estimate.posterior[voted]).mean()) if voted.any() else None
    )
    calibration = {
        "reference_images": result.calibration.reference_images,
        "gold_images": result.calibration.gold_images,
        "model": result.model,
    }
    return posterior, decision, difficulty, calibration


def _scale_to(cap: int, yes: int, no: int) -> tuple[int, int]:
    """Map a vote count beyond the table onto its last row, keeping the yes share."""
    total = yes + no
    scaled_yes = round(cap * yes / total)
    return scaled_yes, cap - scaled_yes


def _posterior_moved(new: float | None, stored: float | None) -> bool:
    if new is None or stored is None:
        return new != stored
    return abs(new - stored) >= POSTERIOR_TOLERANCE


def _write_items(changes: list[tuple[int, str, float | None, int]]) -> None:
    if not changes:
        return
    if connection.vendor == "postgresql":
        # One statement, one array per column: no per-row SQL text to build and parse.
        ids, states, posteriors, needed = (list(column) for column in zip(*changes, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE labeling_item AS i SET state = v.state, posterior = v.posterior, "
                "votes_needed = v.votes_needed, updated_at = now() "
                "FROM unnest(%s::bigint[], %s::varchar[], %s::double precision[], %s::int[]) "
                "AS v(id, state, posterior, votes_needed) WHERE i.id = v.id",
                [ids, states, posteriors, needed],
            )
        return
    objs = [
        Item(pk=pk, state=state, posterior=posterior, votes_needed=needed)
        for pk, state, posterior, needed in changes
    ]
    Item.objects.bulk_update(objs, ["state", "posterior", "votes_needed"], batch_size=500)


# Advisory lock namespace of ``_recompute_lock``.
RECOMPUTE_LOCK = 0x5EC1


def _recompute_lock(project_synset_id: int) -> None:
    """Serialise recomputes of one synset (a transaction-scoped advisory lock). SQLite
    serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [RECOMPUTE_LOCK, project_synset_id]
            )


def synset_recompute_consensus(*, project_synset_id: int) -> RecomputeSummary | None:
    """Recompute one synset of one project; returns None when it no longer exists."""
    started = time.perf_counter()
    # Cleared in a transaction of its own, before anything is read: a vote committed after this
    # sets the flag again and enqueues the next recompute. Cleared inside the recompute's
    # transaction, the flag stayed set for everyone else until the commit, so a vote committed
    # meanwhile (and not read) enqueued nothing and waited for the synset's next vote; and the
    # row lock of that UPDATE made every submission of the synset wait for the whole recompute.
    ProjectSynset.objects.filter(pk=project_synset_id).update(needs_recompute=False)
    with transaction.atomic():
        # One recompute of a synset at a time, without a row lock anybody else waits for.
        _recompute_lock(project_synset_id)
        project_synset = (
            ProjectSynset.objects.select_related("project").filter(pk=project_synset_id).first()
        )
        if project_synset is None:
            return None
        project = project_synset.project
        scope = {"project_id": project.pk, "synset_id": project_synset.synset_id}
        rows = Item.objects.filter(**scope).values(
            "pk", "is_seed", "is_gold", "gold_label", "state", "posterior", "votes_needed"
        )
        items, gold = [], {}
        for row in rows:
            if row["is_gold"]:
                gold[row["pk"]] = bool(row["gold_label"])
            else:
                items.append(row)
        # (item, worker, label) tuples: 100,000 of them for a 10,000-image synset, so no object
        # per vote (the engine takes the three columns).
        votes = list(
            Vote.objects.filter(
                item__project_id=project.pk,
                item__synset_id=project_synset.synset_id,
                status=Vote.Status.CONFIRMED,
            ).values_list("item_id", "worker_id", "label")
        )
        seed_ids = {row["pk"] for row in items if row["is_seed"]}
        table = _seed_table(project, votes, seed_ids)
        decided, difficulty, calibration = _decide(project, items, votes, gold, table)
        changes = []
        for row in items:
            state, posterior, needed = decided[row["pk"]]
            if posterior is not None:
                posterior = round(min(max(posterior, 0.0), 1.0), POSTERIOR_DECIMALS)
            if (state, needed) != (row["state"], row["votes_needed"]) or _posterior_moved(
                posterior, row["posterior"]
            ):
                changes.append((row["pk"], state, posterior, needed))
        # Lock order of every writer (labeling.locks): images in ascending primary key, so this
        # task and a submission or a lease release holding some of the same images wait for
        # one another instead of deadlocking; images a new HIT is leasing right now are waited
        # for too (the scheduler itself never waits: SKIP LOCKED).
        changes.sort()
        item_keys_lock(change[0] for change in changes)
        _write_items(changes)
        states = [decided[row["pk"]][0] for row in items]
        accepted = states.count(Item.State.ACCEPTED)
        rejected = states.count(Item.State.REJECTED)
        undecided = states.count(Item.State.UNDECIDED)
        ProjectSynset.objects.filter(pk=project_synset_id).update(
            accepted_count=accepted,
            rejected_count=rejected,
            undecided_count=undecided,
            difficulty=difficulty,
            confidence_table=_table_json(table),
            calibration=calibration,
            recompute_seconds=round(time.perf_counter() - started, 4),
            recomputed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    return RecomputeSummary(
        project_synset_id=project_synset_id,
        method=project.consensus_method,
        items=len(items),
        votes=len(votes),
        accepted=accepted,
        rejected=rejected,
        undecided=undecided,
        changed=len(changes),
        seconds=time.perf_counter() - started,
    )
