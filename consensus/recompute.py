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
from django.db.models import QuerySet
from django.utils import timezone

from consensus.engine.confidence_table import ConfidenceTable, confidence_table_from_votes
from consensus.engine.dynamic import decide_synset
from consensus.engine.model import DENSE_VOTES_PER_ITEM, MixtureStart
from consensus.engine.stopping import DECISIONS, StoppingRule
from consensus.engine.types import Decision, VoteMatrix, normalised_entropy
from consensus.engine.types import Vote as EngineVote
from consensus.models import MixtureState
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
# The worker model resumes its last fit (one EM start from the stored posteriors and mixture)
# until the synset has this many times the votes of its last cold fit, which then runs again
# from cold: a HIT's votes move a settled fit a little, a tenth more votes may not.
RESUME_GROWTH = 1.1


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


@dataclass(frozen=True)
class _Synset:
    """One synset's images (gold apart, ascending key) and counted votes, as columns: a
    10,000-image synset has 100,000 votes, so no Python object per vote or per image."""

    pk: np.ndarray  # int64
    is_seed: np.ndarray  # bool
    state: np.ndarray  # str
    posterior: np.ndarray  # float, NaN where none is stored
    votes_needed: np.ndarray  # int64
    yes: np.ndarray  # counted votes per image
    no: np.ndarray
    gold: dict[int, bool]
    vote_item: np.ndarray  # int64
    vote_worker: np.ndarray  # int64
    vote_label: np.ndarray  # bool


_ITEM_COLUMNS = ("pk", "is_gold", "gold_label", "is_seed", "state", "posterior", "votes_needed")


def _read(project_id: int, synset_id: str) -> _Synset:
    pk, is_gold, gold_label, is_seed, state, posterior, needed = _read_items(project_id, synset_id)
    gold = dict(zip(pk[is_gold].tolist(), gold_label[is_gold].tolist(), strict=True))
    images = ~is_gold
    pk_array = pk[images]
    vote_item, vote_worker, vote_label = _read_votes(project_id, synset_id)
    # Each vote's image row; votes on gold images are not counted here.
    at = np.minimum(np.searchsorted(pk_array, vote_item), max(pk_array.size - 1, 0))
    counted = pk_array[at] == vote_item if pk_array.size else np.zeros(vote_item.size, bool)
    total = np.bincount(at[counted], minlength=pk_array.size)
    yes = np.bincount(at[counted], weights=vote_label[counted], minlength=pk_array.size)
    yes = yes.astype(np.int64)
    return _Synset(
        pk=pk_array,
        is_seed=is_seed[images],
        state=state[images],
        posterior=posterior[images],
        votes_needed=needed[images],
        yes=yes,
        no=total - yes,
        gold=gold,
        vote_item=vote_item,
        vote_worker=vote_worker,
        vote_label=vote_label,
    )


def _read_items(project_id: int, synset_id: str) -> tuple[np.ndarray, ...]:
    """The synset's images in key order, one array per column of ``_ITEM_COLUMNS`` (gold label
    False where none, posterior NaN where none)."""
    rows = (
        Item.objects.filter(project_id=project_id, synset_id=synset_id)
        .order_by("pk")
        .values_list(*_ITEM_COLUMNS)
    )
    columns = _as_columns(rows, len(_ITEM_COLUMNS))
    pk, is_gold, gold_label, is_seed, state, posterior, needed = columns
    return (
        np.array(pk, dtype=np.int64),
        np.array(is_gold, dtype=bool),
        np.array([bool(label) for label in gold_label], dtype=bool),
        np.array(is_seed, dtype=bool),
        np.array(state, dtype=str),
        np.array([np.nan if p is None else p for p in posterior], dtype=float),
        np.array(needed, dtype=np.int64),
    )


def _read_votes(project_id: int, synset_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The synset's counted votes as columns (image, worker, label), in image and vote order."""
    votes = Vote.objects.filter(
        item__project_id=project_id, item__synset_id=synset_id, status=Vote.Status.CONFIRMED
    ).values_list("item_id", "worker_id", "label")
    items, workers, labels = _as_columns(votes, 3)
    return np.array(items, np.int64), np.array(workers, np.int64), np.array(labels, bool)


def _as_columns(rows: QuerySet, width: int) -> tuple[list, ...]:
    """A ``values_list`` queryset's rows as one list per column, in the query's order."""
    if connection.vendor != "postgresql":
        listed = list(rows)
        return tuple(zip(*listed, strict=True)) if listed else ((),) * width
    # One row of arrays instead of 100,000 rows of values: the server builds the columns, the
    # driver parses them in C (a third of the read's CPU here). The aggregates take the same
    # rows in the same pass, in the inner query's order, so the columns stay aligned.
    sql, params = rows.query.sql_with_params()
    names = [f'array_agg("{name}")' for name in rows.query.values_select]
    with connection.cursor() as cursor:
        # The ORM's own compiled query, its parameters apart.
        cursor.execute(f"SELECT {', '.join(names)} FROM ({sql}) v", params)  # noqa: S608
        columns = cursor.fetchone()
    return tuple(column or [] for column in columns)


def _seed_table(project: Project, synset: _Synset) -> ConfidenceTable | None:
    finished = int(np.count_nonzero((synset.yes + synset.no)[synset.is_seed] >= project.seed_votes))
    if finished < MIN_SEED_ITEMS_FOR_TABLE:
        return None
    # The seed's votes, picked out of the synset's without a Python step per other vote.
    on_seed = np.isin(synset.vote_item, synset.pk[synset.is_seed])
    seed_votes = [
        EngineVote(item=item, worker=worker, label=label)
        for item, worker, label in zip(
            synset.vote_item[on_seed].tolist(), synset.vote_worker[on_seed].tolist(),
            synset.vote_label[on_seed].tolist(), strict=True,
        )
    ]  # fmt: skip
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


# Decision codes of images no rule has decided (no vote yet, or no table yet).
_NO_CODE = -1


def _decide(
    project: Project,
    synset: _Synset,
    table: ConfidenceTable | None,
    mixture: MixtureState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None, dict, MixtureState | None]:
    """State, posterior (NaN: none) and votes needed of every image, the synset's difficulty,
    what the calibration stood on (empty for the ImageNet table), and the worker model's
    mixture to keep for the next recompute (``mixture``: the kept one; None: fit cold)."""
    n = synset.yes + synset.no
    posterior = np.full(synset.pk.size, np.nan)
    codes = np.full(synset.pk.size, _NO_CODE, dtype=np.int64)
    difficulty = table.semantic_difficulty if table is not None else None
    calibration: dict = {}
    kept = None
    if project.consensus_method == Project.ConsensusMethod.IMAGENET_TABLE:
        if table is not None:
            for row, (yes, no) in enumerate(
                zip(synset.yes.tolist(), synset.no.tolist(), strict=True)
            ):
                if yes + no > table.max_votes:
                    yes, no = _scale_to(table.max_votes, yes, no)
                posterior[row] = table.p(yes, no)
                codes[row] = DECISIONS.index(
                    table.decide(
                        yes, no,
                        accept_threshold=project.accept_threshold,
                        reject_threshold=project.reject_threshold,
                        max_votes=project.max_votes,
                    )
                )  # fmt: skip
    elif synset.vote_item.size:
        posterior, codes, difficulty, calibration, kept = _calibrated(project, synset, mixture)

    seed_first = synset.is_seed & (n < project.seed_votes)
    accept = codes == DECISIONS.index(Decision.ACCEPT)
    reject = codes == DECISIONS.index(Decision.REJECT)
    undecided = (codes == DECISIONS.index(Decision.UNDECIDED)) | (n >= project.max_votes)
    # Seed images always collect their full seed_votes first: they calibrate the table. Then a
    # decision, or the cap; otherwise at least min_votes in total, then one more at a time.
    state = np.select(
        [seed_first, accept, reject, undecided],
        [Item.State.PENDING, Item.State.ACCEPTED, Item.State.REJECTED, Item.State.UNDECIDED],
        default=Item.State.PENDING,
    )
    needed = np.select(
        [seed_first, accept | reject | undecided],
        [project.seed_votes - n, 0],
        default=np.maximum(project.min_votes - n, 1),
    )
    return state, posterior, needed, difficulty, calibration, kept


def _calibrated(
    project: Project, synset: _Synset, mixture: MixtureState | None
) -> tuple[np.ndarray, np.ndarray, float | None, dict, MixtureState | None]:
    """The worker model deciding on calibrated probabilities (consensus.engine.dynamic): seed
    images that have their seed_votes and voted gold images calibrate it, and no image is
    decided on one worker's vote unless that worker is established on gold. Resumes the last
    fit while the synset has grown by less than ``RESUME_GROWTH``."""
    rule = StoppingRule(
        accept_threshold=project.accept_threshold,
        reject_threshold=project.reject_threshold,
        max_votes=project.max_votes,
        positive=True,
    )
    gold = synset.gold
    matrix = VoteMatrix.from_columns(
        synset.vote_item, synset.vote_worker, synset.vote_label,
        label_set=[False, True], item_set=list(gold),
    )  # fmt: skip
    # Each image's row in the matrix (-1: no vote yet, so not in it).
    rows = matrix.rows_of(synset.pk)
    voted = rows >= 0
    full_seed = synset.is_seed & voted & (synset.yes + synset.no >= project.seed_votes)
    n_votes = int(synset.vote_item.size)
    # Only dense synsets resume: with a few votes per image EM has several optima, and where a
    # start from the stored posteriors lands would depend on the history, not on the votes (a
    # cold fit of sparse votes tries two starts and keeps the likelier; it is cheap there).
    dense = n_votes >= DENSE_VOTES_PER_ITEM * int(np.count_nonzero(voted))
    resume = mixture is not None and dense and n_votes < RESUME_GROWTH * mixture.cold_votes
    # A resumed fit keeps the workers model the last cold fit chose (weighing the exchangeable
    # model again costs a second fit); an exchangeable choice is weighed again every time.
    keep_workers = resume and mixture.model == "workers"
    result = decide_synset(
        matrix, rule=rule, gold=gold or None, seed_rows=rows[full_seed],
        init_posterior=_last_posterior(synset, matrix, rows) if resume else None,
        resume=MixtureStart(dict(zip(mixture.workers, mixture.honest, strict=True)),
                            mixture.honest_share) if resume else None,
        choose_model=not keep_workers,
    )  # fmt: skip
    kept = None
    if result.mixture is not None:
        workers = list(result.mixture.honest)
        kept = MixtureState(
            workers=workers,
            honest=[round(result.mixture.honest[worker], 6) for worker in workers],
            honest_share=result.mixture.honest_share,
            cold_votes=mixture.cold_votes if resume else n_votes,
            model=mixture.model if keep_workers else result.model,
        )
    posterior = np.where(voted, result.posterior[rows, 1], np.nan)
    codes = np.where(voted, result.codes[rows], _NO_CODE)
    in_matrix = matrix.votes_per_item() > 0
    difficulty = (
        float(normalised_entropy(result.estimate.posterior[in_matrix]).mean())
        if in_matrix.any()
        else None
    )
    calibration = {
        "reference_images": result.calibration.reference_images,
        "gold_images": result.calibration.gold_images,
        "model": result.model,
    }
    return posterior, codes, difficulty, calibration, kept


def _last_posterior(synset: _Synset, matrix: VoteMatrix, rows: np.ndarray) -> np.ndarray:
    """Where to resume EM (matrix rows × [bad, good]): each image's stored posterior, or its
    share of yes votes where none is stored (gold rows are clamped by the fit anyway)."""
    p_good = np.full(matrix.n_items, 0.5)
    voted = rows >= 0
    stored = synset.posterior[voted]
    shares = synset.yes[voted] / np.maximum(synset.yes[voted] + synset.no[voted], 1)
    p_good[rows[voted]] = np.where(np.isnan(stored), shares, stored)
    p_good = np.clip(p_good, 0.001, 0.999)
    return np.column_stack([1 - p_good, p_good])


def _scale_to(cap: int, yes: int, no: int) -> tuple[int, int]:
    """Map a vote count beyond the table onto its last row, keeping the yes share."""
    total = yes + no
    scaled_yes = round(cap * yes / total)
    return scaled_yes, cap - scaled_yes


def _changed(synset: _Synset, state: np.ndarray, posterior: np.ndarray, needed: np.ndarray):
    """Rows whose state or votes needed differ, or whose posterior moved by at least
    ``POSTERIOR_TOLERANCE`` (or appeared, or vanished)."""
    stored = synset.posterior
    moved = np.isnan(posterior) != np.isnan(stored)
    both = ~np.isnan(posterior) & ~np.isnan(stored)
    moved[both] |= np.abs(posterior[both] - stored[both]) >= POSTERIOR_TOLERANCE
    return np.flatnonzero((state != synset.state) | (needed != synset.votes_needed) | moved)


def _write_items(
    ids: list[int], states: list[str], posteriors: list[float | None], needed: list[int]
) -> None:
    """Write the changed images (columns of the same length)."""
    if not ids:
        return
    if connection.vendor == "postgresql":
        # One statement, one array per column: no per-row SQL text to build and parse.
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
        Item(pk=pk, state=state, posterior=posterior, votes_needed=votes)
        for pk, state, posterior, votes in zip(ids, states, posteriors, needed, strict=True)
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
    # meanwhile (and not read) enqueued nothing and waited for the synset's next vote.
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
        synset = _read(project.pk, project_synset.synset_id)
        table = _seed_table(project, synset)
        # Only the worker model resumes a fit (the ImageNet table has none to resume).
        mixture = (
            MixtureState.objects.filter(project_synset_id=project_synset_id).first()
            if project.consensus_method == Project.ConsensusMethod.WORKER_EM
            else None
        )
        state, posterior, needed, difficulty, calibration, kept = _decide(
            project, synset, table, mixture
        )
        posterior = np.round(np.clip(posterior, 0.0, 1.0), POSTERIOR_DECIMALS)
        rows = _changed(synset, state, posterior, needed)
        # Lock order of every writer (labeling.locks): images in ascending primary key (rows
        # are in key order), so this task and a submission or a lease release holding some of
        # the same images wait for one another instead of deadlocking; images a new HIT is
        # leasing right now are waited for too (the scheduler itself never waits: SKIP LOCKED).
        changed_ids = synset.pk[rows].tolist()
        item_keys_lock(changed_ids)
        _write_items(
            changed_ids,
            state[rows].tolist(),
            [None if np.isnan(p) else p for p in posterior[rows].tolist()],
            needed[rows].tolist(),
        )
        accepted = int(np.count_nonzero(state == Item.State.ACCEPTED))
        rejected = int(np.count_nonzero(state == Item.State.REJECTED))
        undecided = int(np.count_nonzero(state == Item.State.UNDECIDED))
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
        if kept is not None:
            # One upsert statement (the row is the synset's, and this recompute holds its lock).
            kept.project_synset_id = project_synset_id
            MixtureState.objects.bulk_create(
                [kept], update_conflicts=True, unique_fields=["project_synset"],
                update_fields=["workers", "honest", "honest_share", "cold_votes", "model",
                               "updated_at"],
            )  # fmt: skip
    return RecomputeSummary(
        project_synset_id=project_synset_id,
        method=project.consensus_method,
        items=int(synset.pk.size),
        votes=int(synset.vote_item.size),
        accepted=accepted,
        rejected=rejected,
        undecided=undecided,
        changed=len(changed_ids),
        seconds=time.perf_counter() - started,
    )
