"""Fixtures for fault injection: a private Redis server and Celery workers on it (so killing them
never disturbs anyone else's broker), and a private PostgreSQL cluster that tests may stop.

Everything listens on 127.0.0.1 only, on free ports, and is torn down by the fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import _database_url, _hostname

# A killed worker's unacked task becomes visible again after this many seconds (acks_late +
# Redis visibility timeout); production keeps the default of an hour.
WORKER_VISIBILITY_TIMEOUT = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], *, timeout: float, what: str, step=0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@dataclass
class RedisServer:
    """A throwaway redis-server (no persistence): ``stop()`` is a crash, ``start()`` a restart."""

    port: int
    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, timeout=10, what="redis-server to start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def point_celery_at(url: str) -> None:
    """Make this process publish to ``url``: settings, the Celery app, and its pooled
    connections and producers (which still hold sockets to the previous broker)."""
    from config.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    # kombu keeps connection pools in a global registry keyed by connection parameters: closing
    # one without clearing the registry leaves a closed pool that later tests would be handed.
    from kombu import pools

    with contextlib.suppress(Exception):
        pools.reset()
    app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None
    # The control mailbox (ping, purge) caches the producer pool it first used.
    with contextlib.suppress(AttributeError, KeyError):
        del app.control.mailbox.producer_pool


@pytest.fixture
def private_redis(settings, tmp_path) -> Iterator[RedisServer]:
    """A private broker; the app under test publishes to it for the test's duration."""
    from config.celery import app

    server = RedisServer(port=free_port(), workdir=tmp_path)
    server.start()
    previous_env = os.environ.get("CELERY_BROKER_URL")
    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = server.url
    point_celery_at(server.url)
    yield server
    server.stop()
    point_celery_at(previous)
    if previous_env is None:
        os.environ.pop("CELERY_BROKER_URL", None)


@dataclass
class WorkerPool:
    """Starts Celery workers (separate processes) on the private broker, bound to the test
    database; ``kill()`` is ``kill -9`` of the whole worker (no warm shutdown, nothing acked)."""

    env: dict[str, str]
    log: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, *, wait: bool = True) -> subprocess.Popen:
        from config.celery import app

        name = f"fault-{os.getpid()}-{len(self.processes)}@%h"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name,
             "-Q", "default,downloads,consensus,crowd", "--pool", "solo", "--loglevel", "INFO",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=settings.BASE_DIR, env=self.env, stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        if wait:
            node = name.replace("%h", _hostname())

            def ready() -> bool:
                if process.poll() is not None:
                    pytest.fail(f"celery worker exited: {self.tail()}")
                return bool(app.control.ping(destination=[node], timeout=0.5))

            wait_until(ready, timeout=40, what=f"celery worker {node}", step=0)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


@pytest.fixture
def fault_workers(transactional_db, private_redis, tmp_path) -> Iterator[WorkerPool]:
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": private_redis.url,
        "CELERY_BROKER_VISIBILITY_TIMEOUT": str(WORKER_VISIBILITY_TIMEOUT),
        # The killed worker's job heartbeat must look stale by the time it is re-delivered.
        "CANDIDATES_JOB_LEASE_SECONDS": "2",
        "CELERY_BROKER_RESTORE_INTERVAL": "1",
        "CELERY_BROKER_RESTORE_THROTTLE": "1",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CANDIDATES_ALLOW_LOOPBACK": "1",
        "CANDIDATES_DOWNLOAD_TIMEOUT": "10",
        "CONN_MAX_AGE": "0",
    }
    pool = WorkerPool(env=env, log=tmp_path / "worker.log")
    yield pool
    pool.stop_all()


# --- a private PostgreSQL cluster -----------------------------------------------------------


def _pg_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def _as_postgres(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user when we are."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class PrivateCluster:
    bindir: Path
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/synsetlab"

    def start(self) -> None:
        _as_postgres(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30",
             "-l", str(self.datadir / "server.log"),
             "-o", f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=50",
             "start"],
        )  # fmt: skip

    def stop(self) -> None:
        # Fast shutdown: active sessions are terminated, as in a real restart.
        _as_postgres(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30",
             "-m", "fast", "stop"]
        )  # fmt: skip


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    bindir = _pg_bin()
    if bindir is None or shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    datadir = Path(tempfile.mkdtemp(prefix="synsetlab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, user="postgres", group="postgres")
    _as_postgres(
        [str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres",
         "--no-sync", "-E", "UTF8"]
    )  # fmt: skip
    cluster = PrivateCluster(bindir=bindir, datadir=datadir, port=free_port())
    cluster.start()
    _as_postgres(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
         "synsetlab"]
    )  # fmt: skip
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(datadir, ignore_errors=True)
