"""The local `.env` that `make setup` writes (config/envfile.py): later `manage.py` commands in
the checkout run with DEBUG and the generated key, and production still refuses a missing or
placeholder SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.envfile import env_file_keys, local_env_write

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what the test runner sets for Django."""
    drop = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "SYNSETLAB_ENV_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def _values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_setup_writes_debug_and_a_generated_key_readable_by_the_owner_only(tmp_path):
    path = tmp_path / ".env"
    added = local_env_write(path=path, extra={"OMW_DIR": "/data/omw", "DEMO_IMAGES": ""})
    assert added == ["DEBUG", "SECRET_KEY", "OMW_DIR"]  # an empty value is not written
    values = _values(path)
    assert values["DEBUG"] == "1" and len(values["SECRET_KEY"]) >= 50
    assert path.stat().st_mode & 0o077 == 0


def test_a_second_setup_keeps_the_key_and_an_existing_file_loses_nothing(tmp_path):
    path = tmp_path / ".env"
    path.write_text("SECRET_KEY=kept-deployment-key\nPOSTGRES_PASSWORD=pw")  # no final newline
    assert local_env_write(path=path) == ["DEBUG"]
    assert local_env_write(path=path) == []
    values = _values(path)
    assert values["SECRET_KEY"] == "kept-deployment-key"
    assert values["POSTGRES_PASSWORD"] == "pw"
    assert env_file_keys(path) == {"SECRET_KEY", "POSTGRES_PASSWORD", "DEBUG"}


def test_manage_py_works_after_setup_without_any_variable(tmp_path):
    env_file = tmp_path / ".env"
    subprocess.run(
        [sys.executable, "-m", "config.envfile", "--path", str(env_file)],
        cwd=ROOT, env=_clean_env(), check=True, capture_output=True,
    )  # fmt: skip
    env = _clean_env(SYNSETLAB_ENV_FILE=str(env_file), SYNSETLAB_VAR_DIR=str(tmp_path))
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert shown == ["True", _values(env_file)["SECRET_KEY"]]


def _settings_error(tmp_path: Path, **extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env=_clean_env(SYNSETLAB_ENV_FILE=str(tmp_path / "absent.env"),
                       SYNSETLAB_VAR_DIR=str(tmp_path), **extra),
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    return result.stderr


def test_production_without_a_key_refuses_to_start(tmp_path):
    assert "SECRET_KEY is not set" in _settings_error(tmp_path, DEBUG="0")


def test_production_with_a_placeholder_or_short_key_refuses_to_start(tmp_path):
    for key in ("change-me", "django-insecure-" + "x" * 40, "short-key"):
        assert "SECRET_KEY is too weak" in _settings_error(tmp_path, DEBUG="0", SECRET_KEY=key)
