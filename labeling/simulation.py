"""A simulated crowd for demos, load tests and consensus experiments (issue 4, point 8).

Simulated workers label only through the real HTTP API (log in like a browser, ask for the
next HIT, submit), so everything the scheduler, submission and quality control do is exercised
exactly as for people. Ground truth is read through the ORM, from a file or from ImageNet-style
file names (``n02085620_Chihuahua.JPEG``): an image is positive for synset S when its wnid is S
or a descendant of S.

The behaviour functions (who answers what, how fast) are pure and take a ``random.Random``;
the HTTP driver and the truth loader are the only parts that touch the outside world.
"""

from __future__ import annotations

import contextlib
import csv
import ipaddress
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

# Accuracy of an honest worker on an easy (shallow) and on a hard (deep) synset:
# docs/consensus.md and Deng et al. 2009 §3.2 (Fig. 7: "cat" vs "Burmese cat").
EASY_ACCURACY = 0.95
HARD_ACCURACY = 0.70
# Synset.depth (shortest IS-A path to "entity") mapped linearly onto difficulty 0..1: "mammal"
# is at depth 9, "dog" 8, "Chihuahua" 10, "tench" 16 in WordNet 3.0.
EASY_DEPTH = 6
HARD_DEPTH = 18
# Spread of honest workers' skill around the synset's accuracy.
SKILL_SPREAD = 0.03
ACCURACY_BOUNDS = (0.5, 0.995)
# Simulated seconds per image (~1.7 s in a conventional interface, Krishna et al., CHI 2016;
# a keyboard grid is faster).
# Spammers click through; under 0.3 s per image trips the too-fast flag.
HONEST_MS_PER_IMAGE = (600, 1800)
SPAMMER_MS_PER_IMAGE = (80, 400)
# Give up on a worker after this many failed requests in a row (server down, bad credentials).
MAX_CONSECUTIVE_ERRORS = 5
MAX_RETRY_AFTER_SECONDS = 10.0
# A 503 is mostly a deadlock victim or a database blip: retry sooner than Retry-After's 5 s.
MAX_503_WAIT_SECONDS = 1.0


class WorkerKind(StrEnum):
    HONEST = "honest"
    SPAMMER = "spammer"  # answers at random
    ADVERSARIAL = "adversarial"  # knows the answer and gives the opposite


@dataclass(frozen=True)
class SimWorker:
    """A simulated worker: ``skill`` shifts their accuracy on every synset."""

    index: int
    kind: WorkerKind
    skill: float = 0.0
    spam_yes_rate: float = 0.5

    def username(self, prefix: str) -> str:
        return f"{prefix}-{self.index:03d}"


# ---------------------------------------------------------------------------------------------
# Pure behaviour.


def crowd_make(
    *, workers: int, spammers: float = 0.0, adversarial: float = 0.0, rng: random.Random
) -> list[SimWorker]:
    """``workers`` simulated workers of which the given fractions (rounded, at least one when
    the fraction is positive) are spammers and adversarial; the others honest with a skill
    drawn around zero. Kinds are placed at random positions."""
    if workers < 1:
        raise ValueError("at least one worker")
    if not (0 <= spammers <= 1 and 0 <= adversarial <= 1) or spammers + adversarial > 1:
        raise ValueError("spammer and adversarial fractions must be in [0, 1] and sum to ≤ 1")

    def share(fraction: float) -> int:
        return max(1, round(workers * fraction)) if fraction > 0 else 0

    n_spam = share(spammers)
    n_adv = min(share(adversarial), workers - n_spam)
    kinds = (
        [WorkerKind.SPAMMER] * n_spam
        + [WorkerKind.ADVERSARIAL] * n_adv
        + [WorkerKind.HONEST] * (workers - n_spam - n_adv)
    )
    rng.shuffle(kinds)
    crowd = []
    for index, kind in enumerate(kinds):
        skill = rng.gauss(0.0, SKILL_SPREAD) if kind != WorkerKind.SPAMMER else 0.0
        spam_rate = rng.uniform(0.3, 0.7) if kind == WorkerKind.SPAMMER else 0.5
        crowd.append(SimWorker(index=index, kind=kind, skill=skill, spam_yes_rate=spam_rate))
    return crowd


def synset_difficulty(depth: int | None) -> float:
    """0 for shallow synsets, 1 for deep ones (the paper's "subtle synsets deep in the tree")."""
    if depth is None:
        return 0.0
    return min(1.0, max(0.0, (depth - EASY_DEPTH) / (HARD_DEPTH - EASY_DEPTH)))


def worker_accuracy(worker: SimWorker, difficulty: float) -> float:
    """Probability that an honest (or adversarial, before flipping) worker is right."""
    base = EASY_ACCURACY + (HARD_ACCURACY - EASY_ACCURACY) * difficulty
    low, high = ACCURACY_BOUNDS
    return min(high, max(low, base + worker.skill))


def image_answer(
    worker: SimWorker, *, truth: bool | None, difficulty: float, rng: random.Random
) -> bool:
    """The worker's answer "does this image show the synset?". Unknown truth: a coin flip."""
    if worker.kind == WorkerKind.SPAMMER or truth is None:
        rate = worker.spam_yes_rate if worker.kind == WorkerKind.SPAMMER else 0.5
        return rng.random() < rate
    correct = rng.random() < worker_accuracy(worker, difficulty)
    answer = truth if correct else not truth
    return not answer if worker.kind == WorkerKind.ADVERSARIAL else answer


def hit_answers(
    worker: SimWorker,
    *,
    item_ids: Iterable[int],
    truth: Mapping[int, bool | None],
    difficulty: float,
    rng: random.Random,
) -> tuple[list[int], list[int]]:
    """Split a HIT's images into (selected, unselected) as this worker would."""
    selected, unselected = [], []
    for item_id in item_ids:
        answer = image_answer(worker, truth=truth.get(item_id), difficulty=difficulty, rng=rng)
        (selected if answer else unselected).append(item_id)
    return selected, unselected


def hit_duration_ms(worker: SimWorker, *, images: int, rng: random.Random) -> int:
    """Simulated time spent on a HIT (reported, not slept)."""
    low, high = SPAMMER_MS_PER_IMAGE if worker.kind == WorkerKind.SPAMMER else HONEST_MS_PER_IMAGE
    return int(sum(rng.uniform(low, high) for _ in range(images)))


# ---------------------------------------------------------------------------------------------
# Ground truth (ORM).


@dataclass
class Truth:
    """Per item: is it positive for its synset (None: unknown); per synset: difficulty."""

    labels: dict[int, bool | None]
    difficulty: dict[str, float]
    item_synset: dict[int, str]

    @property
    def known(self) -> int:
        return sum(1 for label in self.labels.values() if label is not None)


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "y", "t", "positive", "pos"}:
        return True
    if lowered in {"0", "false", "no", "n", "f", "negative", "neg"}:
        return False
    raise ValueError(f"not a yes/no label: {value!r}")


def truth_file_read(path: str | Path) -> tuple[dict[int, bool], dict[str, str]]:
    """Read a truth CSV with a header: ``candidate_id,label`` (label yes/no for the candidate's
    own synset) and/or ``image_url,wnid`` (the image's true synset). Returns
    (label by candidate id, true wnid by image url or file name)."""
    by_candidate: dict[int, bool] = {}
    by_url: dict[str, str] = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not ({"candidate_id", "label"} <= columns or {"image_url", "wnid"} <= columns):
            raise ValueError(f"{path}: expected a header with candidate_id,label or image_url,wnid")
        for line, row in enumerate(reader, start=2):
            try:
                if row.get("candidate_id") and row.get("label"):
                    by_candidate[int(row["candidate_id"])] = _parse_bool(row["label"])
                if row.get("image_url") and row.get("wnid"):
                    url, wnid = row["image_url"].strip(), row["wnid"].strip()
                    by_url[url] = wnid
                    by_url.setdefault(PurePosixPath(url).name, wnid)
            except ValueError as error:
                raise ValueError(f"{path}:{line}: {error}") from None
    return by_candidate, by_url


def truth_load(*, project, truth_file: str | Path | None = None) -> Truth:
    """Truth for every item of ``project``: a truth file first, else the wnid in the image's
    locator or title (ImageNet file names), else a gold image's known label."""
    from candidates.sources.base import wnid_in_path
    from labeling.models import Item
    from synsets.models import Synset, SynsetClosure

    by_candidate, by_url = truth_file_read(truth_file) if truth_file else ({}, {})
    rows = list(
        Item.objects.filter(project=project)
        .order_by("pk")
        .values_list(
            "pk", "synset_id", "candidate_id", "candidate__image_url", "candidate__title",
            "is_gold", "gold_label",
        )
    )  # fmt: skip
    true_wnid: dict[int, str] = {}
    labels: dict[int, bool | None] = {}
    for pk, _synset_id, candidate_id, url, title, is_gold, gold_label in rows:
        if candidate_id in by_candidate:
            labels[pk] = by_candidate[candidate_id]
            continue
        wnid = by_url.get(url) or by_url.get(PurePosixPath(url).name)
        if wnid is None and not by_url and not by_candidate:
            wnid = wnid_in_path(url) or wnid_in_path(title or "")
        if wnid:
            true_wnid[pk] = wnid
        labels[pk] = bool(gold_label) if is_gold and gold_label is not None else None
    # Positive when the true wnid is the item's synset or one of its descendants.
    synset_of = {pk: synset_id for pk, synset_id, *_ in rows}
    pairs = set(
        SynsetClosure.objects.filter(
            ancestor_id__in=set(synset_of.values()), descendant_id__in=set(true_wnid.values())
        ).values_list("ancestor_id", "descendant_id")
    )
    for pk, wnid in true_wnid.items():
        labels[pk] = (synset_of[pk], wnid) in pairs
    depths = dict(Synset.objects.filter(pk__in=set(synset_of.values())).values_list("pk", "depth"))
    return Truth(
        labels=labels,
        difficulty={wnid: synset_difficulty(depth) for wnid, depth in depths.items()},
        item_synset=synset_of,
    )


def crowd_accounts_create(
    *, crowd: list[SimWorker], prefix: str, projects: Iterable = ()
) -> dict[str, str]:
    """Annotator accounts for the simulated workers, with fresh random passwords, admitted to
    ``projects``."""
    from labeling.roles import annotator_create

    credentials = {}
    for worker in crowd:
        password = secrets.token_urlsafe(18)
        annotator_create(username=worker.username(prefix), password=password, projects=projects)
        credentials[worker.username(prefix)] = password
    return credentials


# ---------------------------------------------------------------------------------------------
# HTTP driver.


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimulationError(Exception):
    pass


class ApiClient:
    """One simulated browser: logs in through the login form (CSRF included), then calls the
    worker API with the session cookie and the CSRF header, as the grid page's JavaScript does."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, max_retries: int = 50):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.retries = 0
        self.max_retries = max_retries
        self.session = requests.Session()
        self.loopback = _is_loopback(urlsplit(self.base_url).hostname or "")
        self.session.headers["User-Agent"] = "synsetlab-simulate-crowd/1"

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def _cookies_keep(self) -> None:
        """Browsers treat http://localhost as a secure context and send Secure cookies to it;
        Python's cookie jar does not (needed against a DEBUG=0 server on loopback, as in tests).
        """
        if self.loopback:
            for cookie in self.session.cookies:
                cookie.secure = False

    def _csrf(self) -> str:
        return self.session.cookies.get(settings.CSRF_COOKIE_NAME) or ""

    def login(self, username: str, password: str) -> None:
        login_url = self.url("/accounts/login/")
        page = self.session.get(login_url, timeout=self.timeout)
        page.raise_for_status()
        self._cookies_keep()
        response = self.session.post(
            login_url,
            data={"username": username, "password": password, "csrfmiddlewaretoken": self._csrf()},
            headers={"Referer": login_url},
            timeout=self.timeout,
            allow_redirects=False,
        )
        self._cookies_keep()
        if response.status_code != 302 or settings.SESSION_COOKIE_NAME not in self.session.cookies:
            raise SimulationError(f"login of {username} failed (HTTP {response.status_code})")

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self._csrf(), "Referer": self.base_url}
        while True:
            response = self.session.request(
                method, self.url(path), headers=headers, timeout=self.timeout, **kwargs
            )
            self._cookies_keep()
            # 429: throttled (600/min per worker); 503: the server asks for a retry (database
            # unavailable, or a deadlock victim). A polite client waits as told, a few times.
            if response.status_code not in (429, 503) or self.retries >= self.max_retries:
                return response
            self.retries += 1
            try:
                wait = float(response.headers.get("Retry-After") or 1)
            except ValueError:
                wait = 1.0
            # Jitter so that deadlock victims do not collide again; not security-relevant.
            jitter = random.uniform(0.2, 1.0)  # noqa: S311
            cap = MAX_503_WAIT_SECONDS if response.status_code == 503 else MAX_RETRY_AFTER_SECONDS
            time.sleep(min(cap, max(0.05, wait)) * jitter)

    def hit_next(self, slug: str, *, exclude: Iterable[int] = ()) -> dict | None:
        response = self._request(
            "POST", f"/api/projects/{slug}/hits/next/", json={"exclude": list(exclude)[-10:]}
        )
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise SimulationError(f"next HIT: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def submit(self, submit_url: str, *, selected, unselected, duration_ms: int):
        return self._request(
            "POST",
            submit_url,
            json={"selected": selected, "unselected": unselected, "duration_ms": duration_ms},
        )

    def release(self, release_url: str) -> None:
        # Best effort: the lease runs out by itself.
        with contextlib.suppress(requests.RequestException):
            self._request("POST", release_url, json={})

    def stats(self) -> dict:
        response = self._request("GET", "/api/me/stats/")
        response.raise_for_status()
        return response.json()


@dataclass
class WorkerReport:
    username: str
    kind: str
    hits: int = 0
    votes: int = 0
    answered_with_truth: int = 0
    correct: int = 0
    gold_accuracy: float | None = None
    blocked: bool = False
    flags: list[str] = field(default_factory=list)
    errors: int = 0
    retries: int = 0
    assignments: list[int] = field(default_factory=list)
    stopped: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered_with_truth if self.answered_with_truth else None


@dataclass
class CrowdReport:
    project: str
    workers: list[WorkerReport]
    seconds: float
    items_without_truth: int = 0

    @property
    def hits(self) -> int:
        return sum(w.hits for w in self.workers)

    @property
    def votes(self) -> int:
        return sum(w.votes for w in self.workers)

    @property
    def errors(self) -> int:
        return sum(w.errors for w in self.workers)

    @property
    def retries(self) -> int:
        return sum(w.retries for w in self.workers)


def worker_run(
    worker: SimWorker,
    *,
    client: ApiClient,
    username: str,
    password: str,
    slug: str,
    truth: Truth,
    hits: int,
    rng: random.Random,
    think_seconds: float = 0.0,
    stop: threading.Event | None = None,
) -> WorkerReport:
    """One worker's session: log in, then next HIT → answer → submit, ``hits`` times or until
    there is nothing left for them (or they are blocked)."""
    report = WorkerReport(username=username, kind=str(worker.kind))
    try:
        client.login(username, password)
    except (requests.RequestException, SimulationError) as error:
        report.errors += 1
        report.stopped = f"login failed: {error}"
        return report
    consecutive_errors = 0
    # Like the grid page: while HIT N is on screen, HIT N+1 is prefetched (exclude=[N]); after
    # submitting N the prefetched one is shown at once.
    hit: dict | None = None
    prefetched: dict | None = None
    while report.hits < hits and not (stop and stop.is_set()):
        try:
            if prefetched is not None:
                hit, prefetched = prefetched, None
            else:
                hit = client.hit_next(slug)
            if hit is not None and report.hits + 1 < hits:
                prefetched = client.hit_next(slug, exclude=[hit["id"]])
                if prefetched is not None and prefetched["id"] == hit["id"]:
                    prefetched = None
        except (requests.RequestException, SimulationError) as error:
            report.errors += 1
            consecutive_errors += 1
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                report.stopped = f"too many errors: {error}"
                break
            continue
        if hit is None:
            report.stopped = "no work left (or blocked)"
            break
        item_ids = [item["id"] for item in hit["items"]]
        difficulty = truth.difficulty.get(hit["synset"]["wnid"], 0.0)
        selected, unselected = hit_answers(
            worker, item_ids=item_ids, truth=truth.labels, difficulty=difficulty, rng=rng
        )
        if think_seconds:
            time.sleep(rng.uniform(0.5, 1.5) * think_seconds)
        try:
            response = client.submit(
                hit["submit_url"],
                selected=selected,
                unselected=unselected,
                duration_ms=hit_duration_ms(worker, images=len(item_ids), rng=rng),
            )
        except requests.RequestException:
            response = None
        if response is None or response.status_code != 200:
            report.errors += 1
            consecutive_errors += 1
            # As the page does after a refusal: give the HIT back and go on with the next one.
            client.release(hit["release_url"])
            if consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                report.stopped = "too many failed submissions"
                break
            continue
        consecutive_errors = 0
        result = response.json()
        report.hits += 1
        report.votes += result["votes_recorded"]
        report.assignments.append(hit["id"])
        report.flags.extend(result.get("flags", []))
        for item_id in item_ids:
            label = truth.labels.get(item_id)
            if label is not None:
                report.answered_with_truth += 1
                report.correct += int((item_id in selected) == label)
        if result.get("blocked"):
            report.blocked = True
    try:
        stats = client.stats()
        report.gold_accuracy = stats["gold_accuracy"]
        report.blocked = stats["blocked"]
    except (requests.RequestException, KeyError, ValueError):
        report.errors += 1
    report.retries = client.retries
    return report


def crowd_run(
    *,
    project,
    crowd: list[SimWorker],
    credentials: Mapping[str, str],
    truth: Truth,
    base_url: str,
    hits_per_worker: int,
    seed: int,
    prefix: str,
    think_seconds: float = 0.0,
    client_factory: Callable[[str], ApiClient] = ApiClient,
) -> CrowdReport:
    """Run every worker concurrently (one thread and one HTTP session each) and collect their
    reports. Database access happens only before the threads start (truth, accounts)."""
    started = time.perf_counter()
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=len(crowd), thread_name_prefix="sim-worker") as pool:
        futures = [
            pool.submit(
                worker_run,
                worker,
                client=client_factory(base_url),
                username=worker.username(prefix),
                password=credentials[worker.username(prefix)],
                slug=project.slug,
                truth=truth,
                hits=hits_per_worker,
                # Seeded per worker; this RNG only simulates behaviour.
                rng=random.Random(f"{seed}:{worker.index}"),  # noqa: S311
                think_seconds=think_seconds,
                stop=stop,
            )
            for worker in crowd
        ]
        try:
            reports = [future.result() for future in futures]
        except BaseException:
            stop.set()
            raise
    return CrowdReport(
        project=project.slug,
        workers=reports,
        seconds=time.perf_counter() - started,
        items_without_truth=len(truth.labels) - truth.known,
    )


def _pct(value: float | None) -> str:
    return "   –" if value is None or math.isnan(value) else f"{value * 100:3.0f}%"


def report_format(report: CrowdReport) -> str:
    """A plain-text summary: totals, then one line per worker."""
    rate = report.hits / report.seconds if report.seconds else 0.0
    lines = [
        f"project {report.project}: {len(report.workers)} workers, {report.hits} HITs, "
        f"{report.votes} votes, {report.errors} errors, {report.retries} retries (429/503) "
        f"in {report.seconds:.1f} s "
        f"({rate:.1f} HITs/s)",
    ]
    if report.items_without_truth:
        lines.append(
            f"  {report.items_without_truth} images have no known truth (answered at random)"
        )
    lines.append(
        f"  {'worker':<24} {'kind':<11} {'HITs':>5} {'votes':>6} {'truth':>6} {'gold':>5} "
        f"{'blocked':>7} {'errors':>6}  flags"
    )
    for w in report.workers:
        flags = ",".join(sorted(set(w.flags)))
        lines.append(
            f"  {w.username:<24} {w.kind:<11} {w.hits:>5} {w.votes:>6} {_pct(w.accuracy):>6} "
            f"{_pct(w.gold_accuracy):>5} {('yes' if w.blocked else 'no'):>7} {w.errors:>6}  "
            f"{flags}"
        )
    return "\n".join(lines)
