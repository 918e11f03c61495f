"""Local JPEG sources are exported byte for byte without decoding a pixel: hard-linked on the
same file system, copied otherwise; anything that is not a plain RGB/grey JPEG still goes the
converting way, and a damaged file is still skipped."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exports.writer import ExportRecord, SynsetInfo, export_imagenet

DOG = "n02084071"
SYNSETS = [SynsetInfo(DOG, ["dog"])]


def _jpeg(seed: int, mode: str = "RGB", **save) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").convert(mode).save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def _stored(tmp_path: Path, files: dict[int, bytes]) -> list[ExportRecord]:
    media = tmp_path / "media"
    media.mkdir(exist_ok=True)
    records = []
    for key, data in files.items():
        path = media / f"{hashlib.sha256(data).hexdigest()}.jpg"
        path.write_bytes(data)
        records.append(ExportRecord(wnid=DOG, key=key, image=str(path)))
    return records


def _export(records, out: Path, **options):
    return export_imagenet(records, out_dir=out, synsets=SYNSETS, edges=[], **options)


@pytest.fixture
def no_decoding(monkeypatch):
    """Call it once the test images exist: from then on Pillow may not open or decode."""

    def refuse(*args, **kwargs):
        raise AssertionError("a pixel was decoded")

    def activate():
        monkeypatch.setattr(Image.Image, "load", refuse)
        monkeypatch.setattr(Image, "open", refuse)

    return activate


def test_local_jpegs_are_linked_without_decoding(tmp_path, no_decoding):
    files = {1: _jpeg(1), 2: _jpeg(2, "L"), 3: _jpeg(3, progressive=True)}
    records = _stored(tmp_path, files)
    no_decoding()
    summary = _export(records, tmp_path / "out")
    assert (summary.written, summary.converted, summary.skipped) == (3, 0, 0)
    for record, (key, data) in zip(records, files.items(), strict=True):
        exported = tmp_path / "out" / "train" / DOG / f"{DOG}_{key}.JPEG"
        assert exported.read_bytes() == data
        assert os.path.samefile(exported, record.image)  # a hard link: no space, no copy
    lines = (tmp_path / "out" / "metadata.jsonl").read_text().splitlines()
    digests = {json.loads(line)["key"]: json.loads(line)["sha256"] for line in lines}
    assert digests == {str(k): hashlib.sha256(v).hexdigest() for k, v in files.items()}

    rerun = _export(records, tmp_path / "out")
    assert (rerun.written, rerun.unchanged) == (0, 3)


def test_copies_when_links_are_not_wanted(tmp_path, no_decoding):
    records = _stored(tmp_path, {1: _jpeg(1)})
    no_decoding()
    summary = _export(records, tmp_path / "out", link=False)
    exported = tmp_path / "out" / "train" / DOG / f"{DOG}_1.JPEG"
    assert summary.written == 1
    assert exported.read_bytes() == Path(records[0].image).read_bytes()
    assert not os.path.samefile(exported, records[0].image)
    assert exported.stat().st_mode & 0o777 == 0o644


def test_the_stored_digest_is_trusted_instead_of_reading_the_file(tmp_path):
    data = _jpeg(4)
    [record] = _stored(tmp_path, {1: data})
    hinted = ExportRecord(wnid=DOG, key=1, image=record.image, sha256="ab" * 32)
    _export([hinted], tmp_path / "out")
    entry = json.loads((tmp_path / "out" / "metadata.jsonl").read_text())
    assert entry["sha256"] == "ab" * 32


def test_cmyk_and_damaged_local_files_take_the_careful_path(tmp_path):
    good = _jpeg(5)
    cmyk = _jpeg(6, "CMYK")
    truncated = _jpeg(7)[:-300]
    trailing = _jpeg(8) + b"trailing bytes some cameras append"
    records = _stored(tmp_path, {1: good, 2: cmyk, 3: truncated, 4: trailing})
    summary = _export(records, tmp_path / "out")
    folder = tmp_path / "out" / "train" / DOG
    assert summary.converted == 1 and summary.skipped == 1
    assert [key for _, key, _ in summary.skipped_examples] == ["3"]
    with Image.open(folder / f"{DOG}_2.JPEG") as converted:
        assert converted.mode == "RGB"
    assert (folder / f"{DOG}_4.JPEG").read_bytes() == trailing  # decoded once, kept as is
    assert not (folder / f"{DOG}_3.JPEG").exists()


def test_a_missing_local_file_aborts_the_export(tmp_path):
    records = [ExportRecord(wnid=DOG, key=1, image=str(tmp_path / "gone.jpg"))]
    with pytest.raises(FileNotFoundError):
        _export(records, tmp_path / "out")
