"""The detection export loaded by the real libraries: torchvision's CocoDetection (with
pycocotools) reads the COCO JSON with the ImageNet export's images, and torchvision's VOC parser
reads the ILSVRC-style XML files."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from boxes.export import boxes_export
from boxes.models import Box, BoxImage
from exports.service import dataset_export
from tests.boxes.factories import boxed_project

pytestmark = pytest.mark.django_db

BOXES = [
    [(3, 4, 30, 20)],
    [(0, 0, 40, 40), (50, 10, 46, 62)],
    [(10, 10, 20, 20)],
]


@pytest.fixture
def exported(tmp_path):
    """Four accepted 96×72 images: three covered with boxes, one still waiting for a box."""
    project = boxed_project(images=4, with_files=True)
    images = list(BoxImage.objects.filter(project=project).order_by("pk"))
    for image, boxes in zip(images, BOXES, strict=False):
        image.state = BoxImage.State.COVERED
        image.save()
        for x, y, w, h in boxes:
            Box.objects.create(image=image, x=x, y=y, w=w, h=h, state=Box.State.ACCEPTED)
    Box.objects.create(image=images[0], x=1, y=1, w=9, h=9, state=Box.State.REJECTED)
    out = tmp_path / "imagenet"
    dataset_export(project=project, out_dir=out, val_fraction=0.25, seed=1)
    # The dataset export writes the detection files itself; the command's rerun changes nothing.
    assert (out / "coco" / "instances_train.json").is_file()
    summary = boxes_export(project=project, out_dir=out)
    expected = {image.item.candidate_id: boxes for image, boxes in zip(images, BOXES, strict=False)}
    return project, out, summary, expected


def test_coco_json_loads_with_torchvision_cocodetection(exported):
    from torchvision.datasets import CocoDetection

    _, out, summary, expected = exported
    seen = {}
    for split in ("train", "val"):
        path = out / "coco" / f"instances_{split}.json"
        if not path.exists():
            continue
        dataset = CocoDetection(root=str(out / split), annFile=str(path))
        document = json.loads(path.read_text())
        for index in range(len(dataset)):
            image, targets = dataset[index]
            file_name = document["images"][index]["file_name"]
            key = int(file_name.rsplit("_", 1)[1].split(".")[0])
            assert image.size == (96, 72)
            seen[key] = sorted(tuple(t["bbox"]) for t in targets)
            assert {t["category_id"] for t in targets} == {1}
    assert seen == {key: sorted(boxes) for key, boxes in expected.items()}
    assert sum(summary.images.values()) == 3
    assert summary.not_boxed == 1


def test_voc_xml_parses_with_torchvision_and_uses_ilsvrc_layout(exported):
    from torchvision.datasets import VOCDetection

    project, out, _, expected = exported
    wnid = project.project_synsets.get().synset_id
    files = sorted((out / "Annotations").rglob("*.xml"))
    assert len(files) == 3
    for path in files:
        split = path.parent.parent.name
        assert path.parent.name == wnid and split in ("train", "val")
        assert (out / split / wnid / f"{path.stem}.JPEG").is_file()
        parsed = VOCDetection.parse_voc_xml(ET.parse(path).getroot())["annotation"]
        assert parsed["size"] == {"width": "96", "height": "72", "depth": "3"}
        assert parsed["filename"] == path.stem
        boxes = sorted(
            (int(b["xmin"]) - 1, int(b["ymin"]) - 1,
             int(b["xmax"]) - int(b["xmin"]) + 1, int(b["ymax"]) - int(b["ymin"]) + 1)
            for b in (o["bndbox"] for o in parsed["object"])
        )  # fmt: skip
        assert {o["name"] for o in parsed["object"]} == {wnid}
        assert boxes == sorted(expected[int(path.stem.rsplit("_", 1)[1])])


def test_rerun_removes_annotations_of_images_no_longer_covered(exported):
    project, out, _, expected = exported
    image = BoxImage.objects.filter(project=project, state="covered").first()
    image.state = BoxImage.State.DRAWING
    image.save()
    summary = boxes_export(project=project, out_dir=out)
    assert summary.removed_stale == 1
    assert len(list((out / "Annotations").rglob("*.xml"))) == 2


def test_command_refuses_a_folder_without_an_imagenet_export(tmp_path):
    project = boxed_project(images=1)
    with pytest.raises(CommandError, match="export_dataset"):
        call_command("export_boxes", project.slug, "--out", str(tmp_path))
