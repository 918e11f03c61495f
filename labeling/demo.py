"""The demo that `make run` sets up: candidate images for a few synsets from DEMO_IMAGES (the
700 real ImageNet photos on our machines) or, without it, scikit-image's sample photographs;
a labeling project over them with gold images; and the truth the crowd simulator answers from.

Each demo synset gets its true images (those whose ImageNet class lies in its subtree) mixed
with about three times as many others, like a web search that is 20–25% accurate (Deng et al.
2009 §3.1 report ~10%).
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from candidates.collection import collection_job_create, collection_job_run
from candidates.models import Candidate
from synsets.models import Synset, SynsetClosure

from .models import Item, Project
from .projects import project_add_candidates, project_create
from .quality import gold_mark

DEMO_SLUG = "demo"
# dog, bird, vehicle, musical instrument: ImageNet 2009 subtrees with 19–82 of the 700 samples.
DEMO_SYNSETS = ["n02084071", "n01503061", "n04524313", "n03800933"]
FALLBACK_SYNSETS = ["n02121808"]  # domestic cat (scikit-image's "chelsea")
NEGATIVES_PER_POSITIVE = 3
GOLD_PER_SYNSET = 6
_FILE_WNID = re.compile(r"^(n\d{8})_")

Say = Callable[[str], None]


def demo_dir() -> Path:
    return settings.VAR_DIR / "demo-images"


def _link(source: Path, target: Path) -> None:
    if target.exists():
        return
    try:
        os.link(source, target)  # no copy when the data sits on the same filesystem
    except OSError:
        shutil.copyfile(source, target)


def _subtree(wnid: str) -> set[str]:
    return set(SynsetClosure.objects.filter(ancestor_id=wnid).values_list("descendant_id",
                                                                        flat=True))  # fmt: skip


def demo_images_prepare(*, source_dir: Path, wnids: list[str], seed: int = 0) -> Path:
    """Lay out ``<demo dir>/<synset wnid>/<original file>`` for each demo synset."""
    files = sorted(p for p in source_dir.iterdir() if _FILE_WNID.match(p.name))
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not security
    root = demo_dir()
    for wnid in wnids:
        subtree = _subtree(wnid)
        positives = [p for p in files if _FILE_WNID.match(p.name).group(1) in subtree]
        others = [p for p in files if p not in positives]
        negatives = rng.sample(others, min(len(others), NEGATIVES_PER_POSITIVE * len(positives)))
        folder = root / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for path in positives + negatives:
            _link(path, folder / path.name)
    return root


def demo_images_from_scikit_image() -> Path:
    """Fallback without DEMO_IMAGES: sample photographs shipped inside scikit-image."""
    import numpy as np
    from PIL import Image
    from skimage import data

    named = {"n02121808_chelsea": data.chelsea, "n03063073_coffee": data.coffee,
             "n04099429_rocket": data.rocket, "n09818022_astronaut": data.astronaut,
             "n03046257_clock": data.clock, "n13388245_coins": data.coins,
             "n09358358_moon": data.moon, "n06255613_page": data.page}  # fmt: skip
    folder = demo_dir() / FALLBACK_SYNSETS[0]
    folder.mkdir(parents=True, exist_ok=True)
    for name, loader in named.items():
        target = folder / f"{name}.png"
        if not target.exists():
            Image.fromarray(np.asarray(loader())).save(target)
    return demo_dir()


def candidate_truth(candidate: Candidate) -> bool | None:
    """True when the image's original ImageNet class (its file name) lies in the subtree of the
    candidate's synset; None when the name carries no class."""
    name = candidate.title or candidate.image_url.rsplit("/", 1)[-1]
    match = _FILE_WNID.match(name)
    if not match:
        return None
    return SynsetClosure.objects.filter(
        ancestor_id=candidate.synset_id, descendant_id=match.group(1)
    ).exists()


def demo_truth_write(project: Project, path: Path) -> int:
    """Write ``candidate_id,label`` (1/0) for the simulator; returns the number of rows."""
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["candidate_id", "label"])
        for candidate in Candidate.objects.filter(labeling_items__project=project).distinct():
            truth = candidate_truth(candidate)
            if truth is not None:
                writer.writerow([candidate.pk, int(truth)])
                rows += 1
    return rows


def demo_project_ensure(*, say: Say = lambda _: None) -> Project:
    """Create the demo project once (idempotent): images, collection, project, gold."""
    existing = Project.objects.filter(slug=DEMO_SLUG).first()
    if existing:
        say(f"Demo project already set up: /label/{DEMO_SLUG}/")
        return existing
    source = Path(settings.DEMO_IMAGES) if settings.DEMO_IMAGES else None
    if source and source.is_dir():
        wnids = [w for w in DEMO_SYNSETS if Synset.objects.filter(wnid=w).exists()]
        root = demo_images_prepare(source_dir=source, wnids=wnids)
        say(f"Demo images from {source}")
    else:
        wnids = FALLBACK_SYNSETS
        root = demo_images_from_scikit_image()
        say("DEMO_IMAGES not set: demo images from scikit-image's sample photographs")
    job = collection_job_create(wnids=wnids, source="folder", source_config={"root": str(root)})
    job = collection_job_run(job_id=job.pk)
    say(f"Collected candidates: stored {job.stored}, duplicates {job.duplicates}, "
        f"rejected {job.rejected}")  # fmt: skip
    admin = get_user_model().objects.filter(username="admin").first()
    with transaction.atomic():
        project = project_create(
            name="Demo: " + ", ".join(Synset.objects.get(wnid=wnid).name for wnid in wnids),
            slug=DEMO_SLUG,
            wnids=wnids,
            include_subtrees=False,
            add_candidates=False,  # added below with a fixed seed: a reproducible demo
            owners=[admin] if admin else [],
            images_per_hit=24,
            gold_per_hit=2,
            seed_size=20,
            seed_votes=10,
            min_votes=2,
            max_votes=10,
            reward_cents_per_hit=5,
            open_to_all_annotators=True,  # the demo's annotator account labels it
        )
        project_add_candidates(project=project, seed=0)
        for wnid in wnids:
            _gold_demo(project, wnid)
    say(f"Demo project ready: /label/{DEMO_SLUG}/")
    return project


def _gold_demo(project: Project, wnid: str) -> None:
    """Known answers mixed into HITs: a few true and false images per synset (from the truth)."""
    items = Item.objects.filter(project=project, synset_id=wnid, is_seed=False).select_related(
        "candidate"
    )
    wanted = {True: GOLD_PER_SYNSET // 2, False: GOLD_PER_SYNSET // 2}
    for item in items.order_by("pk"):
        truth = candidate_truth(item.candidate)
        if truth is not None and wanted[truth] > 0:
            gold_mark(item=item, label=truth)
            wanted[truth] -= 1
        if not any(wanted.values()):
            break
