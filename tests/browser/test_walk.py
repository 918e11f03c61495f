"""Issue 12's walk, in Chromium on PostgreSQL with a real Celery worker: from a WordNet subtree to
a torchvision dataset without a Python shell.

A staff user creates a project over a small subtree (dog above working dog and hunting dog),
uploads a URL list served by a local HTTP server on 127.0.0.1, watches the collection job
finish, reviews gold of each synset on the keyboard grid and creates an invite; an annotator
signs up through it, finds the project at /label/ and labels a HIT; a simulated crowd does the
bulk through the same HTTP API until every image is decided; the staff user starts the export
from the dashboard, downloads it, and ``torchvision.datasets.ImageNet(..., split='train')``
with a DataLoader reads it.

Screenshots of every page of the walk are kept in test-artifacts/walk-*.png.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import random
import tarfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model

from candidates.models import Candidate
from exports.models import ExportJob
from labeling.models import Item, Project
from synsets.models import Synset, SynsetClosure, SynsetEdge, SynsetLemma

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
SAMPLES = Path(django_settings.BASE_DIR).parent / "shared" / "data" / "imagenet-samples"

# A small piece of WordNet 3.0 (lemmas as the import stores them): dog and two of its direct
# hyponyms. Within the project, dog is internal and only groups the two labelled synsets.
DOG = ("n02084071", ["dog", "domestic dog", "Canis familiaris"], 8)
WORKING_DOG = ("n02103406", ["working dog"], 9)
HUNTING_DOG = ("n02087122", ["hunting dog"], 9)
LABELLED = {WORKING_DOG[0]: WORKING_DOG[1], HUNTING_DOG[0]: HUNTING_DOG[1]}
# Each synset is a small pilot: 30 candidates, 12 of them good, all in the seed set (10 votes
# each), plus one gold answer of each kind. Smaller ones (20 candidates, 5-6 good, no gold)
# leave a clear positive (10 yes of 10) undecided in one draw of the crowd in four: a
# calibration resting on five good reference images cannot certify τ = .95 (docs/consensus.md).
IMAGES_PER_SYNSET = 30
POSITIVES_PER_SYNSET = 12
STAFF_PASSWORD = "walk-staff-pass-1"  # noqa: S105 - a throwaway test account


def _synset(wnid: str, lemmas: list[str], depth: int, gloss: str) -> Synset:
    synset, created = Synset.objects.get_or_create(
        wnid=wnid,
        defaults={"lemmas": lemmas, "gloss": gloss, "lexname": "noun.animal", "depth": depth,
                  "max_depth": depth},
    )  # fmt: skip
    if created:
        SynsetLemma.objects.bulk_create(
            SynsetLemma(synset=synset, language="eng", lemma=lemma,
                        lemma_folded=lemma.casefold(), position=i)
            for i, lemma in enumerate(lemmas)
        )  # fmt: skip
        SynsetClosure.objects.create(ancestor=synset, descendant=synset, distance=0)
    return synset


def _dog_synsets() -> None:
    """The three synsets and the two IS-A edges between them (WordNet's full import takes minutes
    and this test is about the pages; an import made earlier in the session is used as is)."""
    dog = _synset(*DOG, "a member of the genus Canis")
    for wnid, lemmas, depth in (WORKING_DOG, HUNTING_DOG):
        child = _synset(wnid, lemmas, depth, f"a kind of dog ({lemmas[0]})")
        SynsetEdge.objects.get_or_create(parent=dog, child=child, defaults={"kind": "hypernym"})
        SynsetClosure.objects.get_or_create(
            ancestor=dog, descendant=child, defaults={"distance": 1}
        )


def _photos() -> dict[str, list[str]]:
    """Sample photos (ImageNet names) per labelled synset: its own breeds first, then other
    animals, as a search engine's results would mix them."""
    names = sorted(p.name for p in SAMPLES.glob("*.JPEG"))
    working = [n for n in names if _is_positive(WORKING_DOG[0], n)][:POSITIVES_PER_SYNSET]
    hunting = [n for n in names if _is_positive(HUNTING_DOG[0], n)][:POSITIVES_PER_SYNSET]
    others = [n for n in names if n[:9] < "n02000000"]  # fish, birds, reptiles
    n_others = IMAGES_PER_SYNSET - POSITIVES_PER_SYNSET
    assert len(working) == len(hunting) == POSITIVES_PER_SYNSET and len(others) >= 2 * n_others
    return {WORKING_DOG[0]: working + others[:n_others],
            HUNTING_DOG[0]: hunting + others[n_others : 2 * n_others]}  # fmt: skip


def _is_positive(wnid: str, photo: str) -> bool:
    if wnid == WORKING_DOG[0]:
        return "n02104029" <= photo[:9] <= "n02108551"  # shepherds, watchdogs, mastiffs
    return "n02087394" <= photo[:9] < "n02100000"  # hounds, terriers, sporting dogs


def _url_list(base_url: str) -> bytes:
    rows = ["url,wnid"]
    for wnid, photos in _photos().items():
        rows += [f"{base_url}/{photo},{wnid}" for photo in photos]
    return ("\n".join(rows) + "\n").encode()


def _truth_file(path: Path, project: Project) -> Path:
    """candidate_id,label for the simulated crowd (the truth the photos' names carry)."""
    rows = ["candidate_id,label"]
    for candidate_id, wnid, url in Item.objects.filter(project=project).values_list(
        "candidate_id", "synset_id", "candidate__image_url"
    ):
        label = "yes" if _is_positive(wnid, url.rsplit("/", 1)[-1]) else "no"
        rows.append(f"{candidate_id},{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def photo_server():
    """The sample photos over HTTP on 127.0.0.1 (a real server, as a web source would be)."""
    handler = functools.partial(_QuietHandler, directory=str(SAMPLES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shared_folders(tmp_path, monkeypatch, settings):
    """Media and exports in folders the Celery worker and the live server share. Set before the
    worker starts (it copies this process's environment)."""
    media, exports = tmp_path / "media", tmp_path / "exports"
    monkeypatch.setenv("EXPORT_ROOT", str(exports))
    settings.EXPORT_ROOT = exports
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"].get("OPTIONS", {}), "location": str(media)},
        },
    }
    return media, exports


def _wait(predicate, *, timeout: float, what: str, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


class _Shots:
    def __init__(self):
        ARTIFACTS.mkdir(exist_ok=True)
        self.n = 0

    def __call__(self, page, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(ARTIFACTS / f"walk-{self.n:02d}-{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_walk_from_a_subtree_to_a_torchvision_dataset(
    shared_folders, celery_worker_process, live_server, photo_server, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    celery_worker_process()
    _dog_synsets()
    get_user_model().objects.create_user(
        "curator", password=STAFF_PASSWORD, is_staff=True, email="curator@example.org"
    )
    url_list = tmp_path / "dogs.csv"
    url_list.write_bytes(_url_list(photo_server))
    shot = _Shots()
    base = live_server.url
    n_images = IMAGES_PER_SYNSET * len(LABELLED)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        staff = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = staff.new_page()

        # -- the staff user logs in and lands on the projects overview ----------------------
        page.goto(f"{base}/accounts/login/")
        expect(page.locator("#id_username")).to_be_focused()
        shot(page, "login")
        page.keyboard.type("curator")
        page.fill("#id_password", STAFF_PASSWORD)
        page.press("#id_password", "Enter")
        page.wait_for_url(f"{base}/dashboard/")
        expect(page.locator("#projects-empty")).to_be_visible()
        shot(page, "projects-empty")

        # -- creates a project over a small subtree, previewed first ------------------------
        page.get_by_role("link", name="Create the first project").click()
        page.fill("textarea[name=synsets]", "\n".join([DOG[0], WORKING_DOG[0], HUNTING_DOG[0]]))
        page.select_option("select[name=subtrees]", "no")
        page.click("#preview-button")
        expect(page.locator("#preview-synsets")).to_have_text("3")
        expect(page.locator("#preview-leaves")).to_have_text("2")
        page.fill("input[name=name]", "Dogs")
        page.uncheck("input[name=label_internal]")
        # A target above what a synset can reach: the crowd labels every candidate (once a
        # synset has its target, the scheduler stops serving it and its other images wait).
        page.fill("input[name=target_per_synset]", str(IMAGES_PER_SYNSET))
        shot(page, "project-create-preview")
        page.click("#create-button")
        page.wait_for_url(f"{base}/projects/dogs/collect/")
        project = Project.objects.get(slug="dogs")
        assert set(project.project_synsets.values_list("synset_id", flat=True)) == {
            DOG[0],
            *LABELLED,
        }
        shot(page, "collect-form")

        # -- uploads the URL list and watches the job finish --------------------------------
        page.check("input[name=source][value=urls]")
        page.set_input_files("input[name=url_list]", str(url_list))
        page.click("#collect-button")
        page.wait_for_url(f"{base}/candidates/jobs/*/")
        shot(page, "collection-job-running")
        expect(page.locator("#job-status")).to_have_text("done", timeout=120_000)
        expect(page.locator("#job-stored")).to_have_text(str(n_images))
        shot(page, "collection-job-done")
        _wait(lambda: Item.objects.filter(project=project).count() == n_images,
              timeout=60, what="candidates to become items")  # fmt: skip

        # -- reviews gold on the keyboard grid, per synset: a dog photo yes, a non-dog no -----
        gold_no = []
        gold = Item.objects.filter(project=project, is_gold=True)
        for done, wnid in enumerate(LABELLED, start=1):
            items = Item.objects.filter(project=project, synset_id=wnid).order_by("pk")
            gold_yes = next(i for i in items if _is_positive(wnid, _photo(i)))
            gold_no.append(next(i for i in items if not _is_positive(wnid, _photo(i))))
            page.goto(f"{base}/projects/dogs/gold/?mode=items&synset={wnid}")
            expect(page.locator("#gold-review button.tile").first).to_be_visible()
            page.locator(f"#gold-review button.tile[data-item='{gold_yes.pk}']").focus()
            page.keyboard.press("y")
            page.locator(f"#gold-review button.tile[data-item='{gold_no[-1].pk}']").focus()
            page.keyboard.press("x")
            shot(page, f"gold-review-{wnid}")
            page.keyboard.press("Enter")
            _wait(lambda n=2 * done: gold.count() == n, timeout=30, what="gold to be saved")
        page.goto(f"{base}/projects/dogs/gold/")
        expect(page.locator("#gold-summary")).to_contain_text("4")
        shot(page, "gold-summary")

        # -- creates an invite ---------------------------------------------------------------
        page.goto(f"{base}/dashboard/dogs/")
        shot(page, "dashboard-before-labelling")
        page.locator(".dash-nav").get_by_role("link", name="Invites").click()
        page.click("button[type=submit]:has-text('Create link')")
        link = page.locator("#invite-link").input_value()
        assert link.startswith(f"{base}/invite/")
        shot(page, "invite")

        # -- an annotator signs up through it, finds the project at /label/, labels a HIT ---
        annotator = browser.new_context(viewport={"width": 1100, "height": 900})
        apage = annotator.new_page()
        apage.goto(link)
        shot(apage, "invite-signup")
        apage.fill("input[name=username]", "ada")
        apage.fill("input[name=password1]", "a-long-walk-pass-1")
        apage.fill("input[name=password2]", "a-long-walk-pass-1")
        apage.locator("form button[type=submit]").click()
        apage.wait_for_load_state()
        apage.get_by_role("navigation", name="Main").get_by_role("link", name="Label").click()
        apage.wait_for_url(f"{base}/label/")
        row = apage.locator("tr[data-project='dogs']")
        expect(row).to_be_visible()
        shot(apage, "label-list")
        row.get_by_role("link", name="Label").click()
        apage.wait_for_url(f"{base}/label/dogs/")
        tiles = apage.locator("#grid button.tile")
        expect(tiles.first).to_be_visible()
        truth_names = apage.evaluate(
            "JSON.parse(document.getElementById('first-hit').textContent).items.map(i => i.id)"
        )
        positives = {
            item.pk
            for item in Item.objects.filter(pk__in=truth_names).select_related("candidate")
            if _is_positive(item.synset_id, _photo(item))
        }
        for index in range(tiles.count()):
            tile = tiles.nth(index)
            if int(tile.get_attribute("data-item")) in positives:
                tile.focus()
                apage.keyboard.press(" ")
        shot(apage, "annotator-grid")
        apage.keyboard.press("Enter")
        expect(apage.locator("#status")).to_contain_text("Saved")
        shot(apage, "annotator-after-submit")
        # She goes on until her grid has nothing left (the page holds a lease on the HIT it
        # shows, as it should, so she finishes rather than walking away from one).
        for _ in range(len(LABELLED) * 2):
            if apage.locator("#empty").is_visible():
                break
            _label_shown_hit(apage)
        expect(apage.locator("#empty")).to_be_visible()
        shot(apage, "annotator-nothing-left")

        # -- a simulated crowd does the bulk through the same HTTP API ------------------------
        _crowd_until_decided(
            project=project, base_url=base, truth_file=_truth_file(tmp_path / "truth.csv", project)
        )
        apage.goto(f"{base}/label/me/")
        shot(apage, "annotator-my-work")
        apage.goto(f"{base}/label/")
        shot(apage, "label-list-done")

        # -- the staff user checks the dashboard and starts the export from it ---------------
        page.goto(f"{base}/dashboard/")
        shot(page, "projects-overview")
        page.get_by_role("link", name="Dogs").first.click()
        shot(page, "dashboard-decided")
        page.locator(".dash-nav").get_by_role("link", name="Workers").click()
        shot(page, "workers")
        page.locator(".dash-nav").get_by_role("link", name="Crowds and costs").click()
        page.get_by_role("link", name="Costs in detail").click()
        shot(page, "costs")
        page.goto(f"{base}/dashboard/dogs/synsets/{WORKING_DOG[0]}/")
        shot(page, "synset-working-dog")
        page.goto(f"{base}/dashboard/dogs/")
        page.locator(".dash-nav").get_by_role("link", name="Export").click()
        page.select_option("select[name=format]", "imagenet")
        page.click("button:has-text('Start export')")
        download_link = page.get_by_role("link", name="Download .tar")
        expect(download_link).to_be_visible(timeout=120_000)
        shot(page, "export-done")
        with page.expect_download() as info:
            download_link.click()
        archive = tmp_path / "download.tar"
        info.value.save_as(archive)
        browser.close()

    # -- the downloaded export loads with the seed's own torchvision code ----------------------
    job = ExportJob.objects.get(project=project)
    out = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    root = out / f"dogs-export-{job.pk}"
    _check_dataset(root=root, project=project, gold_no=gold_no)


def _label_shown_hit(page) -> None:
    """Select the shown HIT's positive images (by the photos' true names) and submit it."""
    from playwright.sync_api import expect

    tiles = page.locator("#grid button.tile")
    expect(tiles.first).to_be_visible()
    ids = [int(tiles.nth(i).get_attribute("data-item")) for i in range(tiles.count())]
    items = Item.objects.filter(pk__in=ids).select_related("candidate")
    for item in items:
        if _is_positive(item.synset_id, _photo(item)):
            page.locator(f"#grid button.tile[data-item='{item.pk}']").focus()
            page.keyboard.press(" ")
    before = page.locator("#stat-hits").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("#stat-hits")).not_to_have_text(before)


def _photo(item: Item) -> str:
    return item.candidate.image_url.rsplit("/", 1)[-1]


def _crowd_until_decided(*, project: Project, base_url: str, truth_file: Path) -> None:
    """Honest simulated workers label through the HTTP API until no image waits for votes;
    the real Celery worker recomputes consensus after their submissions. They come in small
    groups: every login hashes a password, and a dozen at once on a two-core test machine made
    the live server miss the client's timeout."""
    from labeling.simulation import (
        ApiClient,
        crowd_accounts_create,
        crowd_make,
        crowd_run,
        report_format,
        truth_load,
    )

    groups = []
    for group in range(3):
        crowd = crowd_make(workers=6, rng=random.Random(group))  # noqa: S311 - simulation only
        prefix = f"sim{group}"
        groups.append((crowd, prefix, crowd_accounts_create(crowd=crowd, prefix=prefix,
                                                            projects=[project])))  # fmt: skip
    pending = Item.objects.filter(project=project, is_gold=False, state=Item.State.PENDING)
    for round_ in range(3):
        for crowd, prefix, credentials in groups:
            report = crowd_run(
                project=project, crowd=crowd, credentials=credentials,
                truth=truth_load(project=project, truth_file=truth_file), base_url=base_url,
                hits_per_worker=len(LABELLED), seed=round_, prefix=prefix,
                client_factory=lambda url: ApiClient(url, timeout=120),
            )  # fmt: skip
            print(f"crowd {prefix}, round {round_}:\n{report_format(report)}")
        if _wait_quietly(lambda: not pending.exists(), timeout=30):
            return
    _wait(lambda: not pending.exists(), timeout=60, what="consensus to decide every image")


def _wait_quietly(predicate, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def _check_dataset(*, root: Path, project: Project, gold_no: list[Item]) -> None:
    import torch
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.Resize(64), transforms.CenterCrop(56), transforms.ToTensor()]
    )
    train = datasets.ImageNet(root=root, split="train", transform=transform)
    accepted = Item.objects.filter(project=project, state=Item.State.ACCEPTED).exclude(
        is_gold=True, gold_label=False
    )
    assert len(train) == accepted.count() > 0
    assert train.wnids == sorted(LABELLED)
    assert train.classes == [tuple(LABELLED[wnid]) for wnid in train.wnids]
    loader = torch.utils.data.DataLoader(train, batch_size=4, shuffle=True)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 56, 56) and labels.shape == (4,)
    # Only positive decisions leave: the candidates behind the exported files were accepted,
    # and the negative gold image is not among them.
    exported = {int(Path(path).stem.split("_", 1)[1]) for path, _ in train.samples}
    assert exported == set(accepted.values_list("candidate_id", flat=True))
    assert not {item.candidate_id for item in gold_no} & exported
    leftovers = [p for p in root.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []
    wnid_to_classes, val_wnids = torch.load(io.BytesIO((root / "meta.bin").read_bytes()),
                                            weights_only=True)  # fmt: skip
    assert set(wnid_to_classes) == set(train.wnids) and val_wnids == []
    assert Candidate.objects.filter(status=Candidate.Status.STORED).count() == (
        IMAGES_PER_SYNSET * len(LABELLED)
    )
