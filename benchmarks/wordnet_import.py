"""WordNet 3.0 import into an empty PostgreSQL database and its idempotent re-run, against the
baseline of nltk reading every noun synset (what any import has to read), in one process.

Each repetition runs baseline, first import (tables truncated first), re-run (the same files and
row counts as the last import: nothing is compared) and a re-run comparing every row (--force),
in alternating order; every figure is printed as wall time and as CPU time (this process + its
PostgreSQL backend), since wall time stretches when other work shares the cores.

Usage: .venv/bin/python benchmarks/wordnet_import.py [--repeats 3] [--omw DIR] [--profile]
Targets (issue 16): first import < 15 s, re-run < 5 s.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _bench import (  # noqa: E402
    SHARED_DATA,
    django_setup,
    header,
    interleaved,
    report,
    scratch_database,
    timed,
    watched,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--omw", type=Path, default=SHARED_DATA / "omw")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true",
        help="profile one first import and one re-run; print the top lines",
    )  # fmt: skip
    args = parser.parse_args()
    header("WordNet 3.0 import (PostgreSQL)")
    with scratch_database("wordnet") as url:
        django_setup(url)
        from django.conf import settings
        from django.db import connection

        from synsets.importer import wordnet_import
        from synsets.models import Synset
        from synsets.wordnet import iter_noun_synsets, load_wordnet

        def baseline(_rep: int) -> float:
            with timed(with_db=False) as t:
                reader = load_wordnet(
                    nltk_data=settings.NLTK_DATA, system_dir=settings.WORDNET_SYSTEM_DIR
                )
                count = sum(1 for _ in iter_noun_synsets(reader))
            print(f"    baseline: {count} noun synsets read by nltk; {t.line()}")
            return t.wall

        def run_import(label: str, *, force: bool = False) -> float:
            with timed() as t:
                summary = wordnet_import(
                    nltk_data=settings.NLTK_DATA,
                    system_dir=settings.WORDNET_SYSTEM_DIR,
                    omw_dir=args.omw,
                    force=force,
                )
            print(f"    {label}: {t.line()}\n      {summary.line()}")
            return t.wall

        def first(_rep: int) -> float:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {Synset._meta.db_table} CASCADE")
            return run_import("first import")

        def rerun(_rep: int) -> float:
            if not Synset.objects.exists():
                run_import("(setting up for the re-run)")
            return run_import("re-run")

        def forced(_rep: int) -> float:
            if not Synset.objects.exists():
                run_import("(setting up for the re-run)")
            return run_import("re-run comparing every row", force=True)

        with watched():
            series = interleaved(
                [("baseline: nltk reads every noun synset", baseline),
                 ("first import into empty tables", first),
                 ("idempotent re-run", rerun),
                 ("re-run comparing every row (--force)", forced)],
                repeats=args.repeats, unit="s", higher_is_better=False,
            )  # fmt: skip
        report(series[:2], target="< 15 s")
        report([series[0], series[2]], target="< 5 s")
        report([series[0], series[3]])
        if args.profile:
            for label, prepare in (("first import", True), ("re-run", False)):
                if prepare:
                    with connection.cursor() as cursor:
                        cursor.execute(f"TRUNCATE {Synset._meta.db_table} CASCADE")
                profiler = cProfile.Profile()
                profiler.enable()
                wordnet_import(
                    nltk_data=settings.NLTK_DATA,
                    system_dir=settings.WORDNET_SYSTEM_DIR,
                    omw_dir=args.omw,
                )
                profiler.disable()
                print(f"profile of the {label}, top 12 by cumulative time:")
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(12)


if __name__ == "__main__":
    main()
