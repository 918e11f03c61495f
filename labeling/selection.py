"""Which synsets a project covers: resolve what a staff user typed, picked or uploaded — lemmas in
any language or wnids, one of the 12 ImageNet 2009 presets, or a wnid list — and describe the
selection before anything is saved (synsets, leaves, depth, candidates already stored).

Exactly one way of selecting is accepted per request, so a preset and a wnid list sent together
are refused rather than silently merged.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Count

from candidates.models import Candidate
from synsets.models import Synset, SynsetClosure, SynsetLemma
from synsets.presets import IMAGENET_2009_SUBTREES, WNID_PATTERN

PRESET_NAMES = sorted(IMAGENET_2009_SUBTREES)
MAX_SELECTION_SPECS = 5000
# ImageNet's goal was 500-1000 clean images per synset (Deng et al. 2009 §1).
IMAGENET_TARGET = 1000


@dataclass
class Resolved:
    """One line the user gave and the synset it stands for (with the senses it did not pick)."""

    spec: str
    wnid: str
    name: str
    matched: str  # "wnid", "preset", or "lemma '<lemma>' (<language>)"
    others: list[tuple[str, str]] = field(default_factory=list)  # other senses: (wnid, name)


@dataclass
class Selection:
    """The synsets a project will cover and what is known about them already."""

    roots: list[Resolved]
    wnids: list[str]  # the whole selection, sorted
    internal: set[str]  # synsets with a descendant in the selection
    depth_min: int
    depth_max: int
    stored: dict[str, int]  # stored candidates per synset (only synsets that have some)

    @property
    def leaves(self) -> list[str]:
        return [wnid for wnid in self.wnids if wnid not in self.internal]

    @property
    def with_candidates(self) -> int:
        return len(self.stored)

    def suggested_target(self, *, label_internal: bool = True) -> int:
        """ImageNet's 1000 per synset, but never more than the median synset has stored
        candidates for, once candidates are stored: a target above what was collected is a
        promise the project cannot keep."""
        counted = self.wnids if label_internal else self.leaves
        stored = [self.stored.get(wnid, 0) for wnid in counted]
        if not any(stored):
            return IMAGENET_TARGET
        return max(1, min(IMAGENET_TARGET, int(statistics.median(stored))))

    def as_dict(self) -> dict:
        return {
            "roots": [
                {
                    "spec": r.spec,
                    "wnid": r.wnid,
                    "name": r.name,
                    "matched": r.matched,
                    "other_senses": [{"wnid": w, "name": n} for w, n in r.others],
                }
                for r in self.roots
            ],  # fmt: skip
            "synsets": len(self.wnids),
            "leaves": len(self.leaves),
            "internal": len(self.internal),
            "depth_min": self.depth_min,
            "depth_max": self.depth_max,
            "synsets_with_candidates": self.with_candidates,
            "stored_candidates": sum(self.stored.values()),
            "suggested_target_per_synset": self.suggested_target(),
            "wnids": self.wnids,
        }


def _lemma_matches(spec: str) -> tuple[list[Synset], str]:
    """Synsets with ``spec`` as an exact lemma in any language: English senses first, then the
    most general (biggest subtree) — the common sense of "dog" before "frump"."""
    folded = spec.replace("_", " ").strip().casefold()
    rows = list(
        SynsetLemma.objects.filter(lemma_folded=folded)
        .values_list("synset_id", "language", "lemma")
        .order_by("synset_id")
    )
    if not rows:
        return [], ""
    by_synset: dict[str, tuple[str, str]] = {}
    for wnid, language, lemma in rows:
        if wnid not in by_synset or language == "eng":
            by_synset[wnid] = (language, lemma)
    synsets = sorted(
        Synset.objects.filter(wnid__in=by_synset),
        key=lambda s: (by_synset[s.wnid][0] != "eng", -s.subtree_size, s.wnid),
    )
    language, lemma = by_synset[synsets[0].wnid]
    return synsets, f"lemma '{lemma}' ({language})"


def synset_specs_resolve(specs: Iterable[str]) -> list[Resolved]:
    """Each spec (wnid, preset name or lemma in any language) to one synset. Raises
    ValidationError naming every spec that matches nothing."""
    resolved: list[Resolved] = []
    missing: list[str] = []
    for raw in specs:
        spec = raw.strip()
        if not spec:
            continue
        if WNID_PATTERN.match(spec):
            synset = Synset.objects.filter(wnid=spec).first()
            if synset is None:
                missing.append(f"{spec} (no such wnid in WordNet 3.0)")
            else:
                resolved.append(Resolved(spec, synset.wnid, synset.name, "wnid"))
            continue
        preset = IMAGENET_2009_SUBTREES.get(spec.casefold())
        synsets, how = ([], "")
        if preset:
            synsets, how = list(Synset.objects.filter(wnid=preset)), "preset"
        if not synsets:
            synsets, how = _lemma_matches(spec)
        if not synsets:
            missing.append(f"{spec!r} (no synset has this lemma or wnid)")
            continue
        first, others = synsets[0], [(s.wnid, s.name) for s in synsets[1:6]]
        resolved.append(Resolved(spec, first.wnid, first.name, how, others))
    if missing:
        raise ValidationError(f"Unknown synsets: {'; '.join(missing)}.")
    return resolved


def wnid_list_parse(text: str) -> list[str]:
    """Wnids one per line (first column; blank lines and # comments ignored), in order, once.
    Raises ValidationError naming the first bad line."""
    wnids: list[str] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        tokens = line.split("#", 1)[0].replace(",", " ").split()
        if not tokens:
            continue
        if not WNID_PATTERN.match(tokens[0]):
            raise ValidationError(
                f"Line {number} of the wnid list: {tokens[0][:40]!r} is not a wnid (n + 8 digits)."
            )
        wnids.append(tokens[0])
    return list(dict.fromkeys(wnids))


def selection_resolve(
    *,
    synsets: Sequence[str] = (),
    preset: str = "",
    wnid_list: Sequence[str] = (),
    include_subtrees: bool | None = None,
) -> Selection:
    """Resolve exactly one way of selecting into a Selection.

    ``include_subtrees`` defaults to True for searched synsets and presets (a subtree is what a
    user means by "reptile") and to False for a wnid list (ImageNet-1k's list is its leaves).
    """
    ways = (("synsets", synsets), ("a preset", preset), ("a wnid list", wnid_list))
    given = [name for name, value in ways if value]
    if len(given) > 1:
        raise ValidationError(
            f"Choose one way to select synsets: {' and '.join(given)} were both given."
        )
    if not given:
        raise ValidationError("Select at least one synset: search, a preset or a wnid list.")
    if preset:
        if preset.casefold() not in IMAGENET_2009_SUBTREES:
            choices = ", ".join(sorted(IMAGENET_2009_SUBTREES))
            raise ValidationError(f"Unknown preset {preset!r}; the presets are: {choices}.")
        specs: Sequence[str] = [preset.casefold()]
    elif wnid_list:
        specs = list(dict.fromkeys(w.strip() for w in wnid_list if w.strip()))
        bad = [w for w in specs if not WNID_PATTERN.match(w)]
        if bad:
            raise ValidationError(f"Not wnids (n + 8 digits): {', '.join(bad[:10])}.")
    else:
        specs = list(synsets)
    if len(specs) > MAX_SELECTION_SPECS:
        raise ValidationError(f"At most {MAX_SELECTION_SPECS} synsets per request.")
    if wnid_list:
        known = set(Synset.objects.filter(wnid__in=specs).values_list("wnid", flat=True))
        missing = [w for w in specs if w not in known]
        if missing:
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValidationError(
                f"Unknown wnids (not in WordNet 3.0): {', '.join(missing[:10])}{more}."
            )
        names = dict(
            (s.wnid, s.name) for s in Synset.objects.filter(wnid__in=specs)
        )  # fmt: skip
        roots = [Resolved(w, w, names[w], "wnid") for w in specs]
    else:
        roots = synset_specs_resolve(specs)
    if not roots:
        raise ValidationError("Select at least one synset: search, a preset or a wnid list.")
    subtrees = include_subtrees if include_subtrees is not None else not wnid_list
    return selection_describe(roots=roots, include_subtrees=subtrees)


def selection_describe(*, roots: list[Resolved], include_subtrees: bool) -> Selection:
    root_ids = list(dict.fromkeys(r.wnid for r in roots))
    if include_subtrees:
        wnids = sorted(
            set(
                SynsetClosure.objects.filter(ancestor_id__in=root_ids).values_list(
                    "descendant_id", flat=True
                )
            )
            | set(root_ids)
        )
    else:
        wnids = sorted(root_ids)
    return Selection(
        roots=roots,
        wnids=wnids,
        internal=selection_internal(wnids),
        **_depths(wnids),
        stored=stored_candidate_counts(wnids),
    )


def selection_internal(wnids: Sequence[str]) -> set[str]:
    """The synsets of ``wnids`` that have a descendant among ``wnids``."""
    return set(
        SynsetClosure.objects.filter(
            ancestor_id__in=wnids, descendant_id__in=wnids, distance__gt=0
        ).values_list("ancestor_id", flat=True)
    )


def _depths(wnids: Sequence[str]) -> dict[str, int]:
    depths = list(Synset.objects.filter(wnid__in=wnids).values_list("depth", flat=True))
    return {"depth_min": min(depths, default=0), "depth_max": max(depths, default=0)}


def stored_candidate_counts(wnids: Sequence[str]) -> dict[str, int]:
    rows = (
        Candidate.objects.filter(synset_id__in=wnids, status=Candidate.Status.STORED)
        .values("synset_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["synset_id"]: row["n"] for row in rows}
