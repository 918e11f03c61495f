"""Deploy-ready defaults: `check --deploy` passes with production settings, CSP and framing
headers on app pages, login rate limiting, no pickle in Celery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        # (browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never would)
        **{
            k: v
            for k, v in os.environ.items()
            if k not in {"DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
        },
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "-production-grade-secret-" + "y" * 30,
        "ALLOWED_HOSTS": "synsetlab.example.org",
        "SECURE_HSTS_PRELOAD": "1",
        "SYNSETLAB_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_pages_carry_csp_and_deny_framing(client):
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_repeated_failed_logins_are_locked_out(client, django_user_model, settings):
    django_user_model.objects.create_user(username="victim", password="right-pass-123")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/accounts/login/", {"username": "victim", "password": "wrong"})
        assert response.status_code == 200  # the form again, with an error
    last = client.post("/accounts/login/", {"username": "victim", "password": "wrong"})
    assert last.status_code == 429
    locked = client.post("/accounts/login/", {"username": "victim", "password": "right-pass-123"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_successful_login_resets_the_failure_count(client, django_user_model, settings):
    django_user_model.objects.create_user(username="typo", password="right-pass-123")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": "typo", "password": "wrong"})
    ok = client.post("/accounts/login/", {"username": "typo", "password": "right-pass-123"})
    assert ok.status_code == 302


def test_no_pickle_anywhere_in_the_code():
    offenders = []
    for folder in ("config", "synsets", "candidates", "labeling"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if "import pickle" in text or "pickle.load" in text or "'pickle'" in text:
                offenders.append(str(path))
    assert offenders == []
