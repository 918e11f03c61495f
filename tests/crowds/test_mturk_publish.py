"""crowds/mturk.py publishing: HIT type with qualifications, ExternalQuestion HITs split
under MTurk's 10-assignment fee step, balance check, budget stop, clear errors."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY

from crowds.base import BudgetExhausted, CrowdRefused, CrowdUnavailable, PublishSpec
from crowds.costs import mturk_hit_cost_cents
from crowds.models import CrowdHIT, CrowdPublication
from crowds.mturk import MTurkApi, hit_plan, mturk_publish
from tests.factories import project_make

EXPECTED_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2006-07-14/ExternalQuestion.xsd"><ExternalURL>https://labs.example.org/crowds/mturk/hit/'
    "</ExternalURL><FrameHeight>800</FrameHeight></ExternalQuestion>"
)


def _mturk_project(*, images: int, budget_cents: int, **settings):
    project = project_make(images=images, gold=0, gold_per_hit=0, **settings)
    project.budget_cents, project.crowd_backend = budget_cents, "mturk"
    project.save(update_fields=["budget_cents", "crowd_backend"])
    return project


def _expect_balance(stubber, dollars: str = "10000.00"):
    stubber.add_response("get_account_balance", {"AvailableBalance": dollars}, {})


def _expect_hit_type(stubber, project, reward="0.10"):
    stubber.add_response(
        "create_hit_type",
        {"HITTypeId": "TYPE00000000000000000000001"},
        {
            "Title": f"Which images show: {project.name}?",
            "Description": ANY,
            "Keywords": "image, labeling, categorization",
            "Reward": reward,
            "AssignmentDurationInSeconds": project.lease_seconds,
            "AutoApprovalDelayInSeconds": 3 * 24 * 3600,
            "QualificationRequirements": [
                {
                    "QualificationTypeId": "000000000000000000L0",
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [95],
                    "ActionsGuarded": "Accept",
                },
                {
                    "QualificationTypeId": "00000000000000000071",
                    "Comparator": "In",
                    "LocaleValues": [{"Country": c} for c in ["US", "CA", "GB", "AU", "NZ", "IE"]],
                    "ActionsGuarded": "Accept",
                },
            ],
        },
    )


def _expect_hit(stubber, n: int, size: int, publication_pk=ANY):
    token = ANY if publication_pk is ANY else f"synsetlab-{publication_pk}-{n}"
    stubber.add_response(
        "create_hit_with_hit_type",
        {"HIT": {"HITId": f"HIT{n:025d}", "MaxAssignments": size}},
        {
            "HITTypeId": "TYPE00000000000000000000001",
            "MaxAssignments": size,
            "LifetimeInSeconds": 7 * 24 * 3600,
            "Question": EXPECTED_QUESTION,
            "RequesterAnnotation": ANY,
            "UniqueRequestToken": token,
        },
    )


@pytest.mark.django_db
def test_plan_splits_so_no_hit_reaches_ten_assignments(crowd_settings):
    # 40 images × 1 vote, 2 per HIT → 20 assignments: never one HIT of 10 or more (40% fee).
    project = _mturk_project(images=40, budget_cents=10_000, images_per_hit=2, min_votes=1)

    plan = hit_plan(project=project, assignments_per_hit=9)

    assert sorted(size for _, size in plan) == [6, 7, 7]
    assert all(size < 10 for _, size in plan)


@pytest.mark.django_db
def test_publish_creates_hit_type_and_external_question_hits(crowd_settings, mturk):
    api, stubber, _ = mturk
    project = _mturk_project(images=40, budget_cents=10_000, images_per_hit=2, min_votes=1)
    _expect_balance(stubber)
    _expect_hit_type(stubber, project)
    for n, size in enumerate([7, 7, 6]):
        _expect_hit(stubber, n, size)

    result = mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)

    assert (result.hits_created, result.assignments, result.stopped_by) == (3, 20, "")
    publication = CrowdPublication.objects.get(project=project)
    assert publication.hit_type_id == "TYPE00000000000000000000001" and publication.sandbox
    assert sorted(CrowdHIT.objects.values_list("max_assignments", flat=True)) == [6, 7, 7]
    # 10¢ reward + 2¢ fee (20%) per assignment.
    assert publication.committed_cents == result.committed_cents == 20 * 12


@pytest.mark.django_db
def test_publish_stops_at_the_budget(crowd_settings, mturk):
    api, stubber, _ = mturk
    hit_cost = mturk_hit_cost_cents(reward_cents=10, max_assignments=7)
    project = _mturk_project(
        images=40, budget_cents=2 * hit_cost + 5, images_per_hit=2, min_votes=1
    )
    _expect_balance(stubber)
    _expect_hit_type(stubber, project)
    _expect_hit(stubber, 0, 7)
    _expect_hit(stubber, 1, 7)

    result = mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)

    assert (result.hits_created, result.stopped_by) == (2, "budget")
    assert CrowdPublication.objects.get().committed_cents == 2 * hit_cost <= project.budget_cents


@pytest.mark.django_db
def test_publish_stops_at_the_account_balance(crowd_settings, mturk):
    api, stubber, _ = mturk
    project = _mturk_project(images=40, budget_cents=10_000, images_per_hit=2, min_votes=1)
    _expect_balance(stubber, "0.90")  # one HIT of 7 × 12¢ = 84¢ fits, two do not

    _expect_hit_type(stubber, project)
    _expect_hit(stubber, 0, 7)

    result = mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)

    assert (result.hits_created, result.stopped_by) == (1, "balance")


@pytest.mark.django_db
def test_exhausted_budget_publishes_nothing(crowd_settings, mturk):
    api, stubber, _ = mturk
    project = _mturk_project(images=40, budget_cents=50, images_per_hit=2, min_votes=1)
    _expect_balance(stubber)

    with pytest.raises(BudgetExhausted, match="0 of 3 HITs fit"):
        mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)

    assert not CrowdPublication.objects.exists()


@pytest.mark.django_db
def test_publishing_without_a_budget_is_refused_before_any_call(crowd_settings, mturk):
    api, _, _ = mturk
    project = _mturk_project(images=4, budget_cents=None)

    with pytest.raises(BudgetExhausted, match="Set a budget"):
        mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)


@pytest.mark.django_db
def test_refused_account_gives_a_clear_message(crowd_settings, mturk):
    api, stubber, _ = mturk
    project = _mturk_project(images=4, budget_cents=1000)
    stubber.add_client_error(
        "get_account_balance",
        service_error_code="RequestError",
        service_message="Amazon Mechanical Turk is closed as of 2026-09-30.",
        http_status_code=400,
    )

    with pytest.raises(CrowdRefused) as caught:
        mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=api)

    assert "closed as of 2026-09-30" in caught.value.message
    assert "GetAccountBalance" in caught.value.message or "get_account_balance" in (
        caught.value.message
    )


@pytest.mark.django_db
def test_unreachable_endpoint_gives_a_clear_message(crowd_settings):
    # A real client against a closed local port: botocore raises EndpointConnectionError.
    client = boto3.client(
        "mturk", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",  # noqa: S106
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )  # fmt: skip
    project = _mturk_project(images=4, budget_cents=1000)

    with pytest.raises(CrowdUnavailable, match="Cannot reach the MTurk endpoint http://127.0.0.1:9"):
        mturk_publish(project=project, spec=PublishSpec(reward_cents=10), api=MTurkApi(client))


def test_throttling_is_retried_with_backoff(mturk, settings):
    api, stubber, sleeps = mturk
    settings.MTURK_RETRY_BASE_SECONDS = 1.0
    for _ in range(2):
        stubber.add_client_error(
            "get_account_balance", service_error_code="ThrottlingException",
            service_message="Rate exceeded", http_status_code=400,
        )  # fmt: skip
    _expect_balance(stubber, "12.34")

    assert api.balance_cents() == 1234
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_throttling_gives_up_after_the_retry_limit(mturk, settings):
    api, stubber, sleeps = mturk
    settings.MTURK_MAX_RETRIES = 2
    for _ in range(3):
        stubber.add_client_error(
            "get_account_balance", service_error_code="ServiceUnavailable",
            service_message="try later", http_status_code=503,
        )  # fmt: skip

    with pytest.raises(CrowdRefused, match="ServiceUnavailable"):
        api.balance_cents()
    assert len(sleeps) == 2
