"""Detection export beside an ImageNet-layout export (ILSVRC's localisation format): per image a
PASCAL VOC XML file, and one COCO JSON file per split.

Layout, next to ``train/<wnid>/<wnid>_<key>.JPEG`` (and ``val/…``) written by the dataset export:

    Annotations/<split>/<wnid>/<wnid>_<key>.xml   one <annotation> per boxed image (ILSVRC CLS-LOC)
    coco/instances_<split>.json                    images, annotations, categories (one per wnid)

VOC coordinates are 1-based and inclusive as in PASCAL VOC (``xmin = x + 1``, ``xmax = x + w``);
COCO's ``bbox`` is ``[x, y, w, h]`` from the top-left corner, 0-based. Only images whose
coverage was verified are exported unless asked otherwise: an image with a missing box would
teach a detector that the unboxed instance is background.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from PIL import Image

from labeling.models import Project

from .selectors import image_boxes

METADATA = "metadata.jsonl"
SPLITS = ("train", "val")
DATABASE_NAME = "SynsetLab"


@dataclass
class BoxExportSummary:
    out_dir: Path
    images: dict[str, int] = field(default_factory=dict)  # per split
    boxes: dict[str, int] = field(default_factory=dict)
    not_boxed: int = 0  # exported images without verified boxes
    size_mismatch: int = 0  # stored size differs from the exported file: skipped
    removed_stale: int = 0


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        return
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def voc_xml(
    *, folder: str, filename: str, width: int, height: int, wnid: str,
    boxes: Iterable[tuple[int, int, int, int]],
) -> bytes:  # fmt: skip
    """One ILSVRC-style ``<annotation>``: ``<size>`` and one ``<object>`` per box."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = filename
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = DATABASE_NAME
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(width)
    ET.SubElement(size, "height").text = str(height)
    ET.SubElement(size, "depth").text = "3"
    ET.SubElement(root, "segmented").text = "0"
    for x, y, w, h in boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = wnid
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        ET.SubElement(box, "xmin").text = str(x + 1)
        ET.SubElement(box, "ymin").text = str(y + 1)
        ET.SubElement(box, "xmax").text = str(x + w)
        ET.SubElement(box, "ymax").text = str(y + h)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _read_metadata(out_dir: Path) -> list[dict]:
    path = out_dir / METADATA
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: export the images in the ImageNet layout first "
            "(manage.py export_dataset PROJECT --out DIR)"
        )
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _classes(out_dir: Path, entries: list[dict]) -> list[str]:
    mapping = out_dir / "synset_mapping.txt"
    if mapping.is_file():
        return [line.split(" ", 1)[0] for line in mapping.read_text().splitlines() if line]
    return sorted({entry["wnid"] for entry in entries})


def write_detection_files(
    out_dir: Path, entries: list[dict], boxed: Mapping[int, dict]
) -> BoxExportSummary:
    """Write the VOC and COCO files for the exported ``entries`` (metadata.jsonl rows) that have
    boxes in ``boxed`` (keyed by image key). Safe to rerun: unchanged files are left alone and
    annotation files of images no longer boxed are removed."""
    summary = BoxExportSummary(out_dir=out_dir)
    classes = _classes(out_dir, entries)
    category = {wnid: index + 1 for index, wnid in enumerate(classes)}
    coco = {
        split: {
            "info": {"description": f"{DATABASE_NAME} detection export ({split})"},
            "images": [],
            "annotations": [],
            "categories": [
                {"id": category[w], "name": w, "supercategory": "synset"} for w in classes
            ],
        }  # fmt: skip
        for split in SPLITS
    }
    written: set[Path] = set()
    annotation_id = 0
    for entry in entries:
        key = int(entry["key"]) if str(entry["key"]).isdigit() else entry["key"]
        record = boxed.get(key)
        if record is None or not record["boxes"] or record["wnid"] != entry["wnid"]:
            summary.not_boxed += 1
            continue
        image_path = out_dir / entry["path"]
        with Image.open(image_path) as image:
            width, height = image.size
        if (width, height) != (record["width"], record["height"]):
            summary.size_mismatch += 1
            continue
        split, wnid = entry["split"], entry["wnid"]
        stem = Path(entry["path"]).stem
        xml_path = out_dir / "Annotations" / split / wnid / f"{stem}.xml"
        _atomic_write(
            xml_path,
            voc_xml(folder=wnid, filename=stem, width=width, height=height, wnid=wnid,
                    boxes=record["boxes"]),
        )  # fmt: skip
        written.add(xml_path)
        document = coco[split]
        image_id = len(document["images"]) + 1
        document["images"].append(
            {"id": image_id, "file_name": f"{wnid}/{Path(entry['path']).name}",
             "width": width, "height": height}
        )  # fmt: skip
        for x, y, w, h in record["boxes"]:
            annotation_id += 1
            document["annotations"].append(
                {"id": annotation_id, "image_id": image_id, "category_id": category[wnid],
                 "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        summary.images[split] = summary.images.get(split, 0) + 1
        summary.boxes[split] = summary.boxes.get(split, 0) + len(record["boxes"])
    for split in SPLITS:
        path = out_dir / "coco" / f"instances_{split}.json"
        if coco[split]["images"]:
            _atomic_write(path, json.dumps(coco[split], indent=1).encode() + b"\n")
        elif path.exists():
            path.unlink()
    annotations = out_dir / "Annotations"
    if annotations.is_dir():
        for stale in annotations.rglob("*.xml"):
            if stale not in written:
                stale.unlink()
                summary.removed_stale += 1
    return summary


def boxes_export(*, project: Project, out_dir: Path, covered_only: bool = True) -> BoxExportSummary:
    """Write the detection files of ``project`` beside its ImageNet export in ``out_dir``."""
    out_dir = Path(out_dir)
    entries = _read_metadata(out_dir)
    return write_detection_files(
        out_dir, entries, image_boxes(project=project, covered_only=covered_only)
    )


def boxes_export_if_any(*, project: Project, out_dir: Path) -> BoxExportSummary | None:
    """The dataset export's hook: write the detection files when the project has covered
    images, else touch nothing."""
    from .models import BoxImage

    if not BoxImage.objects.filter(project=project, state=BoxImage.State.COVERED).exists():
        return None
    return boxes_export(project=project, out_dir=out_dir)
