"""What every benchmark shares: the machine's facts, scratch PostgreSQL databases, interleaved
A/B repetitions with min/median/max and pair-by-pair ratios, and warnings when the figures were
taken on a busy machine or with a starved client.

Import from a benchmark as ``from _bench import ...`` (scripts run from any directory: each
benchmark puts its own folder and the repository root on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
SHARED_DATA = ROOT.parent / "shared" / "data"
# Settings refuse short keys when DEBUG is off; benchmarks run with DEBUG off, as production does.
SECRET_KEY = os.environ.get("SECRET_KEY") or "benchmark-only-" + "0123456789abcdef" * 3
SAMPLES = Path(os.environ.get("BENCH_SAMPLES", SHARED_DATA / "imagenet-samples"))


# --- the machine ----------------------------------------------------------------------------


def storage_type(path: Path) -> str:
    """File system type and backing device of the mount holding ``path`` (e.g. "ext4 on
    /dev/vda", "tmpfs"), read from /proc/self/mounts: tmpfs hides what a real disk costs."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    best = ("", "unknown", "?")
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    for line in mounts:
        device, mount_point, fstype, *_ = line.split()
        mount_point = mount_point.replace("\\040", " ")
        if (str(path) + "/").startswith(mount_point.rstrip("/") + "/") and len(mount_point) > len(
            best[0]
        ):
            best = (mount_point, fstype, device)
    _, fstype, device = best
    return fstype if fstype in ("tmpfs", "ramfs", "overlay") else f"{fstype} on {device}"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def load_average() -> float:
    with contextlib.suppress(OSError):
        return os.getloadavg()[0]
    return float("nan")


def machine_line(media: Path | None = None) -> str:
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    parts = [f"{cores} cores ({usable} usable by this process)", cpu_model(),
             f"load average {load_average():.2f}"]  # fmt: skip
    if media is not None:
        parts.append(f"media on {storage_type(media)}")
    return "machine: " + ", ".join(parts)


def header(title: str, media: Path | None = None) -> None:
    print(f"== {title}")
    print(machine_line(media))
    sys.stdout.flush()


def busy_warning(before: float, after: float) -> str | None:
    """A warning when the one-minute load average says other work shared the cores."""
    cores = os.cpu_count() or 1
    if max(before, after) > 0.75 * cores:
        return (
            f"WARNING: machine busy (load average {before:.2f} before, {after:.2f} after, "
            f"{cores} cores): other processes shared the CPU; figures are pessimistic and noisy"
        )
    return None


class LagMonitor:
    """Measures how late a 10 ms timer wakes up in this process while a benchmark runs: a late
    wake-up means the benchmark's own client (downloader, load generator) was not scheduled."""

    def __init__(self, tick: float = 0.010) -> None:
        self.tick = tick
        self.worst = 0.0
        self.late = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            time.sleep(self.tick)
            lag = time.perf_counter() - started - self.tick
            self.worst = max(self.worst, lag)
            self.late += lag > 0.1

    def __enter__(self) -> LagMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def warning(self) -> str | None:
        if self.worst > 0.1:
            return (
                f"WARNING: the client was disturbed: its timer woke up to "
                f"{self.worst * 1e3:.0f} ms late ({self.late} wake-ups over 100 ms late)"
            )
        return None


# --- repetitions ----------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    unit: str
    values: list[float] = field(default_factory=list)
    higher_is_better: bool = True

    def summary(self) -> str:
        if not self.values:
            return f"{self.label}: no runs"
        v = self.values
        return (
            f"{self.label:<48} min {min(v):10.3f}  median {statistics.median(v):10.3f}  "
            f"max {max(v):10.3f} {self.unit}  (n={len(v)})"
        )


def interleaved(
    variants: Sequence[tuple[str, Callable[[int], float]]],
    *,
    repeats: int,
    unit: str,
    higher_is_better: bool = True,
) -> list[Series]:
    """Run each variant ``repeats`` times, alternating the order every repetition (A B, B A,
    A B …) so drift and warm caches do not favour either side; each call gets its repetition
    number and returns one figure."""
    series = [Series(label, unit, higher_is_better=higher_is_better) for label, _ in variants]
    for repetition in range(repeats):
        order = list(range(len(variants)))
        if repetition % 2:
            order.reverse()
        for i in order:
            value = variants[i][1](repetition)
            series[i].values.append(value)
            print(f"  run {repetition + 1}/{repeats} {variants[i][0]}: {value:.3f} {unit}")
            sys.stdout.flush()
    return series


def report(series: Sequence[Series], *, target: str | None = None) -> list[float]:
    """Print min/median/max per variant and the ratio of the last one to the first, pair by
    pair (same repetition). Returns the ratios."""
    for s in series:
        print(s.summary())
    base, measured = series[0], series[-1]
    ratios = [m / b for m, b in zip(measured.values, base.values, strict=False) if b]
    if ratios:
        print(
            f"ratio {measured.label} / {base.label}, pair by pair: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + f"  (median {statistics.median(ratios):.2f})"
            + (f"  target {target}" if target else "")
        )
    return ratios


@contextlib.contextmanager
def watched() -> Iterator[LagMonitor]:
    """Load average before/after and the lag monitor around a measured block; prints warnings."""
    before = load_average()
    with LagMonitor() as monitor:
        yield monitor
    after = load_average()
    print(f"load average: {before:.2f} before, {after:.2f} after")
    for warning in (busy_warning(before, after), monitor.warning()):
        if warning:
            print(warning)


# --- bulk loads -----------------------------------------------------------------------------

LOAD_TABLES = ("labeling_item", "labeling_vote", "labeling_assignmentitem", "labeling_assignment")


@contextlib.contextmanager
def bulk_load(
    cursor, tables: Sequence[str] = LOAD_TABLES, *, unchecked_foreign_keys: bool = False
) -> Iterator[str]:
    """Generated rows go in as a bulk load does: no synchronous commit, the tables' secondary
    indexes dropped for the load and rebuilt when the block ends, the image → candidate key
    dropped for good (the benchmarks generate no candidates). With ``unchecked_foreign_keys``
    the per-row foreign-key triggers are off where the role may (a superuser, as the scratch
    database's owner usually is; otherwise the checks stay on) — for rows consistent by
    construction. Yields "foreign keys checked" or "foreign keys not checked"."""
    from django.db import DatabaseError

    cursor.execute("SET synchronous_commit = off")
    cursor.execute("SET maintenance_work_mem = '256MB'")
    checks = "foreign keys checked"
    if unchecked_foreign_keys:
        with contextlib.suppress(DatabaseError):
            cursor.execute("SET session_replication_role = replica")
            checks = "foreign keys not checked"
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'labeling_item'::regclass "
        "AND contype = 'f' AND pg_get_constraintdef(oid) LIKE '%%candidates_candidate%%'"
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'ALTER TABLE labeling_item DROP CONSTRAINT "{name}"')
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname "
        "NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield checks
    for _, definition in indexes:
        cursor.execute(definition)
    if unchecked_foreign_keys:
        cursor.execute("RESET session_replication_role")


# --- scratch databases ----------------------------------------------------------------------


def _psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-qX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, capture_output=True)  # fmt: skip


def database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def scratch_database(label: str, *, migrate: bool = True) -> Iterator[str]:
    """Create ``bench_<label>_<pid>`` (migrated), yield its URL, drop it afterwards (also when
    the run is stopped with Ctrl-C or SIGTERM)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    name = f"bench_{label}_{os.getpid()}"
    _psql(f'DROP DATABASE IF EXISTS "{name}"')
    _psql(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        if migrate:
            env = {**os.environ, "DATABASE_URL": url,
                   "SECRET_KEY": SECRET_KEY}  # fmt: skip
            subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"],
                           env=env, check=True)  # fmt: skip
        yield url
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_setup(url: str, **extra_env: str) -> None:
    """Point this process's Django at ``url`` and set it up (call once, before model imports)."""
    os.environ.update(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET_KEY,
            # Jobs run in this process; their queued copies go nowhere.
            "CELERY_BROKER_URL": "memory://",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **extra_env,
        }
    )
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    # The work measured here runs in a Celery worker process in production, which starts with
    # its startup heap frozen out of the cyclic collector (config.startup): start the same way.
    from config.startup import warm_up_and_freeze

    warm_up_and_freeze()


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- CPU time: what a run cost, whatever else shared the cores ------------------------------


def backend_cpu_seconds() -> float:
    """CPU seconds used so far by this process's PostgreSQL backend (read from /proc: the
    database runs on this machine), or NaN when it cannot be read."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


@dataclass
class Timed:
    wall: float = 0.0
    cpu: float = 0.0  # this process, all threads
    db_cpu: float = 0.0  # its PostgreSQL backend

    def line(self) -> str:
        return (f"{self.wall:.2f} s wall, CPU {self.cpu:.2f} s here + {self.db_cpu:.2f} s in "
                f"PostgreSQL")  # fmt: skip


@contextlib.contextmanager
def timed(with_db: bool = True) -> Iterator[Timed]:
    """Wall time and CPU time of a block. Under contention wall time stretches while CPU time
    stays close to what the work costs, so both are printed."""
    result = Timed()
    db_before = backend_cpu_seconds() if with_db else 0.0
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    yield result
    result.wall = time.perf_counter() - wall_before
    result.cpu = time.process_time() - cpu_before
    result.db_cpu = (backend_cpu_seconds() - db_before) if with_db else 0.0
