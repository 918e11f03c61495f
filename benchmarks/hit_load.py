"""Open-loop load on the worker API with the grid page's traffic — submit, then prefetch —
against gunicorn + PostgreSQL with a Celery worker recomputing consensus alongside; finds the
knee: the highest rate with p99 < 200 ms and no errors (issues 16 and 18).

Usage: pip install -e '.[bench]'  (httpx)
       .venv/bin/python benchmarks/hit_load.py [--images 100k] [--start 5] [--factor 1.5]
           [--max-rate 200] [--step-duration 20] [--think 10] [--pin auto|yes|no]
           [--rates 20,40] [--gunicorn-workers 4] [--threads 4] [--stats]

A scratch database is migrated and filled in SQL (``scheduler_scale.generate``: synsets of
1,008 or 10,008 images, 20 gold per synset, a third decided on 3 votes, past votes by the
annotators), HITs are 24 images + 2 gold. Annotators' sessions are created with Django's
SessionStore. gunicorn serves on 127.0.0.1 and a Celery worker (one process, queues consensus and
default) runs the recomputes the submissions enqueue.

Each annotator behaves like the grid page: with HIT N on screen and N+1 prefetched, they look
for ``--think`` seconds (exponentially distributed), submit N, then — as the page does once the
submission is saved — prefetch N+2 (``exclude=[N+1]``). The submission's answer carries the
worker's totals the page shows; ``--stats`` adds the ``GET /api/me/stats/`` the page sent after
each HIT before it did, as a baseline (session, user and one statement). The load is open
loop: submissions are sent on a fixed schedule at the stage's rate, whatever the server's
latency, by whichever annotator has finished looking; the prefetch (and stats) requests follow
each saved submission. Latency of a submission is measured from its scheduled time (queueing
in the client counts), the others from their send. Before each stage enough annotators are
brought to the "HIT on screen + one prefetched" state (rate × think, not measured).

Stages start below the knee and grow by ``--factor`` until two in a row fail (p99 of next-HIT
or submit ≥ 200 ms, or any error); when the first stage already fails they step down by the same
factor instead, until one passes (or the rate falls below 0.5/s); ``--rates`` gives fixed
stages instead. With ``--pin`` the
client runs on the last core and gunicorn and Celery on the others (``taskset``); PostgreSQL is
a system service and is not pinned. The client's own lateness behind its schedule is reported
per stage: a late client means the offered rate was lower than the label says.
Traffic goes only to 127.0.0.1 and every stage is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import ROOT, busy_warning, header, load_average, scratch_database  # noqa: E402

PORT = 8765
P99_TARGET_MS = 200.0
MIN_RATE = 0.5  # submissions/s: the lowest stage the knee search steps down to
SIZES = {
    "tiny": (2, 240),  # smoke tests
    "10k": (10, 1008),
    "100k": (10, 10008),
    "1M": (100, 10008),
    "10M": (1000, 10008),
}


def seed(synsets: int, per_synset: int, workers: int) -> tuple[str, list[tuple[str, str]]]:
    """Project, images and annotators (SQL); returns the project slug and (session key, CSRF
    secret) per annotator."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from scheduler_scale import generate

    from labeling.roles import USER_BACKEND

    data = generate(synsets, per_synset, workers=workers)
    sessions = []
    for user in User.objects.filter(pk__in=data["workers"]).order_by("pk"):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = USER_BACKEND
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        # A 32-character CSRF secret sent as cookie and header (Django accepts the unmasked
        # secret in X-CSRFToken).
        sessions.append((store.session_key, secrets.token_hex(16)))
    return data["project"].slug, sessions


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


@dataclass
class Stream:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0  # next-HIT 204, or no annotator ready to submit at a scheduled time
    statuses: dict[int, int] = field(default_factory=dict)

    def observe(self, response, started: float) -> None:
        code = response.status_code
        self.statuses[code] = self.statuses.get(code, 0) + 1
        if code >= 300:
            self.errors += 1
        else:
            self.empty += code == 204
            self.latencies.append((time.perf_counter() - started) * 1000)


@dataclass
class Annotator:
    session: tuple[str, str]
    on_screen: dict | None = None
    prefetched: dict | None = None
    ready_at: float = 0.0


class Page:
    """Annotators driven the way the grid page drives the API."""

    def __init__(self, client, slug: str, sessions: list[tuple[str, str]], think: float, stats):
        self.client = client
        self.next_url = f"/api/projects/{slug}/hits/next/"
        self.think = think
        self.with_stats = stats
        self.idle: deque[Annotator] = deque(Annotator(s) for s in sessions)
        # Annotators with a HIT on screen and one prefetched, by the time they finish looking.
        self.looking: list[Annotator] = []
        self.rng = random.Random(7)

    @staticmethod
    def headers(annotator: Annotator) -> dict:
        key, csrf = annotator.session
        return {"Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf}

    def _look(self, annotator: Annotator, now: float) -> None:
        annotator.ready_at = now + self.rng.expovariate(1 / self.think)
        self.looking.append(annotator)

    async def _next(self, annotator: Annotator, exclude: list[int], stream: Stream | None):
        started = time.perf_counter()
        response = await self.client.post(
            self.next_url, json={"exclude": exclude}, headers=self.headers(annotator)
        )
        if stream is not None:
            stream.observe(response, started)
        return response.json() if response.status_code == 200 else None

    async def arrive(self) -> bool:
        """Bring one idle annotator to "HIT on screen + one prefetched" (not measured)."""
        if not self.idle:
            return False
        annotator = self.idle.popleft()
        annotator.on_screen = await self._next(annotator, [], None)
        if annotator.on_screen is None:
            self.idle.append(annotator)
            return False
        annotator.prefetched = await self._next(annotator, [annotator.on_screen["id"]], None)
        # Spread over one think time, as annotators who arrived at different moments are.
        annotator.ready_at = time.perf_counter() + self.rng.uniform(0, self.think)
        self.looking.append(annotator)
        return True

    def ready(self, now: float) -> Annotator | None:
        best = None
        for index, annotator in enumerate(self.looking):
            if annotator.ready_at <= now and (best is None or annotator.ready_at < best[1]):
                best = (index, annotator.ready_at)
        if best is None:
            return None
        return self.looking.pop(best[0])

    async def cycle(self, annotator: Annotator, scheduled: float, streams: dict) -> None:
        """Submit the HIT on screen (scheduled), then stats and the prefetch, as the page does."""
        hit = annotator.on_screen
        ids = [item["id"] for item in hit["items"]]
        cut = self.rng.randrange(len(ids) + 1)
        body = {"selected": ids[:cut], "unselected": ids[cut:],
                "duration_ms": int(self.think * 1000)}  # fmt: skip
        try:
            response = await self.client.post(
                hit["submit_url"], json=body, headers=self.headers(annotator)
            )
            streams["submit"].observe(response, scheduled)
            if response.status_code != 200:
                # The page releases a refused HIT and goes on with the prefetched one.
                with contextlib.suppress(Exception):
                    await self.client.post(hit["release_url"], json={},
                                           headers=self.headers(annotator))  # fmt: skip
            if self.with_stats:
                started = time.perf_counter()
                stats = await self.client.get("/api/me/stats/", headers=self.headers(annotator))
                streams["stats"].observe(stats, started)
            annotator.on_screen, annotator.prefetched = annotator.prefetched, None
            if annotator.on_screen is not None:
                annotator.prefetched = await self._next(
                    annotator, [annotator.on_screen["id"]], streams["next"]
                )
        except Exception:  # noqa: BLE001 - a transport error is an error of the stage
            streams["submit"].errors += 1
        if annotator.on_screen is None:
            annotator.prefetched = None
            self.idle.append(annotator)
        else:
            self._look(annotator, time.perf_counter())

    cpu_spent: dict[str, float] | None = None

    async def stage(
        self, rate: float, seconds: float, cpu: ServerCpu | None = None
    ) -> tuple[dict, list[float]]:
        """Submissions at ``rate`` per second for ``seconds``; returns the streams and the
        client's lateness behind schedule of every send (ms)."""
        streams = {"submit": Stream(), "next": Stream(), "stats": Stream()}
        wanted = int(rate * self.think * 1.3) + 10
        missing = max(0, wanted - len(self.looking))

        async def arrivals(n: int) -> None:
            for _ in range(n):
                if not await self.arrive():
                    return

        workers = 16
        await asyncio.gather(*(arrivals(missing // workers + 1) for _ in range(workers)))
        tasks: list[asyncio.Task] = []
        lags: list[float] = []
        cpu_before = cpu.snapshot() if cpu else {}
        start = time.perf_counter() + 0.2
        for i in range(int(rate * seconds)):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            lags.append((now - at) * 1000)
            annotator = self.ready(now)
            if annotator is None:
                streams["submit"].empty += 1
                continue
            tasks.append(asyncio.create_task(self.cycle(annotator, at, streams)))
        # Bounded drain: a cycle still pending after 30 s counts as an error.
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=30)
            for task in pending:
                task.cancel()
            streams["submit"].errors += len(pending)
        self.cpu_spent = cpu.spent(cpu_before, cpu.snapshot()) if cpu else None
        return streams, lags


class ServerCpu:
    """CPU seconds spent by the server side — gunicorn's and Celery's process trees and this
    database's PostgreSQL backends — read from /proc. On a shared machine the wall-clock
    latency says how busy the machine was; CPU per HIT cycle says what the server costs, and
    so roughly what dedicated cores would serve (cores / CPU per cycle)."""

    def __init__(self, roots: list[int], database_url: str) -> None:
        self.roots = roots
        self.database_url = database_url
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _tree(pid: int) -> list[int]:
        pids = [pid]
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError):
                    for child in (task / "children").read_text().split():
                        pids += ServerCpu._tree(int(child))
        return pids

    def _backends(self) -> list[int]:
        import psycopg2

        with (
            contextlib.closing(psycopg2.connect(self.database_url)) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            return [row[0] for row in cursor.fetchall()]

    def snapshot(self) -> dict[tuple[str, int], float]:
        """CPU seconds by (gunicorn | celery | postgres, pid)."""
        groups = [("gunicorn", self._tree(self.roots[0]))]
        groups += [("celery", self._tree(root)) for root in self.roots[1:]]
        groups.append(("postgres", self._backends()))
        seconds = {}
        for group, pids in groups:
            for pid in set(pids):
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    seconds[group, pid] = (int(fields[11]) + int(fields[12])) / self.tick
        return seconds

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds spent between two snapshots, by group."""
        out = {"gunicorn": 0.0, "celery": 0.0, "postgres": 0.0}
        for key, cpu in after.items():
            out[key[0]] += max(0.0, cpu - before.get(key, 0.0))
        return out


async def run_load(args, slug: str, sessions, cpu: ServerCpu | None = None) -> list[dict]:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    rows = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}", limits=limits, timeout=httpx.Timeout(30.0)
    ) as client:
        page = Page(client, slug, sessions, args.think, args.stats)
        if args.rates:
            plan = [float(r) for r in args.rates.split(",") if r]
        else:
            plan, rate = [], args.start
            while rate <= args.max_rate:
                plan.append(round(rate, 1))
                rate *= args.factor
        failures_in_a_row = 0
        # Below the first rate when it already fails: the knee is lower than --start, so the
        # search steps down by the same factor (to MIN_RATE) until a stage passes.
        plan = iter(plan)
        stepping_down = False
        while (rate := next(plan, None)) is not None:
            before = load_average()
            streams, lags = await page.stage(rate, args.step_duration, cpu)
            row = {"rate": rate, "seconds": args.step_duration, "load": (before, load_average()),
                   "lag_p99": _pct(lags, 0.99), "lag_max": max(lags, default=0.0)}  # fmt: skip
            cycles = len(streams["submit"].latencies)
            spent = page.cpu_spent or {}
            row["cpu_ms"] = (
                sum(spent.values()) * 1000 / cycles if cycles and cpu else float("nan")
            )
            row["cpu_split"] = {k: v * 1000 / cycles for k, v in spent.items()} if cycles else {}
            for name, stream in streams.items():
                statuses = dict(sorted(stream.statuses.items()))
                row[name] = (_pct(stream.latencies, 0.5), _pct(stream.latencies, 0.99),
                             stream.errors, stream.empty, statuses)  # fmt: skip
            row["ok"] = (
                row["next"][1] < P99_TARGET_MS and row["submit"][1] < P99_TARGET_MS
                and not any(row[name][2] for name in streams)
            )  # fmt: skip
            rows.append(row)
            print(
                f"  {rate:>6.1f}/s × {args.step_duration:.0f} s: submit p50 {row['submit'][0]:.0f}"
                f" p99 {row['submit'][1]:.0f} ms err {row['submit'][2]} "
                f"{row['submit'][4]}, not ready {row['submit'][3]}; next p50 "
                f"{row['next'][0]:.0f} p99 {row['next'][1]:.0f} ms err {row['next'][2]} "
                f"{row['next'][4]}; "
                + (f"stats p50 {row['stats'][0]:.0f} p99 {row['stats'][1]:.0f} ms "
                   f"err {row['stats'][2]}; " if args.stats else "")
                + f"client late p99 {row['lag_p99']:.0f} max "
                f"{row['lag_max']:.0f} ms; load {row['load'][0]:.1f}→{row['load'][1]:.1f}; "
                f"server CPU {row['cpu_ms']:.0f} ms per HIT cycle ("
                + ", ".join(f"{k} {v:.0f}" for k, v in row["cpu_split"].items()) + ")",
                flush=True,
            )
            failures_in_a_row = 0 if row["ok"] else failures_in_a_row + 1
            if not args.rates and len(rows) == 1 and not row["ok"]:
                stepping_down = True
            if stepping_down:
                lower = round(rate / args.factor, 2)
                if row["ok"] or lower < MIN_RATE:
                    break
                plan = iter([lower])
            elif failures_in_a_row >= 2 and not args.rates:
                break
            await asyncio.sleep(2)
    return rows


def _pin_plan(pin: str) -> tuple[list[str], set[int] | None, str]:
    """(command prefix for the server processes, the client's cores, a sentence saying so)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    wanted = pin == "yes" or (pin == "auto" and len(cores) >= 4)
    if not wanted or len(cores) < 2 or not shutil.which("taskset"):
        why = "not asked" if pin == "no" else (
            f"only {len(cores)} cores (pin with --pin yes)" if len(cores) < 4 else "no taskset"
        )  # fmt: skip
        return [], None, f"client not pinned ({why}): it shares the cores with the server"
    client, server = {cores[-1]}, cores[:-1]
    prefix = ["taskset", "-c", ",".join(str(c) for c in server)]
    return prefix, client, (
        f"client pinned to core {cores[-1]}, gunicorn and Celery to {server} (taskset); "
        "PostgreSQL is not pinned"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="100k", choices=SIZES)
    parser.add_argument("--annotators", type=int, default=2000)
    parser.add_argument("--start", type=float, default=5, help="first rate, submissions/s")
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--max-rate", type=float, default=200)
    parser.add_argument("--rates", default="", help="fixed rates instead of the knee search")
    parser.add_argument("--step-duration", type=float, default=20)
    parser.add_argument("--think", type=float, default=10.0, help="mean seconds per HIT")
    parser.add_argument("--pin", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--stats", action="store_true",
                        help="also GET /api/me/stats/ after each submission (a baseline)")
    parser.add_argument("--no-worker", action="store_true", help="no Celery worker")
    args = parser.parse_args()
    header(f"worker API under the grid page's traffic (hit_load, {args.images} images)")

    prefix, client_cores, pin_note = _pin_plan(args.pin)
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    var_dir = tempfile.mkdtemp(prefix="hitload-")
    worker_log = Path(var_dir) / "celery.log"
    with scratch_database("hitload") as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SYNSETLAB_VAR_DIR": var_dir,
            "CELERY_BROKER_URL": broker,
            "LOG_LEVEL": "ERROR",
            # Plain HTTP on loopback: in production TLS ends at the proxy in front of gunicorn.
            "SECURE_SSL_REDIRECT": "0",
            "CONN_MAX_AGE": "60",
        }
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DEBUG",
                                                "ALLOWED_HOSTS", "CELERY_BROKER_URL",
                                                "SECURE_SSL_REDIRECT")})  # fmt: skip
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        slug, sessions = seed(*SIZES[args.images], args.annotators)
        from django.db import connections

        connections.close_all()
        subprocess.run(["redis-cli", "-u", broker, "FLUSHDB"], capture_output=True)
        processes: list[subprocess.Popen] = []
        try:
            processes.append(subprocess.Popen(
                [*prefix, str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
                 "--bind", f"127.0.0.1:{PORT}", "--workers", str(args.gunicorn_workers),
                 "--worker-class", "gthread", "--threads", str(args.threads),
                 "--keep-alive", "30", "--log-level", "warning"],
                cwd=ROOT, env=env,
            ))  # fmt: skip
            if not args.no_worker:
                processes.append(subprocess.Popen(
                    [*prefix, sys.executable, "-m", "celery", "-A", "config", "worker",
                     "-n", f"hitload-{os.getpid()}@%h", "-Q", "consensus,default",
                     "--concurrency", "1", "--loglevel", "INFO"],
                    cwd=ROOT, env=env, stdout=worker_log.open("ab"), stderr=subprocess.STDOUT,
                ))  # fmt: skip
            _wait_for_server(processes[0])
            if client_cores:
                os.sched_setaffinity(0, client_cores)
            print(
                f"gunicorn: {args.gunicorn_workers} workers × {args.threads} threads on "
                f"127.0.0.1:{PORT}; Celery worker: "
                f"{'none' if args.no_worker else '1 process, queues consensus and default'}; "
                f"{os.cpu_count()} CPUs shared with PostgreSQL; {pin_note}; think time "
                f"{args.think:.0f} s; HIT 24 + 2 gold; {len(sessions)} annotators",
                flush=True,
            )
            cpu = ServerCpu([p.pid for p in processes], url)
            rows = asyncio.run(run_load(args, slug, sessions, cpu))
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            subprocess.run(["redis-cli", "-u", broker, "FLUSHDB"], capture_output=True)
    _print_table(rows, args)
    if not args.no_worker:
        log = worker_log.read_text(errors="replace") if worker_log.exists() else ""
        print(
            f"Celery worker: {log.count('succeeded in')} tasks succeeded, "
            f"{log.count('raised unexpected')} failed, {log.count('DeadlockDetected')} "
            "deadlocks in its log"
        )
    shutil.rmtree(var_dir, ignore_errors=True)


def _wait_for_server(server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 180 s")


def _print_table(rows: list[dict], args) -> None:
    print()
    print("| submit/s | next p50 / p99 ms | submit p50 / p99 ms | stats p50 / p99 ms | errors "
          "(next, submit, stats) | client late p99 / max ms | server CPU ms per cycle | "
          "p99 < 200 ms, 0 err |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        # Without --stats the page's traffic has no stats request: nothing to show.
        stats = f"{r['stats'][0]:.0f} / {r['stats'][1]:.0f}" if args.stats else "—"
        print(
            f"| {r['rate']:.1f} | {r['next'][0]:.0f} / {r['next'][1]:.0f} | {r['submit'][0]:.0f} / "
            f"{r['submit'][1]:.0f} | {stats} | {r['next'][2]}, "
            f"{r['submit'][2]}, {r['stats'][2]} | {r['lag_p99']:.0f} / {r['lag_max']:.0f} | "
            f"{r['cpu_ms']:.0f} | {'yes' if r['ok'] else 'no'} |"
        )
    passing = [r["rate"] for r in rows if r["ok"]]
    print()
    print(
        f"knee (highest rate with p99 < {P99_TARGET_MS:.0f} ms and no errors): "
        + (f"{max(passing):.1f} submissions/s + as many next-HIT/s"
           + (" + as many stats/s" if args.stats else "") if passing else "none")
        + "; target 100 + 100 /s"
    )  # fmt: skip
    costs = sorted(r["cpu_ms"] for r in rows if r["cpu_ms"] == r["cpu_ms"])
    if costs:
        median = costs[len(costs) // 2]
        cores = os.cpu_count() or 1
        print(
            f"server CPU per HIT cycle (submit + next-HIT{' + stats' if args.stats else ''}; "
            "gunicorn + Celery + "
            f"PostgreSQL backends): median {median:.0f} ms, so {cores} dedicated cores would "
            f"serve about {cores * 1000 / median:.0f} cycles/s before CPU runs out (an upper "
            "bound: queueing makes p99 pass 200 ms earlier)"
        )
        for r in rows:
            split = ", ".join(f"{k} {v:.0f} ms" for k, v in r["cpu_split"].items())
            print(f"  at {r['rate']:.1f}/s: {split}")
    late = [r for r in rows if r["lag_p99"] > 20]
    if late:
        rates = ", ".join(f"{r['rate']:.1f}/s" for r in late)
        print(f"WARNING: the client fell behind its schedule (p99 > 20 ms) at {rates}: the "
              "offered rate was lower")  # fmt: skip
    loads = [x for r in rows for x in r["load"]]
    warning = busy_warning(min(loads, default=0), max(loads, default=0))
    if warning:
        print(warning)


if __name__ == "__main__":
    main()
