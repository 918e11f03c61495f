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
