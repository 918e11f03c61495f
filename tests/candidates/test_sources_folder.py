"""The folder source: recursive walk, ImageNet wnid layouts, zip and tar archives read in place,
and the archive attacks it must refuse (zip slip, absolute paths, links, devices, bombs)."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from candidates.sources.base import ConfigurationError, SourceError
from candidates.sources.folder import LocalFolderSource, safe_member_name

DOG = "n02084071"
TENCH = "n01440764"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "imagenet-samples"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _tar_add(archive: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data) if data else None)


def _fetch_all(source: LocalFolderSource, wnid: str | None = None) -> dict[str, bytes]:
    return {r.title: r.fetch() for r in source.search("ignored", 1, wnid=wnid)}


# --- folders ---------------------------------------------------------------------------------


def test_nested_folders_are_walked_and_non_images_ignored(tmp_path):
    _write(tmp_path / "a" / "b" / "c" / "deep.JPG", b"deep")
    _write(tmp_path / "top.png", b"top")
    _write(tmp_path / "a" / "notes.txt", b"not an image")
    _write(tmp_path / "a" / "image.jpg.exe", b"not an image either")
    source = LocalFolderSource(tmp_path)
    results = source.search("whatever", 1)
    # os.walk order, names sorted: a folder's own files before its subfolders.
    assert [r.image_url for r in results] == [
        f"file://{tmp_path}/top.png",
        f"file://{tmp_path}/a/b/c/deep.JPG",
    ]
    assert [r.fetch() for r in results] == [b"top", b"deep"]
    assert [r.rank for r in results] == [1, 2]
    assert all(r.wnid is None for r in results)


def test_wnid_folders_and_wnid_file_names_select_the_synset(tmp_path):
    _write(tmp_path / "train" / DOG / "0001.jpg", b"dog in folder")
    _write(tmp_path / "loose" / f"{DOG}_42.JPEG", b"dog by name")
    _write(tmp_path / "train" / TENCH / "0001.jpg", b"tench")
    _write(tmp_path / "unnamed.jpg", b"no wnid")
    source = LocalFolderSource(tmp_path)
    dog = source.search("q", 1, wnid=DOG)
    assert {r.fetch() for r in dog} == {b"dog in folder", b"dog by name"}
    assert {r.wnid for r in dog} == {DOG}
    assert [r.fetch() for r in source.search("q", 1, wnid=TENCH)] == [b"tench"]
    assert source.search("q", 1, wnid="n09999999") == []
    assert len(source.search("q", 1)) == 4  # no wnid asked: everything


def test_wnid_folder_wins_over_the_file_name(tmp_path):
    _write(tmp_path / DOG / f"{TENCH}_1.JPEG", b"x")
    (result,) = LocalFolderSource(tmp_path).search("q", 1)
    assert result.wnid == DOG


def test_folder_without_wnids_serves_every_synset(tmp_path):
    _write(tmp_path / "x.png", b"x")
    assert len(LocalFolderSource(tmp_path).search("q", 1, wnid=DOG)) == 1


def test_real_imagenet_samples_are_selected_by_file_name():
    if not SAMPLES.is_dir():
        pytest.fail(f"{SAMPLES} is missing: tests read the real samples in ../shared/data")
    source = LocalFolderSource(SAMPLES)
    (chihuahua,) = source.search("Chihuahua", 1, wnid="n02085620")
    assert chihuahua.title == "n02085620_Chihuahua.JPEG"
    assert chihuahua.fetch()[:3] == b"\xff\xd8\xff"  # a JPEG
    assert len(source.search("q", 1)) == min(100, len(list(SAMPLES.glob("n*"))))


def test_pages_start_at_one_and_end_with_an_empty_list(tmp_path):
    for index in range(5):
        _write(tmp_path / f"{index}.jpg", bytes([index]))
    source = LocalFolderSource(tmp_path, page_size=2)
    pages = [source.search("q", page) for page in (1, 2, 3, 4)]
    assert [[r.fetch() for r in page] for page in pages] == [
        [b"\x00", b"\x01"], [b"\x02", b"\x03"], [b"\x04"], [],
    ]  # fmt: skip
    assert [r.rank for r in pages[1]] == [3, 4]
    with pytest.raises(ValueError, match="start at 1"):
        source.search("q", 0)


def test_symlinked_files_and_folders_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    _write(outside / "secret.jpg", b"secret")
    root = tmp_path / "root"
    _write(root / "ok.jpg", b"ok")
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    source = LocalFolderSource(root)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    assert (str(root / "link.jpg"), "not a regular file") in source.skipped


def test_special_files_are_skipped_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")  # opening a FIFO for reading would block forever
    _write(tmp_path / "ok.jpg", b"ok")
    source = LocalFolderSource(tmp_path)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    assert [reason for _, reason in source.skipped] == ["not a regular file"]


def test_file_swapped_for_a_symlink_after_the_scan_is_refused(tmp_path):
    secret = _write(tmp_path / "secret.txt", b"secret")
    root = tmp_path / "root"
    image = _write(root / "a.jpg", b"image")
    (result,) = LocalFolderSource(root).search("q", 1)
    image.unlink()
    image.symlink_to(secret)
    with pytest.raises(SourceError):
        result.fetch()


def test_a_file_that_grew_after_the_scan_is_read_only_up_to_the_cap(tmp_path):
    image = _write(tmp_path / "a.jpg", b"small")
    (result,) = LocalFolderSource(tmp_path, max_bytes=1000).search("q", 1)
    image.write_bytes(b"\0" * 50_000)
    assert len(result.fetch()) == 1001  # one byte past the cap: the caller rejects it


def test_vanished_file_raises_source_error(tmp_path):
    image = _write(tmp_path / "a.jpg", b"x")
    (result,) = LocalFolderSource(tmp_path).search("q", 1)
    image.unlink()
    with pytest.raises(SourceError, match="a.jpg"):
        result.fetch()


def test_root_outside_the_allowed_folders_is_refused(tmp_path):
    allowed = tmp_path / "imports"
    allowed.mkdir()
    (allowed / "escape").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ConfigurationError, match="outside the allowed folders"):
        LocalFolderSource("/etc", allowed_roots=[allowed])
    with pytest.raises(ConfigurationError, match="outside the allowed folders"):
        LocalFolderSource(allowed / "escape", allowed_roots=[allowed])
    assert LocalFolderSource(allowed, allowed_roots=[allowed]).search("q", 1) == []


def test_missing_root_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalFolderSource(tmp_path / "nope")


# --- zip -------------------------------------------------------------------------------------


def test_zip_members_are_read_without_extracting(tmp_path):
    with zipfile.ZipFile(tmp_path / "set.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{DOG}/a.jpg", b"dog a")
        archive.writestr(f"{TENCH}/b.jpg", b"tench b")
        archive.writestr("readme.txt", b"text")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    source = LocalFolderSource(tmp_path)
    (dog,) = source.search("q", 1, wnid=DOG)
    assert dog.image_url == f"zip://{tmp_path}/set.zip!{DOG}/a.jpg"
    assert (dog.title, dog.wnid, dog.fetch()) == ("a.jpg", DOG, b"dog a")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    source.close()
    assert dog.fetch() == b"dog a"  # reopened after close


@pytest.mark.parametrize(
    "name",
    [
        "../evil.jpg",
        "../../../../tmp/evil.jpg",
        "good/../../evil.jpg",
        "/etc/evil.jpg",
        "..\\..\\evil.jpg",
        "C:/Windows/evil.jpg",
        "C:evil.jpg",
        "\\\\server\\share\\evil.jpg",
    ],
)
def test_zip_slip_member_names_are_refused(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("good.jpg", b"good")
        # ZipInfo keeps the raw name; ZipFile.writestr(str) would sanitise some of them.
        archive.writestr(zipfile.ZipInfo(name), b"evil")
    source = LocalFolderSource(tmp_path)
    assert _fetch_all(source) == {"good.jpg": b"good"}
    assert source.skipped == [(f"{tmp_path}/a.zip!{name}", "unsafe path in archive")]


def test_safe_member_names_are_accepted():
    assert safe_member_name("n02084071/n02084071_1.JPEG")
    assert safe_member_name("a/./b..c.jpg")
    assert not safe_member_name("")


def test_zip_symlink_member_is_refused(tmp_path):
    link = zipfile.ZipInfo("link.jpg")
    link.external_attr = (0o120777 << 16) | 0x20  # S_IFLNK, as Info-ZIP stores symlinks
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr(link, "/etc/passwd")
        archive.writestr("ok.jpg", b"ok")
    source = LocalFolderSource(tmp_path)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    assert source.skipped == [(f"{tmp_path}/a.zip!link.jpg", "symlink in archive")]


def test_zip_bomb_is_refused_by_its_declared_size(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.jpg", b"\0" * 5_000_000)  # ~5 kB compressed
        archive.writestr("ok.jpg", b"ok")
    source = LocalFolderSource(tmp_path, max_bytes=1000)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    assert source.skipped == [(f"{tmp_path}/bomb.zip!bomb.jpg", "declares 5000000 bytes")]


def test_corrupt_archives_are_skipped_with_a_reason(tmp_path):
    _write(tmp_path / "broken.zip", b"PK\x03\x04 not really a zip")
    _write(tmp_path / "broken.tar.gz", b"\x1f\x8b not really gzip")
    _write(tmp_path / "ok.jpg", b"ok")
    source = LocalFolderSource(tmp_path)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    reasons = dict(source.skipped)
    assert reasons[str(tmp_path / "broken.zip")].startswith("unreadable zip")
    assert reasons[str(tmp_path / "broken.tar.gz")].startswith("unreadable tar")


# --- tar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")],
)
def test_tar_members_are_read_in_any_order_for_every_compression(tmp_path, suffix, mode):
    payloads = {f"{DOG}_{index}.JPEG": os.urandom(3000 + index) for index in range(6)}
    with tarfile.open(tmp_path / f"{DOG}{suffix}", mode) as archive:
        for name, data in payloads.items():
            _tar_add(archive, name, data)
    results = LocalFolderSource(tmp_path).search("q", 1, wnid=DOG)
    assert [r.title for r in results] == list(payloads)
    # Out of order and repeated: compressed streams must seek back correctly.
    for result in [*reversed(results), results[2], results[0]]:
        assert result.fetch() == payloads[result.title]


def test_imagenet_train_tar_as_the_root_itself(tmp_path):
    # ImageNet ships one tar per synset: n02085620.tar holding n02085620_*.JPEG.
    archive_path = tmp_path / "n02085620.tar"
    with tarfile.open(archive_path, "w") as archive:
        _tar_add(archive, "n02085620_10074.JPEG", b"chihuahua")
    source = LocalFolderSource(archive_path)
    (result,) = source.search("q", 1, wnid="n02085620")
    assert result.image_url == f"tar://{archive_path}!n02085620_10074.JPEG"
    assert result.fetch() == b"chihuahua"
    assert source.search("q", 1, wnid=DOG) == []


def test_tar_links_devices_and_traversal_are_refused(tmp_path):
    with tarfile.open(tmp_path / "evil.tar.gz", "w:gz") as archive:
        _tar_add(archive, "ok.jpg", b"ok")
        _tar_add(archive, "../up.jpg", b"up")
        _tar_add(archive, "/abs.jpg", b"abs")
        _tar_add(archive, "sym.jpg", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        _tar_add(archive, "hard.jpg", type=tarfile.LNKTYPE, linkname="ok.jpg")
        _tar_add(archive, "dev.jpg", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        _tar_add(archive, "fifo.jpg", type=tarfile.FIFOTYPE)
    source = LocalFolderSource(tmp_path)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    base = f"{tmp_path}/evil.tar.gz!"
    assert source.skipped == [
        (base + "../up.jpg", "unsafe path in archive"),
        (base + "/abs.jpg", "unsafe path in archive"),
        (base + "sym.jpg", "not a regular file in archive"),
        (base + "hard.jpg", "not a regular file in archive"),
        (base + "dev.jpg", "not a regular file in archive"),
        (base + "fifo.jpg", "not a regular file in archive"),
    ]


def test_tar_member_over_the_cap_is_refused_by_its_declared_size(tmp_path):
    with tarfile.open(tmp_path / "a.tar", "w") as archive:
        _tar_add(archive, "big.jpg", b"\0" * 5000)
        _tar_add(archive, "ok.jpg", b"ok")
    source = LocalFolderSource(tmp_path, max_bytes=1000)
    assert _fetch_all(source) == {"ok.jpg": b"ok"}
    assert source.skipped == [(f"{tmp_path}/a.tar!big.jpg", "declares 5000 bytes")]


def test_truncated_tar_raises_source_error_on_read(tmp_path):
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as archive:
        _tar_add(archive, "a.jpg", os.urandom(4000))
    (result,) = LocalFolderSource(tmp_path).search("q", 1)
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(SourceError, match="truncated"):
        result.fetch()
