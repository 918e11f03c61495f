"""Shared fixtures: the real WordNet import (once per session), users of each role, API clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: tests read the real data in ../shared/data")
    return SHARED_DATA


@pytest.fixture(scope="session")
def wordnet(django_db_setup, django_db_blocker, shared_data):
    """Import the real WordNet 3.0 (+ OMW lemmas) into the test database once per session.

    The rows are committed outside any test transaction, so every `db` test sees them;
    pytest-django runs transactional tests (which flush tables) after all of those.
    """
    from synsets.importer import wordnet_import

    with django_db_blocker.unblock():
        return wordnet_import(
            nltk_data=settings.NLTK_DATA,
            system_dir=settings.WORDNET_SYSTEM_DIR,
            omw_dir=shared_data / "omw",
        )


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """One fast hasher in tests: the default PBKDF2 costs 0.4–0.7 s a hash on two cores, and
    the suite creates and signs in hundreds of accounts. Tests that look for leaked hashes
    compare against the stored values, never against an algorithm's name."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters (API throttles, MTurk pages) start at zero in every test (the local
    memory cache only: clearing a Redis cache would flush its whole database)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="boss", password="pw-boss-123", is_staff=True
    )


@pytest.fixture
def annotator(db):
    from labeling.roles import annotator_create

    return annotator_create(username="ann", password="pw-ann-123")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker (separate process) on the Redis test broker, bound to the test
    database. Yields a function that (re)starts it, so fault-injection tests can kill -9 it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from django.db import connection

    from config.celery import app

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CANDIDATES_ALLOW_LOOPBACK": "1",
    }
    app.control.purge()
    processes: list[subprocess.Popen] = []
    log = tmp_path / "worker.log"

    def start() -> subprocess.Popen:
        name = f"test-{os.getpid()}-{len(processes)}@%h"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name,
             "-Q", "default,downloads,consensus,crowd", "--pool", "solo", "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"celery worker exited: {log.read_text()[-2000:]}")
            if app.control.ping(destination=[name.replace("%h", _hostname())], timeout=0.5):
                return process
        pytest.fail(f"celery worker did not start: {log.read_text()[-2000:]}")

    start.log = log  # type: ignore[attr-defined]
    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    app.control.purge()


def _hostname() -> str:
    import socket

    return socket.gethostname()


def _database_url(db: dict) -> str:
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
