"""Read side of the admin dashboards (docs/architecture.md §1): a project's funnel and progress
on its WordNet tree, throughput, cost, synsets that need attention, one synset's consensus
picture, the workers.

Every figure is aggregated in PostgreSQL per synset (``values().annotate()``), so a dashboard
costs the same number of queries for 2 synsets as for 2,000; subtrees are summed in Python from
those per-synset rows through the closure table.
"""

from __future__ import annotations

import base64
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import krippendorff
import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, F, FloatField, Max, Q, Sum
from django.db.models.functions import Cast, NullIf, TruncHour
from django.utils import timezone

from candidates.models import Candidate, SearchQuery
from dashboards.audit.maths import sample_items
from labeling.models import (
    Assignment,
    Item,
    Project,
    ProjectSynset,
    Vote,
    gold_accuracy_smoothed,
)
from labeling.projects import project_labelled_synsets
from synsets.models import SynsetClosure, SynsetEdge

from .charts import FunnelCounts, ProgressRow, StackedRow
from .diversity import DiversityResult, average_image_measure

# "Needs attention" thresholds. Difficulty is 0 (every image certain) … 1 (one vote tells nothing),
# both for the seed table's semantic difficulty (Fig. 7: cat 0.22, Burmese cat 0.54) and for the
# EM model's mean posterior entropy.
HARD_DIFFICULTY = 0.5
STALLED_HOURS = 24
# Krippendorff: α < 0.667 is "tentative" at best; below 0.4 the crowd mostly disagrees.
LOW_AGREEMENT_ALPHA = 0.4
# Fewer pairable votes than this give an α too noisy to flag on.
MIN_PAIRABLE_VOTES = 20
# Hourly buckets up to three days of activity, daily beyond (a readable number of points).
HOURLY_BUCKETS_MAX = 72
GALLERY_SIZE = 24
# The Fig. 5 average converges long before this many images; a fixed, reproducible sample keeps
# the synset page fast on synsets with thousands of accepted images.
DIVERSITY_MAX_IMAGES = 200


@dataclass
class SynsetStats:
    """One project synset's own numbers; ``subtree`` sums it with its descendants in the project."""

    wnid: str
    name: str
    depth: int
    target: int
    queries: int = 0
    candidates: int = 0
    unique: int = 0
    items: int = 0
    voted: int = 0
    accepted: int = 0
    rejected: int = 0
    undecided: int = 0
    pending: int = 0
    open: int = 0
    yes_votes: int = 0
    no_votes: int = 0
    last_vote_at: datetime | None = None
    difficulty: float | None = None
    table_reaches: bool | None = None
    alpha: float | None = None
    pairable_votes: int = 0
    cents_per_accepted: float | None = None
    attention: list[str] = field(default_factory=list)
    subtree: FunnelCounts | None = None
    subtree_target: int = 0
    subtree_size: int = 1

    @property
    def funnel(self) -> FunnelCounts:
        return FunnelCounts(
            queries=self.queries,
            candidates=self.candidates,
            unique=self.unique,
            voted=self.voted,
            accepted=self.accepted,
            rejected=self.rejected,
            undecided=self.undecided,
        )

    @property
    def progress(self) -> float:
        return min(1.0, self.accepted / self.target) if self.target else 0.0

    @property
    def subtree_progress(self) -> float:
        if not self.subtree or not self.subtree_target:
            return 0.0
        return min(1.0, self.subtree.accepted / self.subtree_target)


@dataclass
class TreeNode:
    stats: SynsetStats
    children: list[TreeNode] = field(default_factory=list)


def alpha_from_sums(*, pairable: float, yes: float, no: float, disagreement: float) -> float | None:
    """Krippendorff's α (nominal, two values) from per-synset sums that SQL can aggregate.

    With ``m_u = y_u + n_u`` votes on image u (only images with ≥ 2 votes are pairable):
    D_o = Σ_u 2·y_u·n_u/(m_u − 1) / N and D_e = 2·Y·N_no / (N(N − 1)), α = 1 − D_o/D_e, where N,
    Y, N_no are the pairable, yes and no totals. Equals ``krippendorff.alpha`` on the same votes
    (tested); None when every vote agrees on one value (α is undefined there).
    """
    if pairable < 2 or yes == 0 or no == 0:
        return None
    observed = disagreement / pairable
    expected = 2.0 * yes * no / (pairable * (pairable - 1))
    return 1.0 - observed / expected


def synset_alpha(value_counts: list[tuple[int, int]]) -> float | None:
    """Krippendorff's α of one synset's votes, ``[(yes, no), …]`` per image, by the
    ``krippendorff`` library (images with fewer than two votes carry no pairable information)."""
    rows = np.array([vc for vc in value_counts if sum(vc) >= 2], dtype=float).reshape(-1, 2)
    if len(rows) == 0 or rows[:, 0].sum() == 0 or rows[:, 1].sum() == 0:
        return None
    return float(krippendorff.alpha(value_counts=rows, level_of_measurement="nominal"))


def _table_reaches(table: dict, threshold: float) -> bool | None:
    """Whether any cell of the stored confidence table reaches the accept threshold; None when the
    synset has no seed table yet (or uses the EM method, which keeps none)."""
    cells = [p for row in table.get("p_good") or [] for p in row if p is not None]
    if not cells:
        return None
    return max(cells) >= threshold


def project_synset_stats(*, project: Project) -> dict[str, SynsetStats]:
    """Per-synset funnel, progress, agreement and attention flags, in a fixed number of queries."""
    synset_ids = ProjectSynset.objects.filter(project=project).values("synset_id")
    # A synset that gets no items of its own (internal, when only leaves are labelled) has no
    # target: it only groups its subtree.
    labelled = set(project_labelled_synsets(project=project))
    stats: dict[str, SynsetStats] = {}
    for row in ProjectSynset.objects.filter(project=project).values(
        "synset_id", "synset__lemmas", "synset__depth", "difficulty", "confidence_table"
    ):
        lemmas = row["synset__lemmas"] or []
        stats[row["synset_id"]] = SynsetStats(
            wnid=row["synset_id"],
            name=lemmas[0] if lemmas else row["synset_id"],
            depth=row["synset__depth"],
            target=project.target_per_synset if row["synset_id"] in labelled else 0,
            difficulty=row["difficulty"],
            table_reaches=_table_reaches(row["confidence_table"] or {}, project.accept_threshold),
        )
    for row in (
        SearchQuery.objects.filter(synset_id__in=synset_ids, enabled=True)
        .values("synset_id")
        .annotate(n=Count("pk"))
    ):
        stats[row["synset_id"]].queries = row["n"]
    for row in (
        Candidate.objects.filter(synset_id__in=synset_ids)
        .values("synset_id")
        .annotate(total=Count("pk"), stored=Count("pk", filter=Q(status=Candidate.Status.STORED)))
    ):
        stats[row["synset_id"]].candidates = row["total"]
        stats[row["synset_id"]].unique = row["stored"]
    votes = F("yes_votes") + F("no_votes")
    pairable = Q(n_votes__gte=2)  # only images with two or more votes carry agreement
    state = Item.State
    for row in (
        Item.objects.filter(project=project, is_gold=False)
        .alias(n_votes=votes)
        .values("synset_id")
        .annotate(
            items=Count("pk"),
            voted=Count("pk", filter=Q(yes_votes__gt=0) | Q(no_votes__gt=0)),
            accepted=Count("pk", filter=Q(state=state.ACCEPTED)),
            rejected=Count("pk", filter=Q(state=state.REJECTED)),
            undecided=Count("pk", filter=Q(state=state.UNDECIDED)),
            pending=Count("pk", filter=Q(state=state.PENDING)),
            open=Count("pk", filter=Q(state=state.PENDING, votes_needed__gt=0)),
            yes=Sum("yes_votes"),
            no=Sum("no_votes"),
            pairable=Sum(votes, filter=pairable),
            pairable_yes=Sum("yes_votes", filter=pairable),
            pairable_no=Sum("no_votes", filter=pairable),
            # NULLIF keeps a one-vote image from dividing by zero; SUM skips the NULL.
            disagreement=Sum(
                2.0
                * Cast("yes_votes", FloatField())
                * Cast("no_votes", FloatField())
                / NullIf(Cast(votes, FloatField()) - 1.0, 0.0),
                filter=pairable,
            ),
        )
    ):
        cell = stats[row["synset_id"]]
        for name in ("items", "voted", "accepted", "rejected", "undecided", "pending", "open"):
            setattr(cell, name, row[name])
        cell.yes_votes, cell.no_votes = row["yes"] or 0, row["no"] or 0
        cell.pairable_votes = row["pairable"] or 0
        cell.alpha = alpha_from_sums(
            pairable=cell.pairable_votes,
            yes=row["pairable_yes"] or 0,
            no=row["pairable_no"] or 0,
            disagreement=row["disagreement"] or 0.0,
        )
    for row in (
        Vote.objects.filter(item__project=project)
        .values("item__synset_id")
        .annotate(last=Max("created_at"))
    ):
        stats[row["item__synset_id"]].last_vote_at = row["last"]
    _flag_attention(project=project, stats=stats)
    return stats


def _flag_attention(*, project: Project, stats: dict[str, SynsetStats]) -> None:
    stalled_before = timezone.now() - timedelta(hours=STALLED_HOURS)
    for cell in stats.values():
        if cell.difficulty is not None and cell.difficulty >= HARD_DIFFICULTY:
            cell.attention.append(f"hard (difficulty {cell.difficulty:.2f})")
        if cell.table_reaches is False:
            cell.attention.append("hard (confidence table never reaches the threshold)")
        last_activity = cell.last_vote_at or project.created_at
        if cell.open and last_activity < stalled_before:
            cell.attention.append(f"stalled (no votes for {STALLED_HOURS} h, {cell.open} open)")
        if (
            cell.alpha is not None
            and cell.pairable_votes >= MIN_PAIRABLE_VOTES
            and cell.alpha < LOW_AGREEMENT_ALPHA
        ):
            cell.attention.append(f"low agreement (α = {cell.alpha:.2f})")


def _subtree_sums(*, stats: dict[str, SynsetStats]) -> None:
    """Sum every synset's funnel over its descendants in the project (one closure query)."""
    members: dict[str, list[str]] = defaultdict(list)
    for ancestor, descendant in SynsetClosure.objects.filter(
        ancestor_id__in=list(stats), descendant_id__in=list(stats)
    ).values_list("ancestor_id", "descendant_id"):
        members[ancestor].append(descendant)
    for wnid, cell in stats.items():
        below = members.get(wnid) or [wnid]
        if wnid not in below:
            below.append(wnid)
        cells = [stats[w] for w in below]
        cell.subtree = FunnelCounts(
            *(sum(getattr(c, name) for c in cells) for name in (
                "queries", "candidates", "unique", "voted", "accepted", "rejected", "undecided"
            ))
        )  # fmt: skip
        cell.subtree_size = len(cells)
        cell.subtree_target = sum(c.target for c in cells)


def _tree(*, stats: dict[str, SynsetStats]) -> list[TreeNode]:
    """The project's synsets as a forest following SynsetEdge (a DAG: a synset with two parents
    in the project appears under both)."""
    children: dict[str, list[str]] = defaultdict(list)
    has_parent: set[str] = set()
    for parent, child in SynsetEdge.objects.filter(
        parent_id__in=list(stats), child_id__in=list(stats)
    ).values_list("parent_id", "child_id"):
        children[parent].append(child)
        has_parent.add(child)

    def build(wnid: str, path: frozenset[str]) -> TreeNode:
        kids = sorted(children.get(wnid, []), key=lambda w: (stats[w].name.casefold(), w))
        return TreeNode(stats[wnid], [build(k, path | {k}) for k in kids if k not in path])

    roots = sorted((w for w in stats if w not in has_parent), key=lambda w: stats[w].name)
    return [build(w, frozenset({w})) for w in roots]


def _flatten(nodes: list[TreeNode], depth: int = 0) -> list[tuple[int, SynsetStats]]:
    rows: list[tuple[int, SynsetStats]] = []
    for node in nodes:
        rows.append((depth, node.stats))
        rows.extend(_flatten(node.children, depth + 1))
    return rows


def project_throughput(*, project: Project) -> tuple[str, list[tuple[datetime, int]]]:
    """Votes per hour (or per day once activity spans more than three days)."""
    hourly = [
        (row["bucket"], row["n"])
        for row in Vote.objects.filter(item__project=project)
        .annotate(bucket=TruncHour("created_at"))
        .values("bucket")
        .annotate(n=Count("pk"))
        .order_by("bucket")
    ]
    if len(hourly) <= 1 or (hourly[-1][0] - hourly[0][0]) <= timedelta(hours=HOURLY_BUCKETS_MAX):
        return "hour", hourly
    daily: dict[datetime, int] = defaultdict(int)
    for moment, n in hourly:
        daily[moment.replace(hour=0)] += n
    return "day", sorted(daily.items())


def projects_overview(*, projects) -> list[dict]:
    """The staff landing page: each project's progress, open work and money spent."""
    from crowds.costs import project_costs
    from labeling.progress import projects_progress

    rows = []
    for row in projects_progress(projects=projects):
        cents = project_costs(project=row.project)["total_cents"]
        rows.append({"progress": row, "cost_cents": cents, "cost": f"${cents / 100:,.2f}"})
    return rows


def project_candidates(*, project: Project) -> list[SynsetStats]:
    """The project's synsets in WordNet-tree order with what was collected and labelled."""
    stats = project_synset_stats(project=project)
    return [cell for _, cell in _flatten(_tree(stats=stats))]


def worker_block_impact(*, worker) -> dict:
    """What blocking ``worker`` would do: their counted votes leave consensus (all projects)."""
    votes = Vote.objects.filter(worker=worker, status=Vote.Status.CONFIRMED)
    return {
        "votes_counted": votes.count(),
        "projects_touched": sorted(
            set(votes.values_list("item__project__name", flat=True).distinct())
        ),
    }


def project_costs_summary(*, project: Project) -> dict:
    """Money spent per accepted image: the crowds' cost accounting (rewards, fees, bonuses)."""
    from crowds.costs import project_costs

    return project_costs(project=project)


def project_dashboard(*, project: Project) -> dict:
    """Everything the project dashboard shows, in a number of queries independent of its size."""
    stats = project_synset_stats(project=project)
    _subtree_sums(stats=stats)
    tree = _tree(stats=stats)
    costs = project_costs_summary(project=project)
    for row in costs["synsets"]:
        if row["wnid"] in stats:
            stats[row["wnid"]].cents_per_accepted = row["cents_per_accepted_image"]
    cells = list(stats.values())
    total = FunnelCounts(
        *(sum(getattr(c, name) for c in cells) for name in (
            "queries", "candidates", "unique", "voted", "accepted", "rejected", "undecided"
        ))
    )  # fmt: skip
    unit, throughput = project_throughput(project=project)
    flat = _flatten(tree)
    return {
        "synsets": stats,
        "tree": tree,
        "total": total,
        "target_total": sum(c.target for c in cells),
        "progress_rows": [
            ProgressRow(label=f"{c.name} ({c.wnid})", value=c.accepted, target=c.target, depth=d)
            for d, c in flat
        ],
        "throughput": throughput,
        "throughput_unit": unit,
        "costs": costs,
        "attention": sorted(
            (c for c in cells if c.attention), key=lambda c: (-len(c.attention), c.name)
        ),
    }


# --- one synset ---------------------------------------------------------------------------------


def synset_votes(*, project: Project, wnid: str) -> list[tuple[int, int, str]]:
    """(yes, no, state) of every non-gold image of the synset."""
    return list(
        Item.objects.filter(project=project, synset_id=wnid, is_gold=False).values_list(
            "yes_votes", "no_votes", "state"
        )
    )


def synset_vote_distribution(votes: list[tuple[int, int, str]]) -> list[StackedRow]:
    """Yes and no votes per outcome: accepted images should be mostly yes, rejected mostly no."""
    sums: dict[str, dict[str, float]] = {s: {"yes": 0.0, "no": 0.0} for s in Item.State.values}
    for yes, no, state in votes:
        sums[state]["yes"] += yes
        sums[state]["no"] += no
    return [StackedRow(label=state, counts=counts) for state, counts in sums.items()]


def synset_empirical_table(*, project: Project, wnid: str) -> list[tuple[int, int, float]]:
    """Mean posterior per (yes, no) vote pattern up to three votes: the Fig. 7 view of a synset
    decided by the EM model, which keeps no seed table."""
    rows = (
        Item.objects.filter(project=project, synset_id=wnid, is_gold=False, posterior__isnull=False)
        .annotate(m=F("yes_votes") + F("no_votes"))
        .filter(m__gte=1, m__lte=3)
        .values("yes_votes", "no_votes")
        .annotate(p=Avg("posterior"))
        .order_by(F("yes_votes") + F("no_votes"), "-yes_votes")
    )
    return [(r["yes_votes"], r["no_votes"], round(float(r["p"]), 2)) for r in rows]


def synset_gallery(*, project: Project, wnid: str, state: str, limit: int = GALLERY_SIZE) -> list:
    """A state's images with their votes; accepted ones most certain first, rejected ones least."""
    posterior = F("posterior")
    order = (
        posterior.desc(nulls_last=True)
        if state == Item.State.ACCEPTED
        else posterior.asc(nulls_last=True)
    )
    return list(
        Item.objects.filter(project=project, synset_id=wnid, state=state, is_gold=False)
        .order_by(order, "pk")
        .values("pk", "candidate_id", "yes_votes", "no_votes", "posterior")[:limit]
    )


def synset_diversity(*, project: Project, wnid: str, seed: str = "diversity") -> dict:
    """Deng et al. 2009 Fig. 5 on the synset's accepted images (a reproducible sample of at most
    DIVERSITY_MAX_IMAGES): the 32 × 32 average as a data: URI and its lossless size."""
    ids = Item.objects.filter(
        project=project, synset_id=wnid, state=Item.State.ACCEPTED
    ).values_list("candidate_id", flat=True)
    chosen = sample_items(ids.iterator(chunk_size=2000), DIVERSITY_MAX_IMAGES, seed)
    names = dict(
        Candidate.objects.filter(pk__in=chosen).exclude(image="").values_list("pk", "image")
    )
    storage = Candidate._meta.get_field("image").storage

    def images():
        for pk in sorted(names):
            with storage.open(names[pk], "rb") as handle:
                yield handle.read()

    result: DiversityResult = average_image_measure(images())
    data_uri = (
        "data:image/png;base64," + base64.b64encode(result.average_png).decode()
        if result.average_png
        else None
    )
    return {"result": result, "data_uri": data_uri, "sampled": len(chosen)}


def synset_page(*, project: Project, wnid: str) -> dict:
    project_synset = ProjectSynset.objects.select_related("synset").get(
        project=project, synset_id=wnid
    )
    votes = synset_votes(project=project, wnid=wnid)
    table = project_synset.confidence_table or {}
    table_rows = [tuple(r) for r in table.get("rows") or []]
    return {
        "project_synset": project_synset,
        "synset": project_synset.synset,
        "table_rows": table_rows,
        "table_kind": "seed" if table_rows else "posterior",
        "empirical_rows": [] if table_rows else synset_empirical_table(project=project, wnid=wnid),
        "alpha": synset_alpha([(yes, no) for yes, no, _ in votes]),
        "vote_rows": synset_vote_distribution(votes),
        "counts": {s: sum(1 for *_, st in votes if st == s) for s in Item.State.values},
        "votes_total": sum(y + n for y, n, _ in votes),
        "galleries": [
            (state, synset_gallery(project=project, wnid=wnid, state=state))
            for state in (Item.State.ACCEPTED, Item.State.REJECTED, Item.State.UNDECIDED)
        ],
        "difficulty": project_synset.difficulty,
        "calibration": project_synset.calibration or {},
        "table_reaches": _table_reaches(table, project.accept_threshold),
    }


# --- workers ------------------------------------------------------------------------------------


@dataclass
class WorkerRow:
    user_id: int
    username: str
    hits: int = 0
    earnings_cents: int = 0
    votes: int = 0
    votes_counted: int = 0
    agree: int = 0
    decided: int = 0
    median_ms_per_image: float | None = None
    gold_correct: int = 0
    gold_total: int = 0
    blocked: bool = False
    blocked_reason: str = ""
    flags: dict[str, int] = field(default_factory=dict)

    @property
    def gold_accuracy(self) -> float | None:
        if not self.gold_total:
            return None
        return gold_accuracy_smoothed(correct=self.gold_correct, total=self.gold_total)

    @property
    def earnings(self) -> str:
        return f"${self.earnings_cents / 100:.2f}"

    @property
    def agreement(self) -> float | None:
        return self.agree / self.decided if self.decided else None


def project_workers(*, project: Project) -> list[WorkerRow]:
    """Every worker who took a HIT in the project, in four queries whatever their number."""
    rows: dict[int, WorkerRow] = {}
    per_image: dict[int, list[float]] = defaultdict(list)
    submitted = (
        Assignment.objects.filter(project=project, status=Assignment.Status.SUBMITTED)
        .annotate(n_items=Count("assignment_items"))
        .values_list("worker_id", "duration_ms", "n_items", "reward_cents")
    )
    hits: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for worker_id, duration_ms, n_items, reward in submitted:
        hits[worker_id][0] += 1
        hits[worker_id][1] += reward
        if duration_ms is not None and n_items:
            per_image[worker_id].append(duration_ms / n_items)
    decided = Q(item__is_gold=False, item__state__in=[Item.State.ACCEPTED, Item.State.REJECTED])
    agrees = decided & (
        Q(label=True, item__state=Item.State.ACCEPTED)
        | Q(label=False, item__state=Item.State.REJECTED)
    )
    vote_rows = {
        row["worker_id"]: row
        for row in Vote.objects.filter(item__project=project)
        .values("worker_id")
        .annotate(
            votes=Count("pk"),
            counted=Count("pk", filter=Q(status=Vote.Status.CONFIRMED)),
            agree=Count("pk", filter=agrees),
            decided=Count("pk", filter=decided),
        )
    }
    worker_ids = set(hits) | set(vote_rows)
    users = (
        get_user_model()
        .objects.filter(pk__in=worker_ids)
        .select_related("worker_profile")
        .order_by("username")
    )
    for user in users:
        row = WorkerRow(user_id=user.pk, username=user.get_username())
        row.hits, row.earnings_cents = hits.get(user.pk, (0, 0))
        votes = vote_rows.get(user.pk)
        if votes:
            row.votes, row.votes_counted = votes["votes"], votes["counted"]
            row.agree, row.decided = votes["agree"], votes["decided"]
        if per_image.get(user.pk):
            row.median_ms_per_image = statistics.median(per_image[user.pk])
        profile = getattr(user, "worker_profile", None)
        if profile is not None:
            row.gold_correct, row.gold_total = profile.gold_correct, profile.gold_total
            row.blocked, row.blocked_reason = profile.blocked, profile.blocked_reason
            row.flags = {
                name: entry.get("count", 0)
                for name, entry in (profile.flags or {}).items()
                if isinstance(entry, dict) and entry.get("count")
            }
        rows[user.pk] = row
    return list(rows.values())
