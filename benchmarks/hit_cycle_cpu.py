"""CPU of the grid page's HIT cycle in the web process, without HTTP or load (issue 16).

Usage: .venv/bin/python benchmarks/hit_cycle_cpu.py [--images 100k] [--cycles 300] [--workers 200]
           [--profile]

Under load (``hit_load.py``) what limits two cores is the web process's CPU per HIT cycle, and on a
shared machine that figure moves by a fifth from run to run. This measures it alone: a scratch
PostgreSQL database filled as ``hit_load.py --images 100k`` fills it (10 synsets × 10,008
images), then, in this process through Django's test client (middleware, session, DRF, the views
and their JSON; sessions and cache on Redis as in production), annotators in turn do what the
grid page does: submit the HIT on screen, then prefetch the next one (``exclude`` = the one
now on screen). Printed: CPU time per cycle and per request (medians), the number of Python
function calls per cycle — a count that, unlike time, does not move with the machine's load
(counted under cProfile, in a second pass) —, and in a third pass what a cycle costs
PostgreSQL: its server process's CPU and the WAL written. Baseline in the same run:
``GET /api/me/stats/``, the smallest request of the worker API — the session, the user with their
role (one statement), the throttle and DRF, then one statement (under cProfile about half of it
is building that statement's four subqueries). ``--profile`` prints the profile's top lines.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import busy_warning, django_setup, header, load_average, scratch_database  # noqa: E402
from hit_load import SIZES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="100k", choices=SIZES)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print the profile's top lines")
    args = parser.parse_args()
    header(f"web-process CPU per HIT cycle (hit_cycle_cpu, {args.images} images)")
    before = load_average()
    with scratch_database("hitcycle") as url:
        django_setup(url, DEBUG="0", ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="0",
                     CONN_MAX_AGE="60", LOG_LEVEL="ERROR",
                     CELERY_BROKER_URL="redis://127.0.0.1:6379/14")  # fmt: skip
        from hit_load import seed

        slug, sessions = seed(*SIZES[args.images], args.workers)
        run(slug, sessions, args)
    warning = busy_warning(before, load_average())
    if warning:
        print(warning)


def run(slug: str, sessions: list[tuple[str, str]], args) -> None:
    from django.test import Client

    next_url = f"/api/projects/{slug}/hits/next/"
    clients = []
    for key, csrf in sessions:
        client = Client(enforce_csrf_checks=True, HTTP_X_CSRFTOKEN=csrf)
        client.cookies["sessionid"], client.cookies["csrftoken"] = key, csrf
        clients.append(client)

    def hit_next(client, exclude: list[int]) -> dict:
        response = client.post(next_url, {"exclude": exclude}, content_type="application/json")
        assert response.status_code == 200, (response.status_code, response.content[:300])
        return response.json()

    screens = {}
    for client in clients:  # each annotator: a HIT on screen and one prefetched (not measured)
        on_screen = hit_next(client, [])
        screens[id(client)] = [on_screen, hit_next(client, [on_screen["id"]])]
    rng = random.Random(7)
    cpu: dict[str, list[float]] = {"submit": [], "next": [], "stats (baseline)": []}

    def cycle(client, measure: bool, stats: bool = True) -> None:
        on_screen, prefetched = screens[id(client)]
        ids = [item["id"] for item in on_screen["items"]]
        cut = rng.randrange(len(ids) + 1)
        body = {"selected": ids[:cut], "unselected": ids[cut:], "duration_ms": 10_000}
        started = time.process_time()
        response = client.post(on_screen["submit_url"], body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        submitted = time.process_time()
        screens[id(client)] = [prefetched, hit_next(client, [prefetched["id"]])]
        done = time.process_time()
        if stats:
            assert client.get("/api/me/stats/").status_code == 200
        if measure:
            cpu["submit"].append(submitted - started)
            cpu["next"].append(done - submitted)
            cpu["stats (baseline)"].append(time.process_time() - done)

    warm = min(20, len(clients) // 2)
    for client in clients[:warm]:  # warm-up
        cycle(client, measure=False)
    measured = clients[warm:]
    for i in range(args.cycles):
        cycle(measured[i % len(measured)], measure=True)
    calls, profile = _calls_per_cycle(measured, cycle, min(args.cycles, 100))
    database = _database_per_cycle(measured, cycle, args.cycles)

    ms = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
    print(f"{args.cycles} HIT cycles (submit + prefetching next-HIT), {len(measured)} annotators "
          "in turn, one process")  # fmt: skip
    for name, value in ms.items():
        print(f"  {name}: median CPU {value:.1f} ms per request")
    print(f"CPU per HIT cycle (median submit + median next-HIT): {ms['submit'] + ms['next']:.1f} ms"
          f"; baseline, the smallest worker API request (GET /api/me/stats/): "
          f"{ms['stats (baseline)']:.1f} ms")  # fmt: skip
    print(f"Python function calls per HIT cycle (cProfile, {min(args.cycles, 100)} more cycles): "
          f"{calls:,.0f}")  # fmt: skip
    print(f"PostgreSQL per HIT cycle ({args.cycles} more cycles): {database['cpu_ms']:.1f} ms of "
          f"its server process's CPU, {database['wal_kib']:.1f} KiB of WAL")  # fmt: skip
    if args.profile:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(r"labeling|config|rest_framework/views", 30)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())


def _database_per_cycle(clients, cycle, n: int) -> dict[str, float]:
    """What the cycle costs PostgreSQL: CPU of the server process serving this connection (read
    from /proc: the server runs on this machine) and the WAL it writes — the database's share,
    which the web process's CPU does not show."""
    import os

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    def state() -> tuple[float, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
            (wal,) = cursor.fetchone()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK"), int(wal)

    cpu_before, wal_before = state()
    for i in range(n):
        cycle(clients[i % len(clients)], measure=False, stats=False)
    cpu_after, wal_after = state()
    return {"cpu_ms": (cpu_after - cpu_before) / n * 1000,
            "wal_kib": (wal_after - wal_before) / n / 1024}  # fmt: skip


def _calls_per_cycle(clients, cycle, n: int) -> tuple[float, cProfile.Profile]:
    """Python function calls per cycle, the stats request excluded (counted alone first)."""
    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        cycle(clients[i % len(clients)], measure=False)
    profile.disable()
    stats_only = cProfile.Profile()
    stats_only.enable()
    for i in range(n):
        clients[i % len(clients)].get("/api/me/stats/")
    stats_only.disable()
    total = pstats.Stats(profile).total_calls - pstats.Stats(stats_only).total_calls
    return total / n, profile


if __name__ == "__main__":
    main()
