"""Streaming writers of an accepted-image dataset (docs/architecture.md §1): the ImageNet folder
layout that ``torchvision.datasets.ImageFolder(out/train)`` loads as is, and WebDataset tar shards.

Both take plain ``ExportRecord``s, grouped by wnid, and hold one class's records at a time (never
image bytes of more than one image): memory follows the largest class, not the dataset. Every file
is written to a temporary name and moved into place with ``os.replace``, so a crash or a rerun
never leaves a half-written file, and unchanged files are left untouched on reruns.
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import hashlib
import heapq
import io
import json
import math
import os
import pickle
import re
import secrets
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from PIL import Image

WNID = re.compile(r"n[0-9]{8}")
# Keys become file names (``<wnid>_<key>.JPEG``) and WebDataset sample keys, which split on dots:
# letters, digits and dashes only, so no key can climb out of its folder or merge two samples.
KEY = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")
SPLITS = ("train", "val")
JPEG_QUALITY = 95
MAX_SKIPPED_EXAMPLES = 100
TEMP_SUFFIX = ".tmp"
LOCK_NAME = ".export.lock"
META_NAME = "meta.bin"
SHARD_NAME = re.compile(r"shard-([0-9]{6})\.tar")
# Pillow raises these for bytes it cannot decode. They are caught around decoding only: reading the
# bytes (storage down, file missing, permissions) raises OSErrors too, and those abort the export
# rather than silently thinning the dataset.
UNREADABLE_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)

ImageSource = Callable[[], bytes | BinaryIO] | str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class SynsetInfo:
    wnid: str
    lemmas: Sequence[str]


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One accepted image. ``key`` is its stable id (the candidate id) and names the file
    ``<wnid>_<key>.JPEG``, as ImageNet names images by id; ``image`` returns or locates its bytes.
    ``format`` is the stored format, a hint only: the bytes decide whether to convert."""

    wnid: str
    key: int | str
    image: ImageSource
    source: str = ""
    url: str = ""
    license: str = ""
    attribution: str = ""
    votes: Mapping[str, int] = field(default_factory=dict)
    posterior: float | None = None
    decision: str = "accepted"
    format: str | None = None
    # SHA-256 of the stored bytes when known (candidates are stored under it): spares reading a
    # JPEG that is linked or copied as is just to hash it.
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """Reported after each class, for a job's live progress bar."""

    wnid: str
    classes_done: int
    images_done: int


@dataclass
class ExportSummary:
    out_dir: Path
    classes: list[str] = field(default_factory=list)  # class-index order
    train_images: int = 0
    val_images: int = 0
    written: int = 0
    unchanged: int = 0
    converted: int = 0
    removed_stale: int = 0
    skipped: int = 0
    skipped_examples: list[tuple[str, str, str]] = field(default_factory=list)
    classes_without_val: list[str] = field(default_factory=list)
    shards: dict[str, int] = field(default_factory=dict)

    def skip(self, wnid: str, key: str, error: BaseException) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < MAX_SKIPPED_EXAMPLES:
            self.skipped_examples.append((wnid, key, f"{type(error).__name__}: {error}"))


@dataclass(frozen=True, slots=True)
class _PlannedImage:
    record: ExportRecord
    key: str
    split: str

    @property
    def image_id(self) -> str:
        return f"{self.record.wnid}_{self.key}"


def check_wnid(wnid: str) -> str:
    """Refuse anything but ``n`` + 8 digits: wnids become folder names."""
    if not isinstance(wnid, str) or not WNID.fullmatch(wnid):
        raise ValueError(f"not a wnid: {wnid!r}")
    return wnid


def _key_text(key: int | str) -> str:
    if isinstance(key, bool):
        raise ValueError(f"not an image key: {key!r}")
    text = str(key) if isinstance(key, int) and key >= 0 else key
    if not isinstance(text, str) or not KEY.fullmatch(text):
        raise ValueError(f"image keys are letters, digits and dashes; got {key!r}")
    return text


def _key_order(key: str) -> tuple[int, int, str]:
    # Numeric ids sort as numbers (9 before 10), as ImageNet's file numbers do.
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _rank(seed: int | str, wnid: str, key: str) -> int:
    # blake2b, not hash(): Python's str hash changes per process, the split must not.
    digest = hashlib.blake2b(f"{seed}\x1f{wnid}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def val_count(n_images: int, val_fraction: float, val_per_class: int = 0) -> int:
    """Validation images of a class: its share of ``val_fraction``, or ImageNet's convention of a
    fixed number per class (``val_per_class``, 50 in ILSVRC); at least one (so every class appears
    in val/ and ImageFolder gives val the same class indices) and never all of them."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if isinstance(val_per_class, bool) or not isinstance(val_per_class, int) or val_per_class < 0:
        raise ValueError(f"val_per_class must be a whole number ≥ 0, got {val_per_class!r}")
    if val_fraction and val_per_class:
        raise ValueError("give either val_fraction or val_per_class, not both")
    if n_images < 2 or not (val_fraction or val_per_class):
        return 0
    wanted = val_per_class or round(val_fraction * n_images)
    return min(n_images - 1, max(1, wanted))


def _iter_classes(
    records: Iterable[ExportRecord], known: Mapping[str, Any]
) -> Iterator[tuple[str, list[ExportRecord]]]:
    """Group a stream ordered (or at least grouped) by wnid into one list per class."""
    finished: set[str] = set()
    current: str | None = None
    batch: list[ExportRecord] = []
    for record in records:
        if record.wnid != current:
            check_wnid(record.wnid)
            if record.wnid not in known:
                raise ValueError(f"{record.wnid} is not among the exported synsets")
            if current is not None:
                yield current, batch
                finished.add(current)
            if record.wnid in finished:
                raise ValueError(
                    f"records of {record.wnid} arrive twice: order records by wnid "
                    "(e.g. .order_by('synset__wnid', 'pk'))"
                )
            current, batch = record.wnid, []
        batch.append(record)
    if current is not None:
        yield current, batch


def _plan_class(
    wnid: str,
    batch: list[ExportRecord],
    val_fraction: float,
    seed: int | str,
    val_per_class: int = 0,
) -> list[_PlannedImage]:
    """Order a class by key and pick its validation images.

    Validation images are the ``val_count`` keys of lowest rank under (seed, wnid, key): a rerun
    picks the same ones, and a class that grows keeps almost all of its previous val images.
    Train images come first so that a class whose train images all fail can promote a val image.
    """
    keyed = sorted(((_key_text(r.key), r) for r in batch), key=lambda kr: _key_order(kr[0]))
    for (left, _), (right, _) in zip(keyed, keyed[1:], strict=False):
        if left == right:
            raise ValueError(f"duplicate image key {left!r} in {wnid}")
    keys = [key for key, _ in keyed]
    n_val = val_count(len(keys), val_fraction, val_per_class)
    val_keys = set(heapq.nsmallest(n_val, keys, key=lambda k: _rank(seed, wnid, k)))
    plan = [_PlannedImage(r, key, "val" if key in val_keys else "train") for key, r in keyed]
    return [p for p in plan if p.split == "train"] + [p for p in plan if p.split == "val"]


def _read_source(image: ImageSource) -> bytes:
    if callable(image):
        data = image()
        if isinstance(data, bytes | bytearray | memoryview):
            return bytes(data)
        with data:
            return data.read()
    return Path(image).read_bytes()


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent pixels become white rather than whatever colour they hid."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


_TAIL = 64
_EOI = b"\xff\xd9"


def _ends_with_eoi(tail: bytes) -> bool:
    """A complete JPEG ends with the end-of-image marker (padding aside). Stored candidates were
    fully decoded when collected, so header + marker are proof enough here: no pixel is
    decoded again on the export's hot path."""
    return tail.rstrip(b"\x00\r\n ").endswith(_EOI)


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers


def _jpeg_components(head: bytes) -> int | None:
    """Colour components of a JPEG from its frame header (1 grey, 3 RGB/YCbCr, 4 CMYK), walking
    the marker segments of the file's first bytes without decoding anything; None if they hold
    no frame header (not a JPEG, or a header longer than ``head``)."""
    if head[:2] != b"\xff\xd8":
        return None
    position, end = 2, len(head)
    while position + 4 <= end:
        if head[position] != 0xFF:
            return None
        code = head[position + 1]
        if code == 0xFF:  # fill byte
            position += 1
            continue
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # no payload
            position += 2
            continue
        if code in (0xD9, 0xDA):  # end of image, start of scan: no frame header before it
            return None
        if code in _SOF:
            return head[position + 9] if position + 10 <= end else None
        position += 2 + int.from_bytes(head[position + 2 : position + 4], "big")
    return None


_HEAD = 1 << 16  # EXIF and ICC segments included, a frame header lies within the first 64 KiB


def _plain_jpeg_file(path: Path) -> bool:
    """True when ``path`` is an RGB or greyscale JPEG that ends where it should: it is exported
    byte for byte. Reads the header segments and the last bytes only."""
    try:
        with open(path, "rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(_HEAD)
            if _jpeg_components(head) not in (1, 3):
                return False
            if size > _HEAD:
                head = os.pread(handle.fileno(), _TAIL, size - _TAIL)
            return _ends_with_eoi(head[-_TAIL:])
    except OSError:
        return False  # the slow path reads it again and reports what is wrong


_FICLONE = 0x40049409  # Linux ioctl: share the source's extents (btrfs, XFS, bcachefs)


def _clone_or_copy(source: Path, target_fd: int) -> None:
    with open(source, "rb") as src:
        try:
            fcntl.ioctl(target_fd, _FICLONE, src.fileno())
            return
        except OSError:
            pass
        size = os.fstat(src.fileno()).st_size
        copied = 0
        try:
            while copied < size:  # kernel-side copy, no trip through Python
                step = os.copy_file_range(src.fileno(), target_fd, size - copied)
                if step == 0:
                    break
                copied += step
        except OSError:
            src.seek(copied)
            os.lseek(target_fd, copied, os.SEEK_SET)
            while chunk := src.read(1 << 20):
                os.write(target_fd, chunk)


def _place_file(source: Path, path: Path, *, link: bool) -> bool:
    """Put ``source``'s bytes at ``path`` without reading them into Python: a hard link when
    ``link`` and both lie on one file system (the dataset then costs no space), else a
    copy-on-write clone or a kernel-side copy. True if written, False if already there."""
    with contextlib.suppress(FileNotFoundError):
        existing, wanted = path.stat(), source.stat()
        if os.path.samestat(existing, wanted) or (
            existing.st_size == wanted.st_size and filecmp.cmp(source, path, shallow=False)
        ):
            return False
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    if link:
        try:
            os.link(source, temp)
            os.replace(temp, path)
            return True
        except OSError:  # another file system (EXDEV), links not allowed, too many links
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            _clone_or_copy(source, fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return True


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class _Unreadable(Exception):
    """The source was read but is no image we can export (the export goes on without it)."""


def _export_image(
    record: ExportRecord, path: Path, *, link: bool
) -> tuple[bool, str, str | None]:
    """Write one image at ``path``: (written, SHA-256 of the file, format converted from).

    A local RGB/greyscale JPEG is linked or copied as is (never decoded); anything else is read
    and, unless it is such a JPEG, converted. Decoding errors raise ``_Unreadable`` (the caller
    skips the image); storage errors propagate as they are (they abort the export)."""
    source = record.image
    if isinstance(source, str | os.PathLike) and _plain_jpeg_file(Path(source)):
        written = _place_file(Path(source), path, link=link)
        return written, record.sha256 or _sha256_file(Path(source)), None
    data = _read_source(source)
    try:
        jpeg, converted = as_jpeg(data)
    except UNREADABLE_IMAGE_ERRORS as error:
        raise _Unreadable(error) from error
    digest = record.sha256 if converted is None and record.sha256 else None
    return _write_if_changed(path, jpeg), digest or hashlib.sha256(jpeg).hexdigest(), converted


def as_jpeg(data: bytes) -> tuple[bytes, str | None]:
    """Return ``data`` as a real JPEG file and the format it was converted from (``None`` if kept).

    RGB and greyscale JPEGs keep their original bytes (no generation loss, provenance intact) after
    a cheap 1/8-scale decode proves the file complete; other formats, and CMYK JPEGs that many
    loaders mishandle, are re-encoded as RGB JPEG.
    """
    with Image.open(io.BytesIO(data)) as image:
        source_format = image.format or "unknown"
        if source_format == "JPEG" and image.mode in ("RGB", "L"):
            if not _ends_with_eoi(data[-_TAIL:]):
                # No end-of-image marker where it belongs: decode (at 1/8 scale) to tell a
                # truncated file from one with trailing bytes.
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()  # raises on a truncated or corrupt file
            return data, None
        image.seek(0)  # the first frame of an animation
        rgb = _flatten_alpha(image)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    converted_from = f"JPEG/{image.mode}" if source_format == "JPEG" else source_format
    return buffer.getvalue(), converted_from


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it; True if written."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)  # mkstemp creates 0600; readers of the dataset are other users
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return True


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write ``path`` through a temporary file that replaces it only on success; an identical
    result leaves the existing file (and its mtime) alone."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        encoding = None if "b" in mode else "utf-8"
        newline = None if "b" in mode else "\n"
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
        if path.is_file() and filecmp.cmp(temp, path, shallow=False):
            os.unlink(temp)
        else:
            os.chmod(temp, 0o644)
            os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _export_lock(out_dir: Path) -> Iterator[None]:
    """One export per folder at a time: two writers would prune each other's files.

    The lock is taken on the folder itself (flock works on a directory's descriptor), so no lock
    file is left in the dataset; a lock file an earlier version left behind is removed."""
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise RuntimeError(f"another export is writing into {out_dir}") from error
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out_dir / LOCK_NAME)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _clean_field(value: object) -> str:
    """One line, one TSV cell: tabs and line breaks in outside text would shift columns."""
    return " ".join(str(value).split())


def _lemma_text(lemmas: Sequence[str]) -> str:
    return ", ".join(_clean_field(lemma).replace("_", " ") for lemma in lemmas if lemma)


def _posterior(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"posterior must be finite, got {value}")
    return value


def _metadata(planned: _PlannedImage, path: str, digest: str, converted: str | None) -> dict:
    record = planned.record
    return {
        "path": path,
        "split": planned.split,
        "wnid": record.wnid,
        "key": planned.key,
        "source": record.source,
        "url": record.url,
        "license": record.license,
        "attribution": record.attribution,
        "votes": dict(record.votes),
        "posterior": _posterior(record.posterior),
        "decision": str(record.decision),
        "sha256": digest,
        "converted_from": converted,
    }


def _prune_class_dir(folder: Path, wnid: str, keep: set[str]) -> int:
    """Delete this exporter's files in ``folder`` that the current run did not write: images of a
    previous run (rejected since, or moved between train and val) and leftover temporary files.
    Files of any other shape are left alone."""
    if not folder.is_dir():
        return 0
    image_name = re.compile(rf"{wnid}_{KEY.pattern}\.JPEG")
    removed = 0
    for entry in os.scandir(folder):
        ours = image_name.fullmatch(entry.name) or (
            entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX)
        )
        if ours and entry.name not in keep and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
            removed += 1
    # rmdir only succeeds when empty: an emptied class folder must not stay an ImageFolder class.
    with contextlib.suppress(OSError):
        folder.rmdir()
    return removed


def _ancestor_edges(
    edges: Iterable[tuple[str, str]], exported: Iterable[str]
) -> list[tuple[str, str]]:
    """IS-A edges among the exported synsets and all their ancestors (WordNet is a DAG)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for parent, child in edges:
        parents[check_wnid(child)].add(check_wnid(parent))
    closure: set[str] = set()
    stack = list(exported)
    while stack:
        wnid = stack.pop()
        if wnid not in closure:
            closure.add(wnid)
            stack.extend(parents.get(wnid, ()))
    return sorted((parent, child) for child in closure for parent in parents.get(child, ()))


def _synset_lemmas(synsets: Sequence[SynsetInfo]) -> dict[str, str]:
    return {check_wnid(s.wnid): _lemma_text(s.lemmas) for s in synsets}


# torch.save's non-zip ("legacy") serialization: five pickles (protocol 2) in a row — a magic
# number, the format version, the writer's type sizes, the object, and the keys of the tensor
# storages (none here), as ``torch.save(obj, f, _use_new_zipfile_serialization=False)`` writes
# them for objects without tensors; ``torch.load(..., weights_only=True)`` reads it. Writing it
# ourselves keeps torch (gigabytes) out of the server's dependencies; the tests compare every
# part with torch's own output and load the export with torchvision.
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001
_TORCH_SYS_INFO = {
    "protocol_version": _TORCH_PROTOCOL,
    "little_endian": sys.byteorder == "little",
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


def torch_meta_bytes(
    wnid_to_classes: Mapping[str, tuple[str, ...]], val_wnids: Sequence[str]
) -> bytes:
    """``meta.bin`` as ``torchvision.datasets.ImageNet`` reads it: ``(wnid → class names, the
    wnid of every val image in the order of the sorted val file names)``, which its devkit
    parser would otherwise build from ``ILSVRC2012_devkit_t12.tar.gz``."""
    obj = (
        {check_wnid(w): tuple(str(n) for n in names) for w, names in wnid_to_classes.items()},
        [check_wnid(w) for w in val_wnids],
    )
    buffer = io.BytesIO()
    for part in (_TORCH_MAGIC, _TORCH_PROTOCOL, _TORCH_SYS_INFO, obj, []):
        pickle.dump(part, buffer, protocol=2)
    return buffer.getvalue()


def _class_names(synsets: Sequence[SynsetInfo]) -> dict[str, tuple[str, ...]]:
    """wnid → its lemmas as ImageNet's class names (spaces, not underscores; the wnid if none)."""
    names = {}
    for synset in synsets:
        lemmas = tuple(
            _clean_field(lemma).replace("_", " ") for lemma in synset.lemmas if str(lemma).strip()
        )
        names[check_wnid(synset.wnid)] = lemmas or (synset.wnid,)
    return names


def export_imagenet(
    records: Iterable[ExportRecord],
    *,
    out_dir: Path,
    synsets: Sequence[SynsetInfo],
    edges: Iterable[tuple[str, str]],
    val_fraction: float = 0.0,
    seed: int | str = 0,
    prune_stale: bool = True,
    on_progress: Callable[[ExportProgress], None] | None = None,
    val_per_class: int = 0,
    link: bool = True,
) -> ExportSummary:
    """Write ``records`` in the ImageNet layout under ``out_dir``.

    RGB and greyscale JPEGs given as local paths are never decoded: hard-linked into place when
    ``link`` and the folder shares the media's file system (copy-on-write or a kernel-side copy
    otherwise); other sources are read and converted to JPEG when needed.

    Layout: ``train/<wnid>/<wnid>_<key>.JPEG`` (and ``val/<wnid>/…``), ``meta.bin`` (so
    ``torchvision.datasets.ImageNet(out_dir, split='train' or 'val')`` loads it), ``words.txt``,
    ``wordnet.is_a.txt``, ``synset_mapping.txt`` (class-index order = sorted wnids, as
    ImageFolder sorts class folders), ``urls.txt``, ``licenses.tsv`` and ``metadata.jsonl``.
    The val split takes ``val_fraction`` of each class or ``val_per_class`` images of it.

    Preconditions: ``records`` are grouped by wnid (order them by wnid, then key); ``synsets``
    names every exported class plus any ancestor ``words.txt`` should name; ``edges`` are
    ``(parent, child)`` wnid pairs, e.g. all of WordNet's — only those above exported classes are
    kept. With ``prune_stale`` a rerun deletes images the previous run wrote that this run did not
    (and the folders of classes no longer exported), so ImageFolder sees exactly this export.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    val_count(2, val_fraction, val_per_class)  # validate before touching anything
    lemmas = _synset_lemmas(synsets)
    summary = ExportSummary(out_dir=out_dir)
    exported: list[str] = []
    val_names: list[str] = []
    with (
        _export_lock(out_dir),
        _atomic_file(out_dir / "metadata.jsonl") as metadata,
        _atomic_file(out_dir / "urls.txt") as urls,
        _atomic_file(out_dir / "licenses.tsv") as licenses,
    ):
        licenses.write("path\tlicense\tattribution\turl\n")
        for wnid, batch in _iter_classes(records, lemmas):
            written: dict[str, set[str]] = {split: set() for split in SPLITS}
            made: set[Path] = set()
            for planned in _plan_class(wnid, batch, val_fraction, seed, val_per_class):
                if planned.split == "val" and not written["train"]:
                    # Every train image failed: ImageFolder(train) would lose the class.
                    planned = _PlannedImage(planned.record, planned.key, "train")
                name = f"{planned.image_id}.JPEG"
                folder = out_dir / planned.split / wnid
                if folder not in made:
                    folder.mkdir(parents=True, exist_ok=True)
                    made.add(folder)
                try:  # storage errors (OSError from reading the source) abort the export
                    changed, digest, converted = _export_image(
                        planned.record, folder / name, link=link
                    )
                except _Unreadable as error:
                    summary.skip(wnid, planned.key, error.__cause__ or error)
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only if nothing else is in it: no empty class
                        made.discard(folder)
                    continue
                if changed:
                    summary.written += 1
                else:
                    summary.unchanged += 1
                summary.converted += converted is not None
                written[planned.split].add(name)
                relative = f"{planned.split}/{wnid}/{name}"
                entry = _metadata(planned, relative, digest, converted)
                metadata.write(json.dumps(entry, ensure_ascii=False, allow_nan=False) + "\n")
                record = planned.record
                urls.write(f"{planned.image_id}\t{_clean_field(record.url)}\n")
                licenses.write(
                    "\t".join(
                        _clean_field(v)
                        for v in (relative, record.license, record.attribution, record.url)
                    )
                    + "\n"
                )
            if prune_stale:
                for split in SPLITS:
                    folder = out_dir / split / wnid
                    summary.removed_stale += _prune_class_dir(folder, wnid, written[split])
            summary.train_images += len(written["train"])
            summary.val_images += len(written["val"])
            val_names.extend(written["val"])
            if written["train"]:
                exported.append(wnid)
                if (val_fraction or val_per_class) and not written["val"]:
                    summary.classes_without_val.append(wnid)
            if on_progress is not None:
                on_progress(
                    ExportProgress(wnid, len(exported), summary.train_images + summary.val_images)
                )
        if prune_stale:
            summary.removed_stale += _prune_other_classes(out_dir, set(exported))
        summary.classes = sorted(exported)
        _write_synset_files(out_dir, summary.classes, lemmas, edges)
        # Val file names start with their wnid, so sorting the names sorts them as torchvision
        # lists val/ (class folders in order, files in order within each).
        names = _class_names(synsets)
        with _atomic_file(out_dir / META_NAME, "wb") as meta:
            meta.write(
                torch_meta_bytes(
                    {wnid: names[wnid] for wnid in summary.classes},
                    [name.split("_", 1)[0] for name in sorted(val_names)],
                )
            )
    return summary


def _prune_other_classes(out_dir: Path, exported: set[str]) -> int:
    """Empty the class folders a previous run wrote for classes this run no longer exports: left
    behind, ImageFolder would count them as classes and shift every class index."""
    removed = 0
    for split in SPLITS:
        root = out_dir / split
        if not root.is_dir():
            continue
        for entry in os.scandir(root):
            stale = WNID.fullmatch(entry.name) and entry.name not in exported
            if stale and entry.is_dir(follow_symlinks=False):
                removed += _prune_class_dir(Path(entry.path), entry.name, set())
        with contextlib.suppress(OSError):
            root.rmdir()
    return removed


def _write_synset_files(
    out_dir: Path,
    classes: list[str],
    lemmas: Mapping[str, str],
    edges: Iterable[tuple[str, str]],
) -> None:
    with _atomic_file(out_dir / "synset_mapping.txt") as mapping:
        for wnid in classes:
            mapping.write(f"{wnid} {lemmas[wnid]}\n")
    with _atomic_file(out_dir / "words.txt") as words:
        for wnid in sorted(lemmas):
            words.write(f"{wnid}\t{lemmas[wnid]}\n")
    with _atomic_file(out_dir / "wordnet.is_a.txt") as is_a:
        for parent, child in _ancestor_edges(edges, classes):
            is_a.write(f"{parent} {child}\n")


class _ShardWriter:
    """Consecutive ``shard-NNNNNN.tar`` files of one split, each built under a temporary name.

    Tar members carry fixed owners and times, so the same samples give byte-identical shards and a
    rerun leaves them untouched."""

    def __init__(self, folder: Path, shard_size: int) -> None:
        self.folder = folder
        self.shard_size = shard_size
        self.shards = 0
        self.written = 0
        self.unchanged = 0
        self._tar: tarfile.TarFile | None = None
        self._temp: str | None = None
        self._in_shard = 0

    def add(self, sample_key: str, files: Mapping[str, bytes]) -> None:
        if self._tar is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, self._temp = tempfile.mkstemp(dir=self.folder, prefix=".shard.", suffix=TEMP_SUFFIX)
            os.close(fd)
            self._tar = tarfile.open(self._temp, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        for extension, data in files.items():
            info = tarfile.TarInfo(f"{sample_key}.{extension}")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            self._tar.addfile(info, io.BytesIO(data))
        self._in_shard += 1
        if self._in_shard == self.shard_size:
            self.close()

    def close(self) -> None:
        if self._tar is None or self._temp is None:
            return
        self._tar.close()
        target = self.folder / f"shard-{self.shards:06d}.tar"
        if target.is_file() and filecmp.cmp(self._temp, target, shallow=False):
            os.unlink(self._temp)
            self.unchanged += 1
        else:
            os.chmod(self._temp, 0o644)
            os.replace(self._temp, target)
            self.written += 1
        self.shards += 1
        self._tar, self._temp, self._in_shard = None, None, 0

    def abort(self) -> None:
        if self._tar is not None:
            self._tar.close()
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)

    def prune(self) -> int:
        """Remove shards past this run's last one and leftover temporary files."""
        if not self.folder.is_dir():
            return 0
        removed = 0
        for entry in os.scandir(self.folder):
            match = SHARD_NAME.fullmatch(entry.name)
            stale_shard = match is not None and int(match.group(1)) >= self.shards
            stale_temp = entry.name.startswith(".shard.") and entry.name.endswith(TEMP_SUFFIX)
            if (stale_shard or stale_temp) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        with contextlib.suppress(OSError):
            self.folder.rmdir()
        return removed


def export_webdataset(
    records: Iterable[ExportRecord],
    *,
    out_dir: Path,
    classes: Sequence[SynsetInfo],
    val_fraction: float = 0.0,
    seed: int | str = 0,
    shard_size: int = 1000,
    on_progress: Callable[[ExportProgress], None] | None = None,
    val_per_class: int = 0,
) -> ExportSummary:
    """Write ``records`` as WebDataset shards: ``train/shard-000000.tar`` … (and ``val/…``), each
    sample ``<wnid>_<key>.jpg``, ``.cls`` (class index, ASCII) and ``.json`` (its metadata), plus
    ``synset_mapping.txt`` giving the class indices (sorted wnids of ``classes``).

    The train/val split is the same as :func:`export_imagenet`'s for the same seed. Samples follow
    the records' order (grouped by wnid), so train with shard shuffling and a shuffle buffer.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be ≥ 1, got {shard_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    val_count(2, val_fraction, val_per_class)
    lemmas = _synset_lemmas(classes)
    class_index = {wnid: i for i, wnid in enumerate(sorted(lemmas))}
    summary = ExportSummary(out_dir=out_dir, classes=sorted(lemmas))
    writers = {split: _ShardWriter(out_dir / split, shard_size) for split in SPLITS}
    done_classes = 0
    with _export_lock(out_dir):
        try:
            for wnid, batch in _iter_classes(records, class_index):
                n_train = 0
                for planned in _plan_class(wnid, batch, val_fraction, seed, val_per_class):
                    data = _read_source(planned.record.image)
                    try:
                        jpeg, converted = as_jpeg(data)
                    except UNREADABLE_IMAGE_ERRORS as error:
                        summary.skip(wnid, planned.key, error)
                        continue
                    if planned.split == "val" and not n_train:
                        planned = _PlannedImage(planned.record, planned.key, "train")
                    n_train += planned.split == "train"
                    summary.converted += converted is not None
                    writer = writers[planned.split]
                    path = f"{planned.split}/shard-{writer.shards:06d}.tar#{planned.image_id}"
                    entry = _metadata(planned, path, hashlib.sha256(jpeg).hexdigest(), converted)
                    entry["class_index"] = class_index[wnid]
                    writer.add(
                        planned.image_id,
                        {
                            "jpg": jpeg,
                            "cls": str(class_index[wnid]).encode(),
                            "json": json.dumps(entry, sort_keys=True, allow_nan=False).encode(),
                        },
                    )
                    if planned.split == "train":
                        summary.train_images += 1
                    else:
                        summary.val_images += 1
                done_classes += 1
                if on_progress is not None:
                    on_progress(
                        ExportProgress(
                            wnid, done_classes, summary.train_images + summary.val_images
                        )
                    )
            for writer in writers.values():
                writer.close()
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        for split, writer in writers.items():
            summary.removed_stale += writer.prune()
            summary.written += writer.written
            summary.unchanged += writer.unchanged
            if writer.shards:
                summary.shards[split] = writer.shards
    with _atomic_file(out_dir / "synset_mapping.txt") as mapping:
        for wnid in summary.classes:
            mapping.write(f"{wnid} {lemmas[wnid]}\n")
    return summary
