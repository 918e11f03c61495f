"""Shared fixtures for the crowd tests: a real boto3 MTurk client behind botocore's Stubber (the
closed service is the one boundary we cannot run; the Stubber checks every request against the
real API model) and a project published to MTurk."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from crowds.conf import MTURK_SANDBOX_ENDPOINT
from crowds.models import CrowdHIT, CrowdPublication
from crowds.mturk import MTurkApi
from tests.factories import project_make


@pytest.fixture
def crowd_settings(settings):
    settings.CROWDS_PUBLIC_BASE_URL = "https://labs.example.org"
    settings.MTURK_SANDBOX = True
    settings.MTURK_RETRY_BASE_SECONDS = 0.5
    return settings


@pytest.fixture
def mturk():
    """(api, stubber, sleeps): every MTurk call must be queued on the stubber; backoff sleeps
    are recorded instead of slept."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=MTURK_SANDBOX_ENDPOINT,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",  # noqa: S106
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    sleeps: list[float] = []
    with Stubber(client) as stubber:
        yield MTurkApi(client, sleep=sleeps.append), stubber, sleeps
        stubber.assert_no_pending_responses()


@pytest.fixture
def mturk_project(db, crowd_settings):
    project = project_make(
        images=12, images_per_hit=4, gold=2, gold_per_hit=2, min_votes=1, max_votes=3
    )
    project.budget_cents, project.crowd_backend = 10_000, "mturk"
    project.save(update_fields=["budget_cents", "crowd_backend"])
    return project


@pytest.fixture
def published_hit(mturk_project):
    """A publication with one open HIT, as mturk_publish leaves it."""
    publication = CrowdPublication.objects.create(
        project=mturk_project, title="t", description="d", reward_cents=10, bonus_cents=5,
        committed_cents=108,
    )  # fmt: skip
    synset_id = mturk_project.project_synsets.first().synset_id
    return CrowdHIT.objects.create(
        publication=publication, project=mturk_project, synset_id=synset_id,
        hit_id="HIT0000000000000000000000001", max_assignments=9, reward_cents=10,
    )  # fmt: skip
