"""Project-level contracts: settings safety, migrations in sync, docker-compose valid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def _settings_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    # A developer's local `.env` (written by `make setup`) must not answer for these tests.
    env["SYNSETLAB_ENV_FILE"] = os.devnull + ".absent"
    env.update(extra)
    return env


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.SECRET_KEY"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env=_settings_env(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0",
                          SYNSETLAB_VAR_DIR=str(tmp_path)),
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_run_generates_and_keeps_a_local_secret_key(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = _settings_env(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="1",
                        SYNSETLAB_VAR_DIR=str(tmp_path))  # fmt: skip
    first = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=True).stdout.strip()  # fmt: skip
    second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.django_db
def test_migrations_are_in_sync_with_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_docker_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose (Debian package) is installed by `make test`"
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "SECRET_KEY": "compose-check"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "SECRET_KEY": "compose-check"},
    ).stdout.split()  # fmt: skip
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}


def test_celery_uses_json_only():
    from django.conf import settings

    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SERIALIZER == "json"
