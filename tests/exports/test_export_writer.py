"""Tests of exports/writer.py: the ImageNet layout that ImageFolder loads as is, reruns,
the val split, conversions, refusals, and WebDataset shards."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exports.writer import ExportRecord, SynsetInfo, export_imagenet, export_webdataset, val_count

DOG, CAT, FOX, CARNIVORE, ANIMAL = "n02084071", "n02121808", "n02118333", "n02075296", "n00015388"
SYNSETS = [
    SynsetInfo(DOG, ["dog", "domestic_dog", "Canis familiaris"]),
    SynsetInfo(CAT, ["domestic cat", "house cat"]),
    SynsetInfo(FOX, ["fox"]),
    SynsetInfo(CARNIVORE, ["carnivore"]),
    SynsetInfo(ANIMAL, ["animal", "animate being"]),
]
EDGES = [
    (CARNIVORE, DOG),
    (CARNIVORE, CAT),
    (CARNIVORE, FOX),
    (ANIMAL, CARNIVORE),
    ("n00001740", ANIMAL),  # entity is above animal but absent from SYNSETS: still an ancestor
    ("n09999999", "n08888888"),  # unrelated to the export: left out
]


def _image(seed: int, fmt: str = "JPEG", mode: str = "RGB", size=(40, 30)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _record(wnid: str, key, data: bytes | None = None, **overrides) -> ExportRecord:
    data = _image(zlib.crc32(f"{wnid}_{key}".encode()) % 10_000) if data is None else data
    fields = {
        "source": "flickr",
        "url": f"https://example.org/{wnid}/{key}.jpg",
        "license": "CC BY 2.0",
        "attribution": f"photographer {key}",
        "votes": {"yes": 4, "no": 1},
        "posterior": 0.995,
    }
    return ExportRecord(wnid=wnid, key=key, image=lambda: data, **(fields | overrides))


def _records(per_class: dict[str, int]) -> list[ExportRecord]:
    return [
        _record(wnid, 1000 * i + k)
        for i, (wnid, n) in enumerate(sorted(per_class.items()))
        for k in range(n)
    ]


def _export(out: Path, records, **kwargs):
    return export_imagenet(records, out_dir=out, synsets=SYNSETS, edges=EDGES, **kwargs)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".export.lock"
    }


def test_imagefolder_loads_the_export_as_is(tmp_path):
    from torchvision.datasets import ImageFolder

    _export(tmp_path, _records({DOG: 4, CAT: 3, FOX: 2}), val_fraction=0.3, seed=1)

    train = ImageFolder(tmp_path / "train")
    val = ImageFolder(tmp_path / "val")

    assert train.classes == sorted([DOG, CAT, FOX])
    mapping = [
        line.split(" ", 1)[0] for line in (tmp_path / "synset_mapping.txt").read_text().splitlines()
    ]
    assert train.class_to_idx == {wnid: i for i, wnid in enumerate(mapping)}
    assert val.class_to_idx == train.class_to_idx
    assert len(train) + len(val) == 9
    for path, target in train.samples + val.samples:
        image, label = train.loader(path), target
        assert image.mode == "RGB" and image.size == (40, 30)
        assert Path(path).parent.name == mapping[label]
    assert train[0][0].size == (40, 30)


def test_layout_names_files_by_wnid_and_key(tmp_path):
    _export(tmp_path, [_record(DOG, 12), _record(DOG, 9), _record(DOG, "a-7")])

    names = sorted(p.name for p in (tmp_path / "train" / DOG).iterdir())

    assert names == [f"{DOG}_12.JPEG", f"{DOG}_9.JPEG", f"{DOG}_a-7.JPEG"]
    assert not (tmp_path / "val").exists()


def test_text_files_follow_the_imagenet_formats(tmp_path):
    _export(tmp_path, _records({DOG: 2, CAT: 1}))

    words = (tmp_path / "words.txt").read_text().splitlines()
    assert f"{DOG}\tdog, domestic dog, Canis familiaris" in words
    assert words == sorted(words) and len(words) == len(SYNSETS)
    assert (tmp_path / "synset_mapping.txt").read_text() == (
        f"{DOG} dog, domestic dog, Canis familiaris\n{CAT} domestic cat, house cat\n"
    )
    assert (tmp_path / "wordnet.is_a.txt").read_text().splitlines() == [
        f"n00001740 {ANIMAL}",
        f"{ANIMAL} {CARNIVORE}",
        f"{CARNIVORE} {DOG}",
        f"{CARNIVORE} {CAT}",
    ]
    urls = (tmp_path / "urls.txt").read_text().splitlines()
    assert f"{DOG}_0\thttps://example.org/{DOG}/0.jpg" in urls and len(urls) == 3
    licenses = (tmp_path / "licenses.tsv").read_text().splitlines()
    assert licenses[0] == "path\tlicense\tattribution\turl"
    assert (
        f"train/{DOG}/{DOG}_0.JPEG\tCC BY 2.0\tphotographer 0\thttps://example.org/{DOG}/0.jpg"
        in licenses
    )


def test_metadata_lines_are_json_with_provenance(tmp_path):
    _export(tmp_path, _records({DOG: 2, CAT: 2}))

    lines = (tmp_path / "metadata.jsonl").read_text().splitlines()

    entries = [json.loads(line) for line in lines]
    assert len(entries) == 4
    first = next(e for e in entries if e["path"] == f"train/{CAT}/{CAT}_1000.JPEG")
    assert first["wnid"] == CAT and first["votes"] == {"yes": 4, "no": 1}
    assert first["posterior"] == 0.995 and first["decision"] == "accepted"
    assert first["url"] == f"https://example.org/{CAT}/1000.jpg" and first["source"] == "flickr"
    for entry in entries:
        assert (tmp_path / entry["path"]).is_file()


def test_tabs_and_newlines_in_outside_text_cannot_break_lines(tmp_path):
    record = _record(DOG, 1, attribution="evil\tname\ninjected line", url="https://x/\n1")

    _export(tmp_path, [record])

    assert len((tmp_path / "licenses.tsv").read_text().splitlines()) == 2
    assert len((tmp_path / "urls.txt").read_text().splitlines()) == 1
    assert len((tmp_path / "licenses.tsv").read_text().splitlines()[1].split("\t")) == 4


def test_rerun_into_the_same_folder_changes_nothing(tmp_path):
    records = _records({DOG: 3, CAT: 2, FOX: 2})
    _export(tmp_path, records, val_fraction=0.4, seed=5)
    before = _snapshot(tmp_path)

    summary = _export(tmp_path, records, val_fraction=0.4, seed=5)

    assert _snapshot(tmp_path) == before  # same bytes and untouched mtimes
    assert (summary.written, summary.unchanged, summary.removed_stale) == (0, 7, 0)
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_rerun_removes_images_and_classes_no_longer_exported(tmp_path):
    from torchvision.datasets import ImageFolder

    _export(tmp_path, _records({DOG: 3, CAT: 2, FOX: 2}), val_fraction=0.4, seed=5)
    (tmp_path / "train" / DOG / "README").write_text("not ours")

    summary = _export(tmp_path, _records({DOG: 2, CAT: 2}))

    assert summary.removed_stale > 0
    assert not (tmp_path / "train" / FOX).exists()
    assert not (tmp_path / "val").exists()
    assert sorted(p.name for p in (tmp_path / "train" / DOG).iterdir()) == [
        "README",
        f"{DOG}_0.JPEG",
        f"{DOG}_1.JPEG",
    ]
    assert ImageFolder(tmp_path / "train").classes == [DOG, CAT]
    assert len(list(tmp_path.rglob("*.JPEG"))) == 4


def test_val_split_is_deterministic_and_covers_every_class(tmp_path):
    records = _records({DOG: 20, CAT: 10, FOX: 2})

    _export(tmp_path / "a", records, val_fraction=0.2, seed=3)
    _export(tmp_path / "b", list(reversed(records[:20])) + records[20:], val_fraction=0.2, seed=3)
    _export(tmp_path / "c", records, val_fraction=0.2, seed=4)

    def val_files(root):
        return sorted(str(p.relative_to(root)) for p in (root / "val").rglob("*.JPEG"))

    assert val_files(tmp_path / "a") == val_files(tmp_path / "b")
    assert val_files(tmp_path / "a") != val_files(tmp_path / "c")
    counts = {w: len(list((tmp_path / "a" / "val" / w).iterdir())) for w in (DOG, CAT, FOX)}
    assert counts == {DOG: 4, CAT: 2, FOX: 1}


def test_val_count_keeps_a_train_image():
    assert [val_count(n, 0.5) for n in (0, 1, 2, 3, 10)] == [0, 0, 1, 2, 5]
    assert val_count(10, 0.01) == 1
    assert val_count(10, 0.0) == 0
    with pytest.raises(ValueError, match="val_fraction"):
        val_count(10, 1.0)


@pytest.mark.parametrize(
    ("fmt", "mode", "converted_from"),
    [
        ("PNG", "RGBA", "PNG"),
        ("WEBP", "RGB", "WEBP"),
        ("GIF", "P", "GIF"),
        ("JPEG", "CMYK", "JPEG/CMYK"),
    ],
)
def test_non_jpeg_sources_become_rgb_jpeg(tmp_path, fmt, mode, converted_from):
    summary = _export(tmp_path, [_record(DOG, 1, _image(1, fmt=fmt, mode=mode), format=fmt)])

    with Image.open(tmp_path / "train" / DOG / f"{DOG}_1.JPEG") as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (40, 30))
    entry = json.loads((tmp_path / "metadata.jsonl").read_text())
    assert entry["converted_from"] == converted_from
    assert summary.converted == 1


def test_jpeg_sources_keep_their_bytes(tmp_path):
    data = _image(7)

    _export(tmp_path, [_record(DOG, 1, data), _record(DOG, 2, _image(8, mode="L"))])

    assert (tmp_path / "train" / DOG / f"{DOG}_1.JPEG").read_bytes() == data


def test_image_given_as_a_path(tmp_path):
    source = tmp_path / "stored.png"
    source.write_bytes(_image(3, fmt="PNG"))
    record = ExportRecord(wnid=DOG, key=5, image=source)

    _export(tmp_path / "out", [record])

    assert (tmp_path / "out" / "train" / DOG / f"{DOG}_5.JPEG").is_file()


def test_unreadable_images_are_skipped_and_reported(tmp_path):
    truncated = _image(2, size=(400, 300))[:-600]
    records = [_record(DOG, 1, b"<html>not an image"), _record(DOG, 2, truncated), _record(DOG, 3)]

    summary = _export(tmp_path, records)

    assert summary.skipped == 2 and summary.train_images == 1
    assert [key for _, key, _ in summary.skipped_examples] == ["1", "2"]
    assert len((tmp_path / "metadata.jsonl").read_text().splitlines()) == 1


@pytest.mark.parametrize("wnid", ["../../etc", "n0208407", "n02084071/..", "n０２０８４０７１", ""])
def test_a_bad_wnid_is_refused_before_any_write(tmp_path, wnid):
    with pytest.raises(ValueError, match="wnid"):
        export_imagenet(
            [_record(wnid, 1)],
            out_dir=tmp_path,
            synsets=[*SYNSETS, SynsetInfo(wnid, ["x"])],
            edges=[],
        )

    assert not list(tmp_path.rglob("*.JPEG"))


@pytest.mark.parametrize("key", ["../x", "a.b", "a/b", -3, True, "", "x" * 65])
def test_a_bad_key_is_refused(tmp_path, key):
    with pytest.raises(ValueError, match="key"):
        _export(tmp_path, [_record(DOG, key, _image(1))])


def test_unknown_class_and_ungrouped_records_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not among"):
        _export(tmp_path / "a", [_record("n01234567", 1)])
    with pytest.raises(ValueError, match="order records by wnid"):
        _export(tmp_path / "b", [_record(DOG, 1), _record(CAT, 2), _record(DOG, 3)])
    with pytest.raises(ValueError, match="duplicate"):
        _export(tmp_path / "c", [_record(DOG, 1), _record(DOG, "1")])


def test_a_failing_export_leaves_no_half_written_files(tmp_path):
    _export(tmp_path, _records({DOG: 2}))
    before = _snapshot(tmp_path)

    def broken_storage() -> bytes:
        raise ConnectionError("storage went away")

    records = [*_records({DOG: 2})[:1], ExportRecord(wnid=DOG, key=9999, image=broken_storage)]
    with pytest.raises(ConnectionError):
        _export(tmp_path, records)

    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert _snapshot(tmp_path) == before


def test_a_second_concurrent_export_is_refused(tmp_path):
    # The exporter locks the folder itself: another holder of that lock keeps it out.
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another export"):
            _export(tmp_path, _records({DOG: 1}))
    finally:
        os.close(fd)
    assert not (tmp_path / "train").exists()


def test_no_lock_or_temporary_file_is_left_behind(tmp_path):
    (tmp_path / ".export.lock").write_text("")  # what an earlier version left

    _export(tmp_path, _records({DOG: 3, CAT: 2}), val_fraction=0.3)
    _export_webdataset = export_webdataset(
        _records({DOG: 2}), out_dir=tmp_path / "wds", classes=SYNSETS[:1], val_per_class=1
    )

    assert _export_webdataset.val_images == 1
    leftovers = [
        p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")
    ]
    assert leftovers == []


def test_meta_bin_is_what_torch_save_writes(tmp_path):
    import torch

    _export(tmp_path, _records({DOG: 4, CAT: 3}), val_per_class=1)

    expected = (
        {
            DOG: ("dog", "domestic dog", "Canis familiaris"),
            CAT: ("domestic cat", "house cat"),
        },
        [DOG, CAT],  # one val image each, in the order of the sorted val file names
    )
    buffer = io.BytesIO()
    torch.save(expected, buffer, _use_new_zipfile_serialization=False)

    def parts(data: bytes) -> list:
        # torch's non-zip format: five pickles in a row (magic, version, sys info, object, keys).
        stream = io.BytesIO(data)
        return [pickle.load(stream) for _ in range(5)] + [stream.read()]  # noqa: S301

    assert parts((tmp_path / "meta.bin").read_bytes()) == parts(buffer.getvalue())
    assert torch.load(tmp_path / "meta.bin", weights_only=True) == expected


def test_torchvision_imagenet_loads_train_and_val_with_a_dataloader(tmp_path):
    import torch
    from torchvision import datasets, transforms

    _export(tmp_path, _records({DOG: 6, CAT: 5, FOX: 4}), val_fraction=0.4, seed=3)
    transform = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])

    train = datasets.ImageNet(root=tmp_path, split="train", transform=transform)
    val = datasets.ImageNet(root=tmp_path, split="val", transform=transform)

    assert train.wnids == val.wnids == sorted([DOG, CAT, FOX])
    assert train.classes[train.wnid_to_idx[DOG]] == ("dog", "domestic dog", "Canis familiaris")
    assert train.class_to_idx["house cat"] == train.wnid_to_idx[CAT]
    assert len(train) + len(val) == 15 and len(val) == 2 + 2 + 2
    images, labels = next(iter(torch.utils.data.DataLoader(train, batch_size=4, shuffle=True)))
    assert images.shape == (4, 3, 32, 32) and labels.shape == (4,)
    images, labels = next(iter(torch.utils.data.DataLoader(val, batch_size=6)))
    assert images.shape == (6, 3, 32, 32)
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2]


def test_val_per_class_takes_a_fixed_number_and_keeps_one_for_train(tmp_path):
    summary = _export(tmp_path, _records({DOG: 8, CAT: 3, FOX: 1}), val_per_class=3)

    val = {p.parent.name: 0 for p in (tmp_path / "val").rglob("*.JPEG")}
    for path in (tmp_path / "val").rglob("*.JPEG"):
        val[path.parent.name] += 1
    assert val == {DOG: 3, CAT: 2}  # 3 of 8; 2 of 3 (one stays in train); FOX has one image
    assert summary.classes_without_val == [FOX]
    assert [val_count(n, 0, 50) for n in (0, 1, 2, 51, 500)] == [0, 0, 1, 50, 50]


@pytest.mark.parametrize(
    ("fraction", "per_class"), [(0.1, 5), (0.0, -1), (0.0, 2.5), (0.0, True)]
)
def test_a_bad_val_rule_is_refused_before_any_write(tmp_path, fraction, per_class):
    with pytest.raises(ValueError, match="val_"):
        _export(tmp_path, _records({DOG: 3}), val_fraction=fraction, val_per_class=per_class)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_per_class(tmp_path):
    seen = []

    _export(tmp_path, _records({DOG: 2, CAT: 3}), on_progress=seen.append)

    assert [(p.wnid, p.classes_done, p.images_done) for p in seen] == [(DOG, 1, 2), (CAT, 2, 5)]


def _read_shards(folder: Path) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for shard in sorted(folder.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                key, ext = member.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return samples


def test_webdataset_shards_are_readable_with_tarfile(tmp_path):
    records = _records({DOG: 4, CAT: 3}) + [_record(FOX, 1, _image(1, fmt="PNG"))]
    classes = [s for s in SYNSETS if s.wnid in (DOG, CAT, FOX)]

    summary = export_webdataset(records, out_dir=tmp_path, classes=classes, shard_size=3)

    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [
        "shard-000000.tar",
        "shard-000001.tar",
        "shard-000002.tar",
    ]
    assert summary.shards == {"train": 3}
    samples = _read_shards(tmp_path / "train")
    assert len(samples) == 8
    order = sorted([DOG, CAT, FOX])
    for key, files in samples.items():
        assert set(files) == {"jpg", "cls", "json"}
        meta = json.loads(files["json"])
        assert int(files["cls"]) == order.index(meta["wnid"]) == meta["class_index"]
        assert key.startswith(meta["wnid"] + "_")
        with Image.open(io.BytesIO(files["jpg"])) as image:
            assert image.format == "JPEG"
    assert (tmp_path / "synset_mapping.txt").read_text().splitlines()[0].startswith(DOG)


def test_webdataset_rerun_is_byte_identical_and_drops_surplus_shards(tmp_path):
    classes = [s for s in SYNSETS if s.wnid in (DOG, CAT)]
    records = _records({DOG: 5, CAT: 4})
    export_webdataset(records, out_dir=tmp_path, classes=classes, shard_size=2, val_fraction=0.25)
    before = _snapshot(tmp_path)

    export_webdataset(records, out_dir=tmp_path, classes=classes, shard_size=2, val_fraction=0.25)
    assert _snapshot(tmp_path) == before

    export_webdataset(records[:3], out_dir=tmp_path, classes=classes, shard_size=2)
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [
        "shard-000000.tar",
        "shard-000001.tar",
    ]
    assert not (tmp_path / "val").exists()


def test_webdataset_and_imagenet_exports_split_alike(tmp_path):
    records = _records({DOG: 10, CAT: 6})
    classes = [s for s in SYNSETS if s.wnid in (DOG, CAT)]

    _export(tmp_path / "folders", records, val_fraction=0.3, seed=9)
    export_webdataset(records, out_dir=tmp_path / "wds", classes=classes, val_fraction=0.3, seed=9)

    folder_val = sorted(p.stem for p in (tmp_path / "folders" / "val").rglob("*.JPEG"))
    assert sorted(_read_shards(tmp_path / "wds" / "val")) == folder_val
