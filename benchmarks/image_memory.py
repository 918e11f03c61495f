"""Peak memory (RSS) of decoding small-on-disk, large-when-decoded images (issue 13 finding 4).

Each case runs in a fresh subprocess and reports its peak RSS (``ru_maxrss``), for the current
``candidates.images.process_image`` and, as the baseline, the version before the fix (read from
git at BASELINE_COMMIT). Cases: a 7000 × 7000 float TIFF, a 7000 × 7000 16-bit grey PNG, a
7000 × 7000 16-bit RGBA PNG, and eight 16-bit grey PNGs decoded by eight threads at once (as a
collection job's download pool does).

    .venv/bin/python benchmarks/image_memory.py

Figures are disturbed by whatever else runs on the machine; the idle-interpreter RSS is printed
for reference.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "c6ef573"  # candidates/images.py before the decoded-bytes limit and budget
SIDE = 7000


def png_16bit(width: int, height: int, *, color_type: int, value: int = 0x8000) -> bytes:
    channels = {0: 1, 6: 4}[color_type]
    row = b"\x00" + struct.pack(">H", value) * (width * channels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    deflate = zlib.compressobj(9)
    body = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def float_tiff() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("F", (SIDE, SIDE), 0.5).save(out, format="TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def child(module_path: str, files: list[str], threads: int) -> None:
    """Run in the subprocess: import the module under test, decode, print outcome and RSS."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("images_under_test", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    datas = [Path(f).read_bytes() for f in files]
    idle = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def one(data: bytes) -> str:
        try:
            module.process_image(data)
            return "stored"
        except module.ImageRejected as exc:
            return f"refused ({exc.reason})"
        except MemoryError:
            return "MemoryError"

    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(one, datas))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"outcomes": sorted(set(outcomes)), "peak_kb": peak, "idle_kb": idle}))


def run(module_path: str, files: list[str], threads: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", module_path, str(threads), *files],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        baseline = tmpdir / "images_baseline.py"
        baseline.write_text(
            subprocess.run(["git", "show", f"{BASELINE_COMMIT}:candidates/images.py"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout
        )  # fmt: skip
        current = ROOT / "candidates" / "images.py"
        cases = {
            "float TIFF 7000x7000": [("f.tif", float_tiff())],
            "16-bit grey PNG 7000x7000": [("g.png", png_16bit(SIDE, SIDE, color_type=0))],
            "16-bit RGBA PNG 7000x7000": [("a.png", png_16bit(SIDE, SIDE, color_type=6))],
            "8 x 16-bit grey PNG, 8 threads": [
                (f"g{n}.png", png_16bit(SIDE, SIDE, color_type=0, value=0x1000 + n))
                for n in range(8)
            ],
        }
        print(f"machine: {os.cpu_count()} CPUs; other work on it disturbs these figures")
        print(f"{'case':34} {'on disk':>9}  {'baseline peak RSS':>22}  {'now peak RSS':>22}")
        for name, files in cases.items():
            paths = []
            for filename, data in files:
                path = tmpdir / filename
                path.write_bytes(data)
                paths.append(str(path))
            size_kb = sum(Path(p).stat().st_size for p in paths) // 1024
            threads = len(paths)
            before = run(str(baseline), paths, threads)
            after = run(str(current), paths, threads)
            print(
                f"{name:34} {size_kb:>6} KB  "
                f"{before['peak_kb'] // 1024:>6} MB {'/'.join(before['outcomes']):>13}  "
                f"{after['peak_kb'] // 1024:>6} MB {'/'.join(after['outcomes']):>13}"
            )
        print(f"(an idle interpreter with Pillow and numpy: {after['idle_kb'] // 1024} MB)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[4:], int(sys.argv[3]))
    else:
        main()
