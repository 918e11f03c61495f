"""Path traversal in archive import (zip-slip with ``..``, absolute and drive paths, symlinks)
and in export (wnids and keys become file names) — Label Studio's export traversal, §3."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from candidates.sources.folder import LocalFolderSource
from exports.writer import ExportRecord, SynsetInfo, check_wnid, export_imagenet
from tests.factories import jpeg_bytes

WNID = "n02084071"
EVIL_NAMES = [f"../{WNID}_up.jpg", f"/tmp/{WNID}_abs.jpg", f"a/../../{WNID}_mid.jpg",
              f"C:/{WNID}_drive.jpg", f"..\\{WNID}_win.jpg"]  # fmt: skip


def _archives(root: Path, secret: Path) -> None:
    with zipfile.ZipFile(root / f"{WNID}.zip", "w") as archive:
        archive.writestr(f"{WNID}_ok.jpg", jpeg_bytes())
        for name in EVIL_NAMES:
            archive.writestr(name, jpeg_bytes((1, 2, 3)))
    with tarfile.open(root / f"{WNID}.tar", "w") as archive:
        for name in [f"{WNID}_ok2.jpg", *EVIL_NAMES]:
            data = jpeg_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{WNID}_link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, str(secret)
        archive.addfile(link)
        hard = tarfile.TarInfo(f"{WNID}_hard.jpg")
        hard.type, hard.linkname = tarfile.LNKTYPE, "../../secret.jpg"
        archive.addfile(hard)
    (root / f"{WNID}_symlink.jpg").symlink_to(secret)


def test_archive_members_cannot_escape_and_symlinks_are_not_followed(tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"SECRET" + jpeg_bytes())
    root = tmp_path / "import"
    root.mkdir()
    _archives(root, secret)

    source = LocalFolderSource(root)
    results = source.search("", 1, wnid=WNID)
    locators = [r.image_url for r in results]
    assert sorted(loc.rsplit("!", 1)[-1] for loc in locators) == [f"{WNID}_ok.jpg",
                                                                  f"{WNID}_ok2.jpg"]  # fmt: skip
    for result in results:
        assert b"SECRET" not in result.fetch()
    assert not (tmp_path / f"{WNID}_up.jpg").exists()


@pytest.mark.parametrize("wnid", ["../etc", "n0208407/../../x", "/abs", "n02084071/..", ""])
def test_export_refuses_wnids_that_are_not_wnids(wnid):
    with pytest.raises(ValueError, match="not a wnid"):
        check_wnid(wnid)


@pytest.mark.parametrize("key", ["../../evil", "a/b", "..", ".hidden", "x.y", "a\\b"])
def test_export_refuses_keys_that_could_leave_their_folder(tmp_path, key):
    record = ExportRecord(wnid=WNID, key=key, image=lambda: jpeg_bytes())
    with pytest.raises(ValueError, match="key"):
        export_imagenet([record], out_dir=tmp_path / "out", synsets=[SynsetInfo(WNID, ["dog"])],
                        edges=[])  # fmt: skip
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
