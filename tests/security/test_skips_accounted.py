"""Issue 13 finding 5: every URL-list line and every folder or archive entry is accounted for in
the job's summary — stored, duplicate, rejected, refused with a reason (file://, gopher://,
ftp://, dict:// lines; ``../``, absolute paths, symlinks, FIFOs, oversized members), a repeated
line, or naming no synset of the job. Nothing vanishes."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest
from PIL import Image

from candidates.collection import collection_job_create, collection_job_run
from candidates.management.commands.collect_candidates import summary_line
from tests.factories import SynsetFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96 + seed, 80), (seed * 40 % 255, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def _run(source: str, config: dict, wnids: list[str]):
    from django.db import transaction

    with transaction.atomic():
        job = collection_job_create(wnids=wnids, source=source, source_config=config)
    return collection_job_run(job_id=job.pk)


def test_every_url_list_line_is_accounted_for(tmp_path, settings):
    settings.CANDIDATES_ALLOW_LOOPBACK = True
    synset, other = SynsetFactory(), SynsetFactory()
    lines = [f"{synset.wnid} http://127.0.0.1:9/img-{n}.jpg" for n in range(20)]  # refused port
    lines += [
        f"{synset.wnid} file:///etc/passwd",
        f"{synset.wnid} gopher://127.0.0.1:70/_x",
        f"{synset.wnid} ftp://ftp.example.org/a.jpg",
        f"{synset.wnid} dict://127.0.0.1:2628/d:x",
        f"{synset.wnid} http://127.0.0.1:9/img-0.jpg",  # repeats line 1
        f"{synset.wnid} http://127.0.0.1:9/img-1.jpg",  # repeats line 2
        "one two three",
        f"{synset.wnid} not-a-url",
    ]
    lines += [f"{other.wnid} http://127.0.0.1:9/other-{n}.jpg" for n in range(3)]
    assert len(lines) == 31
    path = tmp_path / "list.txt"
    path.write_text("\n".join(lines) + "\n")

    job = _run("urls", {"path": str(path)}, [synset.wnid])

    report = job.source_report
    downloaded = job.stored + job.duplicates + job.rejected
    assert downloaded == 20
    assert report["refused_count"] == 6
    assert report["duplicate_lines"] == 2
    assert report["unmatched_count"] == 3
    assert downloaded + report["refused_count"] + report["duplicate_lines"] + (
        report["unmatched_count"]
    ) == len(lines)
    reasons = " ".join(report["refused_by_reason"])
    for scheme in ("file", "gopher", "ftp", "dict"):
        assert f"scheme '{scheme}'" in reasons
    summary = summary_line(job)
    assert "refused before download 6" in summary and "scheme 'gopher'" in summary
    assert "repeated list lines 2" in summary and "for no synset of this job 3" in summary


def test_every_folder_and_archive_entry_is_accounted_for(tmp_path, settings):
    settings.CANDIDATES_MAX_BYTES = 40_000
    synset = SynsetFactory()
    root = tmp_path / synset.wnid
    root.mkdir()
    (root / "a.png").write_bytes(_png(1))
    (root / "b.png").write_bytes(_png(2))
    os.symlink("/etc/passwd", root / "link.png")
    os.mkfifo(root / "pipe.png")
    with zipfile.ZipFile(root / "pack.zip", "w") as archive:
        archive.writestr("c.png", _png(3))
        archive.writestr("../escape.png", _png(4))
        archive.writestr("/absolute.png", _png(5))
        archive.writestr("huge.png", b"\0" * 60_000)  # over CANDIDATES_MAX_BYTES
    with tarfile.open(root / "pack.tar", "w") as archive:
        info = tarfile.TarInfo("tarlink.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
        archive.addfile(info)
        data = _png(6)
        member = tarfile.TarInfo("d.png")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))

    job = _run("folder", {"root": str(tmp_path)}, [synset.wnid])

    report = job.source_report
    assert job.stored + job.duplicates + job.rejected == 4  # a, b, c, d
    assert job.stored == 4
    wheres = " ".join(entry["where"] for entry in report["refused_examples"])
    for name in ("link.png", "pipe.png", "escape.png", "absolute.png", "huge.png",
                 "tarlink.png"):  # fmt: skip
        assert name in wheres, name
    assert report["refused_count"] == 6
    assert all(entry["why"] for entry in report["refused_examples"])
    assert "refused before download 6" in summary_line(job)
