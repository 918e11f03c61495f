"""Export from the database: accepted images only, the ImageNet layout loaded by torchvision's
ImageFolder as is, the lemma and IS-A files, metadata, the CLI, and the UI's background job with
live status and a streamed tar download."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from django.core.management import call_command
from django.urls import reverse

from exports.models import ExportJob
from exports.service import dataset_export, export_job_run
from labeling.models import Item
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import SynsetFactory, voted_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    """Two synsets under a common parent (outside the project), 3 accepted images each."""
    project, _ = voted_project(synsets=2, images=6, with_files=True)
    parent = SynsetFactory(lemmas=["parent_thing"])
    for wnid in project.project_synsets.values_list("synset_id", flat=True):
        SynsetEdge.objects.create(parent=parent, child_id=wnid, kind="hypernym")
        SynsetClosure.objects.create(ancestor=parent, descendant_id=wnid, distance=1)
    project.parent_wnid = parent.wnid
    return project


def _accepted(project) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for wnid, candidate_id in Item.objects.filter(
        project=project, state=Item.State.ACCEPTED
    ).values_list("synset_id", "candidate_id"):
        out.setdefault(wnid, set()).add(candidate_id)
    return out


def test_imagefolder_loads_the_export_from_the_database(project, tmp_path):
    from torchvision.datasets import ImageFolder

    summary = dataset_export(project=project, out_dir=tmp_path)

    accepted = _accepted(project)
    dataset = ImageFolder(tmp_path / "train")
    assert dataset.classes == sorted(accepted) == summary.classes
    assert len(dataset) == 6
    for path, class_index in dataset.samples:
        wnid = dataset.classes[class_index]
        name = path.rsplit("/", 1)[-1]
        assert name.startswith(f"{wnid}_") and name.endswith(".JPEG")
        assert int(name[len(wnid) + 1 : -5]) in accepted[wnid]  # only accepted candidates
    image, label = dataset[0]
    assert image.size == (96, 72) and label == 0


def test_lemma_hierarchy_and_metadata_files(project, tmp_path):
    dataset_export(project=project, out_dir=tmp_path)
    classes = sorted(_accepted(project))

    mapping = (tmp_path / "synset_mapping.txt").read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in mapping] == classes
    words = dict(line.split("\t") for line in (tmp_path / "words.txt").read_text().splitlines())
    assert words[project.parent_wnid] == "parent thing"
    assert set(classes) <= set(words)
    is_a = (tmp_path / "wordnet.is_a.txt").read_text().splitlines()
    assert is_a == [f"{project.parent_wnid} {wnid}" for wnid in classes]
    rows = [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert {r["decision"] for r in rows} == {"accepted"}
    assert all(r["votes"] == {"yes": 3, "no": 0} and r["posterior"] == 0.99 for r in rows)
    assert all(r["url"].startswith("https://") and r["source"] == "test" for r in rows)
    assert len((tmp_path / "urls.txt").read_text().splitlines()) == 6


def test_cli_exports_with_a_val_split_and_reruns_safely(project, tmp_path, capsys):
    from torchvision.datasets import ImageFolder

    call_command("export_dataset", project.slug, "--out", str(tmp_path), "--val-fraction", "0.3")
    call_command("export_dataset", project.slug, "--out", str(tmp_path), "--val-fraction", "0.3")
    out = capsys.readouterr().out
    assert "0 written, 6 unchanged" in out
    train, val = ImageFolder(tmp_path / "train"), ImageFolder(tmp_path / "val")
    assert train.classes == val.classes
    assert len(train) + len(val) == 6 and len(val) == 2


def test_cli_writes_webdataset_shards(project, tmp_path):
    call_command("export_dataset", project.slug, "--out", str(tmp_path), "--format", "webdataset")
    with tarfile.open(tmp_path / "train" / "shard-000000.tar") as shard:
        names = shard.getnames()
    assert len([n for n in names if n.endswith(".jpg")]) == 6


def test_cli_refuses_an_unknown_project(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no project"):
        call_command("export_dataset", "nope", "--out", str(tmp_path))


def test_ui_export_job_reports_progress_and_streams_a_tar(
    project, client, admin_user, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    project.owners.add(admin_user)  # starting an export is the project owners' call
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("dashboards:exports", args=[project.slug]),
            {"format": "imagenet", "val_fraction": "0", "seed": "1"},
        )
    assert response.status_code == 302 and len(callbacks) == 1  # enqueued after commit
    job = ExportJob.objects.get(project=project)
    status_url = reverse("api-export-status", args=[job.pk])
    assert client.get(status_url).json()["status"] == "pending"

    export_job_run(job_id=job.pk)  # what the Celery task runs

    status = client.get(status_url).json()
    assert status["status"] == "done" and status["progress"] == 1.0
    assert (status["classes_done"], status["images_done"]) == (2, 6)
    download = client.get(status["download_url"])
    assert download["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(b"".join(download.streaming_content))) as archive:
        names = archive.getnames()
    prefix = f"{project.slug}-export-{job.pk}/"
    assert all(n.startswith(prefix) for n in names)
    assert len([n for n in names if n.endswith(".JPEG")]) == 6
    assert prefix + "metadata.jsonl" in names and not any(".export.lock" in n for n in names)
    page = client.get(reverse("dashboards:exports", args=[project.slug])).content.decode()
    assert status["download_url"] in page and "export.js" in page


def test_ui_export_rejects_a_bad_val_fraction(project, client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("dashboards:exports", args=[project.slug]), {"val_fraction": "1.5"})
    assert not ExportJob.objects.exists()


def test_negative_gold_and_undecided_images_never_leave(project, tmp_path):
    wnid = sorted(_accepted(project))[0]
    negative = Item.objects.filter(project=project, synset_id=wnid, state=Item.State.REJECTED)[0]
    # Even a negative gold image whose state says "accepted" (hand-edited, or an old row) stays.
    Item.objects.filter(pk=negative.pk).update(
        is_gold=True, gold_label=False, state=Item.State.ACCEPTED
    )
    positive = Item.objects.filter(project=project, synset_id=wnid, state=Item.State.ACCEPTED)[0]
    Item.objects.filter(pk=positive.pk).update(is_gold=True, gold_label=True)

    summary = dataset_export(project=project, out_dir=tmp_path)

    exported = {p.name for p in tmp_path.rglob("*.JPEG")}
    assert f"{wnid}_{negative.candidate_id}.JPEG" not in exported
    assert f"{wnid}_{positive.candidate_id}.JPEG" in exported
    assert summary.train_images == 6


def test_seed_snippet_loads_the_export_with_imagenet_and_a_dataloader(project, tmp_path):
    """The seed's own code, unchanged: datasets.ImageNet(root=EXPORT, split=…) + DataLoader."""
    import torch
    from torchvision import datasets, transforms

    call_command("export_dataset", project.slug, "--out", str(tmp_path), "--val-per-class", "1")

    transform = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(56),
                                    transforms.ToTensor()])  # fmt: skip
    train = datasets.ImageNet(root=tmp_path, split="train", transform=transform)
    val = datasets.ImageNet(root=tmp_path, split="val", transform=transform)
    assert (len(train), len(val)) == (4, 2)
    assert train.wnids == val.wnids == sorted(_accepted(project))
    images, labels = next(iter(torch.utils.data.DataLoader(train, batch_size=4)))
    assert images.shape == (4, 3, 56, 56) and sorted(labels.tolist()) == [0, 0, 1, 1]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_cli_refuses_both_val_rules(project, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command(
            "export_dataset", project.slug, "--out", str(tmp_path),
            "--val-fraction", "0.2", "--val-per-class", "5",
        )  # fmt: skip
    assert not any(tmp_path.iterdir())


def test_ui_export_with_images_per_class_and_both_rules_refused(project, client, admin_user):
    project.owners.add(admin_user)
    client.force_login(admin_user)
    url = reverse("dashboards:exports", args=[project.slug])

    response = client.post(url, {"val_fraction": "0.2", "val_per_class": "5"}, follow=True)
    assert not ExportJob.objects.exists()
    assert "not both" in response.content.decode()

    client.post(url, {"format": "imagenet", "val_per_class": "50"})
    job = ExportJob.objects.get()
    assert (job.val_per_class, job.val_fraction) == (50, 0.0)
    assert "val 50 per class" in client.get(url).content.decode()
