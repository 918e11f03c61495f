"""Open-loop load on the worker API: next-HIT and submit requests at fixed arrival rates against
gunicorn + PostgreSQL, with p50/p99 latency and errors per rate (issue 4's benchmark).

Usage: .venv/bin/python benchmarks/hit_load.py [--duration 20] [--step-duration 10]
           [--rates 150,200,300,400] [--gunicorn-workers 4] [--threads 4]
Creates and drops a scratch database ``synsetlab_hitload`` (PostgreSQL on 127.0.0.1), seeds a
project of synthetic synsets and candidates (no image files) and many annotator accounts whose
sessions are created directly with Django's SessionStore, starts gunicorn on 127.0.0.1 and then
offers the load: each stream fires on a fixed schedule whatever the server's latency (open
loop; latency is measured from the scheduled send time, so a slow server cannot hide its
queueing). Submissions need leased HITs: each next-HIT response goes into a pool of leased
HITs that the submission stream consumes, each HIT of 22 images + 2 gold = 24 images.
Traffic goes only to 127.0.0.1 and every stage is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DB_NAME = "synsetlab_hitload"
PORT = 8765
SYNSETS = 100
ITEMS_PER_SYNSET = 1500
GOLD_PER_SYNSET = 20
WORKERS = 3000
P99_TARGET_MS = 200.0


def psql(sql: str) -> None:
    subprocess.run(["psql", ADMIN_URL, "-qc", sql], check=True)


def seed(env: dict) -> list[tuple[str, str]]:
    """Project, items and annotators through the ORM; returns (session key, csrf) per worker."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import hashlib

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.contrib.sessions.backends.db import SessionStore

    from candidates.models import Candidate
    from labeling.models import Item
    from labeling.projects import project_add_candidates, project_create
    from labeling.roles import ANNOTATORS_GROUP
    from synsets.models import Synset, SynsetClosure

    started = time.perf_counter()
    synsets = Synset.objects.bulk_create(
        [Synset(wnid=f"n{95_000_000 + i:08d}", lemmas=[f"bench thing {i}"], gloss="benchmark",
                depth=8) for i in range(SYNSETS)]
    )  # fmt: skip
    SynsetClosure.objects.bulk_create(
        [SynsetClosure(ancestor=s, descendant=s, distance=0) for s in synsets]
    )
    rows = []
    for synset in synsets:
        for n in range(ITEMS_PER_SYNSET):
            url = f"https://img.example.org/{synset.wnid}/{n}.jpg"
            digest = hashlib.sha256(url.encode()).hexdigest()
            rows.append(
                Candidate(synset=synset, status=Candidate.Status.STORED, source="bench",
                          image_url=url, url_hash=digest, sha256=digest, format="JPEG",
                          width=400, height=350)
            )  # fmt: skip
    Candidate.objects.bulk_create(rows, batch_size=5000)
    project = project_create(
        name="HIT load", slug="hit-load", wnids=[s.wnid for s in synsets], include_subtrees=False,
        images_per_hit=22, gold_per_hit=2, seed_size=0, min_votes=3, gold_block_below=0.0,
        target_per_synset=100_000, open_to_all_annotators=True,
    )  # fmt: skip
    project_add_candidates(project=project, seed=1)
    gold_ids = []
    for synset in synsets:
        gold_ids += list(
            Item.objects.filter(project=project, synset=synset)
            .order_by("pk")
            .values_list("pk", flat=True)[:GOLD_PER_SYNSET]
        )
    Item.objects.filter(pk__in=gold_ids[::2]).update(
        is_gold=True, gold_label=True, state=Item.State.ACCEPTED, votes_needed=0
    )
    Item.objects.filter(pk__in=gold_ids[1::2]).update(
        is_gold=True, gold_label=False, state=Item.State.REJECTED, votes_needed=0
    )
    password = make_password(secrets.token_urlsafe(12))
    users = User.objects.bulk_create(
        [User(username=f"load-{i:05d}", password=password) for i in range(WORKERS)]
    )
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users]
    )
    sessions = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        # A 32-character CSRF secret sent as cookie and header (Django accepts the unmasked
        # secret in X-CSRFToken).
        sessions.append((store.session_key, secrets.token_hex(16)))
    assert settings.SESSION_COOKIE_NAME == "sessionid"
    # Fresh bulk-loaded tables have no statistics: before autovacuum's ANALYZE, the scheduler's
    # "synsets with open images for W" query gets a plan that runs for minutes.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    items = Item.objects.filter(project=project).count()
    print(
        f"seeded {SYNSETS} synsets, {items} items ({len(gold_ids)} gold), {WORKERS} annotators "
        f"with sessions in {time.perf_counter() - started:.1f} s"
    )
    return sessions


@dataclass
class Stream:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0  # next-HIT 204 (nothing left) or a submission with no leased HIT to submit
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> tuple[float, float, int]:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan"), float("nan"), self.errors

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

        return pct(0.50), pct(0.99), self.errors


class Load:
    """Workers behave like the grid page: while HIT N is on screen they prefetch HIT N+1
    (``exclude=[N]``), submit N, and the prefetched HIT becomes the one on screen. Idle workers
    (no prefetch in flight) wait for the next-HIT stream; workers holding a HIT plus its
    prefetched successor wait for the submission stream."""

    def __init__(self, client, sessions: list[tuple[str, str]]):
        self.client = client
        # (session, the HIT on screen or None)
        self.idle: deque[tuple[tuple[str, str], dict | None]] = deque(
            (session, None) for session in sessions
        )
        random.shuffle(self.idle)
        # (session, the HIT on screen, the prefetched HIT or None)
        self.leased: deque[tuple[tuple[str, str], dict, dict | None]] = deque()
        self.rng = random.Random(7)
        self.set_cookie = 0

    @staticmethod
    def headers(session: tuple[str, str]) -> dict:
        key, csrf = session
        return {"Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf}

    async def next_hit(self, stream: Stream | None, scheduled: float) -> None:
        if not self.idle:
            if stream:
                stream.empty += 1
            return
        session, current = self.idle.popleft()
        body = {"exclude": [current["id"]]} if current else {}
        try:
            response = await self.client.post(
                "/api/projects/hit-load/hits/next/", json=body, headers=self.headers(session)
            )
        except Exception:  # noqa: BLE001 - any transport error is an error of the stage
            if stream:
                stream.errors += 1
            self.idle.append((session, current))
            return
        self._observe(stream, response, scheduled)
        fetched = response.json() if response.status_code == 200 else None
        if current is None:
            # The first grid of a session; its prefetch comes with the next request.
            self.idle.append((session, fetched))
        else:
            self.leased.append((session, current, fetched))

    async def submit(self, stream: Stream | None, scheduled: float) -> None:
        if not self.leased:
            if stream:
                stream.empty += 1
            return
        session, hit, prefetched = self.leased.popleft()
        ids = [item["id"] for item in hit["items"]]
        cut = self.rng.randrange(len(ids) + 1)
        body = {"selected": ids[:cut], "unselected": ids[cut:], "duration_ms": 30_000}
        try:
            response = await self.client.post(
                hit["submit_url"], json=body, headers=self.headers(session)
            )
        except Exception:  # noqa: BLE001
            if stream:
                stream.errors += 1
            self.idle.append((session, prefetched))
            return
        self._observe(stream, response, scheduled)
        if response.status_code != 200:
            # As the page does after a refusal: release the HIT and go on with the next one.
            # Best effort: the lease runs out by itself.
            with contextlib.suppress(Exception):
                await self.client.post(hit["release_url"], json={}, headers=self.headers(session))
        self.idle.append((session, prefetched))

    def _observe(self, stream: Stream | None, response, scheduled: float) -> None:
        self.set_cookie += int("set-cookie" in response.headers)
        if stream is None:
            return
        stream.statuses[response.status_code] = stream.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 300:
            stream.errors += 1
        elif response.status_code == 204:
            stream.empty += 1
        else:
            stream.latencies.append((time.perf_counter() - scheduled) * 1000)

    async def prefill(self, count: int, concurrency: int = 16) -> None:
        """Closed-loop warm-up (not measured): lease ``count`` HITs for the submission stream."""

        attempts = 0

        async def one() -> None:
            nonlocal attempts
            while len(self.leased) < count and self.idle:
                attempts += 1
                if attempts > count * 6:
                    raise SystemExit("prefill: the server does not hand out HITs")
                await self.next_hit(None, time.perf_counter())

        await asyncio.gather(*(one() for _ in range(concurrency)))

    async def stage(self, rate: float, seconds: float) -> tuple[Stream, Stream, float]:
        """Fire next-HIT and submit requests at ``rate`` per second each for ``seconds``;
        returns both streams and the worst lateness of a send (client health)."""
        nexts, submits = Stream(), Stream()
        await self.prefill(int(rate * 2))
        tasks: list[asyncio.Task] = []
        start = time.perf_counter() + 0.2
        total = int(rate * seconds)
        worst_lag = 0.0
        for i in range(total):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            worst_lag = max(worst_lag, time.perf_counter() - at)
            tasks.append(asyncio.create_task(self.next_hit(nexts, at)))
            tasks.append(asyncio.create_task(self.submit(submits, at)))
        # Bounded drain: a request still pending after 30 s counts as an error.
        done, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
        nexts.errors += sum(1 for t in pending if t.get_coro().__name__ == "next_hit")
        submits.errors += sum(1 for t in pending if t.get_coro().__name__ == "submit")
        return nexts, submits, worst_lag * 1000


async def run_load(args, sessions) -> list[tuple]:
    import httpx

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    timeout = httpx.Timeout(30.0)
    rows = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{PORT}", limits=limits, timeout=timeout
    ) as client:
        load = Load(client, sessions)
        plan = [(args.rate, args.duration)] + [(r, args.step_duration) for r in args.rates]
        failures_in_a_row = 0
        for rate, seconds in plan:
            nexts, submits, lag = await load.stage(rate, seconds)
            client.cookies.clear()
            n50, n99, nerr = nexts.summary()
            s50, s99, serr = submits.summary()
            ok = n99 < P99_TARGET_MS and s99 < P99_TARGET_MS and nerr == 0 and serr == 0
            rows.append((rate, seconds, n50, n99, nerr, nexts.empty, s50, s99, serr,
                         submits.empty, lag, ok))  # fmt: skip
            print(
                f"  {rate:>5.0f}/s × {seconds:.0f} s: next p50 {n50:.0f} p99 {n99:.0f} ms "
                f"err {nerr} {dict(sorted(nexts.statuses.items()))}; submit p50 {s50:.0f} "
                f"p99 {s99:.0f} ms err {serr} {dict(sorted(submits.statuses.items()))}; "
                f"client lag {lag:.0f} ms",
                flush=True,
            )
            failures_in_a_row = 0 if ok else failures_in_a_row + 1
            if failures_in_a_row >= 2 and rate > args.rate:
                break
            await asyncio.sleep(2)
        if load.set_cookie:
            print(f"  note: {load.set_cookie} responses set a cookie")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100, help="first stage, per stream")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rates", default="50,150,200,300,400",
                        help="then these rates per stream, ascending")  # fmt: skip
    parser.add_argument("--step-duration", type=float, default=10)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",") if r]

    var_dir = tempfile.mkdtemp(prefix="hitload-")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "SECRET_KEY": "benchmark-only-" + secrets.token_hex(16),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SYNSETLAB_VAR_DIR": var_dir,
        # A real broker, as in production; nothing consumes it here (the recompute is debounced
        # to one message per synset) and the database is flushed at the end.
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "LOG_LEVEL": "ERROR",
        # Plain HTTP on loopback: in production TLS ends at the proxy in front of gunicorn.
        "SECURE_SSL_REDIRECT": "0",
        "CONN_MAX_AGE": "60",
    }
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    server = None
    try:
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"],
                       env=env, check=True)  # fmt: skip
        sessions = seed(env)
        from django.db import connections

        connections.close_all()
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
             "--bind", f"127.0.0.1:{PORT}", "--workers", str(args.gunicorn_workers),
             "--worker-class", "gthread", "--threads", str(args.threads),
             "--keep-alive", "30", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        _wait_for_server()
        print(
            f"gunicorn: {args.gunicorn_workers} workers × {args.threads} threads on "
            f"127.0.0.1:{PORT}; {os.cpu_count()} CPUs shared with PostgreSQL and this client"
        )
        rows = asyncio.run(run_load(args, sessions))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        from django.db import connections

        connections.close_all()
        subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], capture_output=True)
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    _print_table(rows)


def _wait_for_server() -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def _print_table(rows) -> None:
    print()
    print("| rate/s (each) | s | next p50 ms | next p99 ms | next err | submit p50 ms | "
          "submit p99 ms | submit err | p99 < 200 ms, 0 err |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for rate, secs, n50, n99, nerr, _ne, s50, s99, serr, _se, _lag, ok in rows:
        print(f"| {rate:.0f} | {secs:.0f} | {n50:.0f} | {n99:.0f} | {nerr} | {s50:.0f} | "
              f"{s99:.0f} | {serr} | {'yes' if ok else 'no'} |")  # fmt: skip
    passing = [row[0] for row in rows if row[-1]]
    print()
    print(
        f"highest rate meeting p99 < {P99_TARGET_MS:.0f} ms with no errors: "
        + (f"{max(passing):.0f} next-HIT/s + {max(passing):.0f} submit/s" if passing else "none")
    )


if __name__ == "__main__":
    main()
