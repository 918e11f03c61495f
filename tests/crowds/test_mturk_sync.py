"""labeling/crowds: MTurk submissions stay pending until a sync confirms them with the platform's
record (same assignment, worker and answer); then approve/reject/bonus, expiry, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.stub import ANY
from django.utils import timezone

from consensus.recompute import synset_recompute_consensus
from crowds.assignments import crowd_assignment_submit, mturk_assignment_open
from crowds.models import CrowdAssignment, CrowdHIT, CrowdPayment
from crowds.mturk import mturk_close, mturk_sync
from labeling.hits.submission import AlreadySubmittedDifferently, InvalidItems
from labeling.models import AssignmentItem, Item, ProjectSynset, Vote

SANDBOX = "https://workersandbox.mturk.com"
ANSWER_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/"
    "QuestionFormAnswers.xsd"
)


def answer_xml(**fields: str) -> str:
    """An Answer document as MTurk builds it from the fields posted to externalSubmit."""
    body = "".join(
        f"<Answer><QuestionIdentifier>{k}</QuestionIdentifier><FreeText>{v}</FreeText></Answer>"
        for k, v in fields.items()
    )
    return f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{ANSWER_NS}">{body}</QuestionFormAnswers>'  # noqa: E501


def work(hit, assignment_id: str, worker_id: str, *, gold_right: bool = True):
    """A worker accepts and submits: selects gold positives (or, if not ``gold_right``, the
    gold negatives) and the first non-gold image."""
    crowd = mturk_assignment_open(
        hit=hit, external_assignment_id=assignment_id, worker_id=worker_id, submit_origin=SANDBOX
    )
    rows = list(
        AssignmentItem.objects.filter(assignment=crowd.assignment)
        .order_by("position")
        .values_list("item_id", "is_gold", "item__gold_label")
    )
    plain = [pk for pk, gold, _ in rows if not gold]
    selected = {pk for pk, gold, label in rows if gold and bool(label) == gold_right}
    selected.add(plain[0])
    crowd = crowd_assignment_submit(
        crowd_assignment_id=crowd.pk,
        selected=sorted(selected),
        unselected=sorted({pk for pk, _, _ in rows} - selected),
        duration_ms=30_000,
    )
    return crowd


def record(crowd, *, worker_id=None, digest=None, status="Submitted"):
    return {
        "AssignmentId": crowd.external_assignment_id,
        "WorkerId": worker_id or crowd.external_worker_id,
        "HITId": crowd.hit.hit_id,
        "AssignmentStatus": status,
        "Answer": answer_xml(digest=digest or crowd.answer_digest),
    }


def expect_list(stubber, hit, records, *, next_token=None, token=None):
    params = {"HITId": hit.hit_id, "MaxResults": 100,
              "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}  # fmt: skip
    if token:
        params["NextToken"] = token
    response = {"NumResults": len(records), "Assignments": records}
    if next_token:
        response["NextToken"] = next_token
    stubber.add_response("list_assignments_for_hit", response, params)


def bonus_params(token) -> dict:
    return {"WorkerId": "AWORKER1", "BonusAmount": "0.05", "AssignmentId": "ASSIGN0001",
            "Reason": ANY, "UniqueRequestToken": token}  # fmt: skip


def counts(item_ids):
    return sorted(Item.objects.filter(pk__in=item_ids).values_list("yes_votes", "no_votes"))


@pytest.mark.django_db
def test_submission_is_pending_until_a_paginated_sync_confirms_and_pays(
    published_hit, mturk, django_capture_on_commit_callbacks
):
    api, stubber, _ = mturk
    first = work(published_hit, "ASSIGN0001", "AWORKER1")
    second = work(published_hit, "ASSIGN0002", "AWORKER2")
    items = list(AssignmentItem.objects.filter(assignment__crowd__in=[first, second])
                 .values_list("item_id", flat=True))  # fmt: skip
    # Pending: stored, but no counter moved and consensus sees nothing.
    assert set(Vote.objects.filter(item_id__in=items).values_list("status", flat=True)) == {
        Vote.Status.PENDING
    }
    assert all(yes == no == 0 for yes, no in counts(items))

    expect_list(stubber, published_hit, [record(first)], next_token="page2")
    expect_list(stubber, published_hit, [record(second)], token="page2")
    for crowd in (first, second):
        stubber.add_response(
            "approve_assignment", {}, {"AssignmentId": crowd.external_assignment_id}
        )
        stubber.add_response(
            "send_bonus", {},
            {"WorkerId": crowd.external_worker_id, "BonusAmount": "0.05",
             "AssignmentId": crowd.external_assignment_id, "Reason": ANY,
             "UniqueRequestToken": f"synsetlab-bonus-{crowd.pk}"},
        )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    assert (result.seen, result.confirmed, result.approved, result.bonuses) == (2, 2, 2, 2)
    assert set(Vote.objects.filter(item_id__in=items).values_list("status", flat=True)) == {
        Vote.Status.CONFIRMED
    }
    assert sum(yes + no for yes, no in counts(items)) == 2 * 6
    payments = CrowdPayment.objects.filter(status=CrowdPayment.Status.SENT)
    assert sorted(payments.values_list("kind", "amount_cents", "fee_cents")) == [
        ("bonus", 5, 1), ("bonus", 5, 1), ("reward", 10, 2), ("reward", 10, 2),
    ]  # fmt: skip
    assert CrowdHIT.objects.get().assignments_submitted == 2


@pytest.mark.django_db
def test_a_forged_worker_id_never_reaches_consensus(published_hit, mturk):
    api, stubber, _ = mturk
    forged = work(published_hit, "ASSIGN0001", "AFORGED")
    items = list(forged.assignment.assignment_items.values_list("item_id", flat=True))
    # MTurk's record of that assignment names the real worker.
    expect_list(stubber, published_hit, [record(forged, worker_id="AREALWORKER")])

    result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    forged.refresh_from_db()
    assert (result.confirmed, result.mismatched) == (0, 1)
    assert forged.state == CrowdAssignment.State.MISMATCH
    statuses = Vote.objects.filter(assignment=forged.assignment).values_list("status", flat=True)
    assert set(statuses) == {Vote.Status.EXCLUDED}
    assert all(yes == no == 0 for yes, no in counts(items))
    assert not Item.objects.filter(pk__in=items, is_gold=False, active_leases__gt=0).exists()
    project_synset = ProjectSynset.objects.get(
        project=published_hit.project, synset_id=published_hit.synset_id
    )
    assert synset_recompute_consensus(project_synset_id=project_synset.pk).votes == 0

    # A later sync does not resurrect it, nor approve or reject anything.
    expect_list(stubber, published_hit, [record(forged, worker_id="AREALWORKER")])
    assert mturk_sync(publication_id=published_hit.publication_id, api=api).confirmed == 0


@pytest.mark.django_db
def test_a_different_answer_on_mturk_does_not_confirm(published_hit, mturk):
    api, stubber, _ = mturk
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1")
    expect_list(stubber, published_hit, [record(crowd, digest="0" * 32)])

    result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    assert result.mismatched == 1
    assert not Vote.objects.filter(status=Vote.Status.CONFIRMED).exists()


@pytest.mark.django_db
def test_failed_gold_check_is_rejected_with_a_reason_and_no_bonus(published_hit, mturk):
    api, stubber, _ = mturk
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1", gold_right=False)
    expect_list(stubber, published_hit, [record(crowd)])
    stubber.add_response(
        "reject_assignment", {}, {"AssignmentId": "ASSIGN0001", "RequesterFeedback": ANY}
    )

    result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    crowd.refresh_from_db()
    assert (result.rejected, result.approved, result.bonuses) == (1, 0, 0)
    assert crowd.payment == CrowdAssignment.Payment.REJECTED
    assert "2 of the 2 check images" in crowd.feedback
    assert not CrowdPayment.objects.exists()


@pytest.mark.django_db
def test_sync_is_idempotent(published_hit, mturk):
    api, stubber, _ = mturk
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1")
    expect_list(stubber, published_hit, [record(crowd)])
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "ASSIGN0001"})
    stubber.add_response("send_bonus", {}, bonus_params(ANY))
    mturk_sync(publication_id=published_hit.publication_id, api=api)

    # Second run: MTurk now says Approved; nothing is approved, paid or counted again.
    expect_list(stubber, published_hit, [record(crowd, status="Approved")])
    again = mturk_sync(publication_id=published_hit.publication_id, api=api)

    assert (again.confirmed, again.approved, again.bonuses) == (0, 0, 0)
    assert CrowdPayment.objects.count() == 2
    assert Vote.objects.filter(status=Vote.Status.CONFIRMED).count() == 6


@pytest.mark.django_db
def test_bonus_retry_reuses_its_unique_request_token(published_hit, mturk):
    api, stubber, _ = mturk
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1")
    expect_list(stubber, published_hit, [record(crowd)])
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "ASSIGN0001"})
    stubber.add_client_error("send_bonus", service_error_code="ServiceFault",
                             service_message="internal", http_status_code=500)  # fmt: skip
    with pytest.raises(Exception, match="internal"):
        mturk_sync(publication_id=published_hit.publication_id, api=api)
    token = CrowdPayment.objects.get(kind="bonus", status="pending").token

    expect_list(stubber, published_hit, [record(crowd, status="Approved")])
    stubber.add_response("send_bonus", {}, bonus_params(token))
    assert mturk_sync(publication_id=published_hit.publication_id, api=api).bonuses == 1
    assert CrowdPayment.objects.get(kind="bonus").status == "sent"


@pytest.mark.django_db
def test_throttled_listing_is_retried(published_hit, mturk):
    api, stubber, sleeps = mturk
    stubber.add_client_error("list_assignments_for_hit", service_error_code="ThrottlingException",
                             service_message="Rate exceeded", http_status_code=400)  # fmt: skip
    expect_list(stubber, published_hit, [])

    mturk_sync(publication_id=published_hit.publication_id, api=api)

    assert len(sleeps) == 1


@pytest.mark.django_db
def test_hits_of_a_finished_synset_are_expired(published_hit, mturk):
    api, stubber, _ = mturk
    Item.objects.filter(project=published_hit.project, is_gold=False).update(
        state=Item.State.ACCEPTED, votes_needed=0
    )
    expect_list(stubber, published_hit, [])
    stubber.add_response(
        "update_expiration_for_hit", {}, {"HITId": published_hit.hit_id, "ExpireAt": ANY}
    )

    result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    published_hit.refresh_from_db()
    assert result.expired_hits == 1 and published_hit.status == CrowdHIT.Status.EXPIRED
    assert published_hit.publication.__class__.objects.get().committed_cents == 0
    # Already expired: a second sync makes no expiry call.
    mturk_sync(publication_id=published_hit.publication_id, api=api)


@pytest.mark.django_db
def test_close_expires_open_hits(published_hit, mturk):
    api, stubber, _ = mturk
    stubber.add_response(
        "update_expiration_for_hit", {}, {"HITId": published_hit.hit_id, "ExpireAt": ANY}
    )
    assert mturk_close(publication_id=published_hit.publication_id, api=api) == 1
    assert mturk_close(publication_id=published_hit.publication_id, api=api) == 0


@pytest.mark.django_db
def test_never_confirmed_submissions_are_excluded_after_the_timeout(published_hit, mturk):
    api, stubber, _ = mturk
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1")
    CrowdAssignment.objects.filter(pk=crowd.pk).update(
        submitted_at=timezone.now() - timedelta(days=2)
    )
    expect_list(stubber, published_hit, [])

    result = mturk_sync(publication_id=published_hit.publication_id, api=api)

    assert result.unconfirmed == 1
    assert set(Vote.objects.values_list("status", flat=True)) == {Vote.Status.EXCLUDED}


@pytest.mark.django_db
def test_replayed_submission_creates_nothing_new(published_hit):
    crowd = work(published_hit, "ASSIGN0001", "AWORKER1")
    answers = crowd.assignment.result["_answers"]
    votes = Vote.objects.count()

    again = crowd_assignment_submit(
        crowd_assignment_id=crowd.pk, selected=answers["selected"],
        unselected=answers["unselected"], duration_ms=1,
    )  # fmt: skip

    assert again.answer_digest == crowd.answer_digest and Vote.objects.count() == votes
    with pytest.raises(AlreadySubmittedDifferently):
        crowd_assignment_submit(
            crowd_assignment_id=crowd.pk, selected=[], duration_ms=1,
            unselected=answers["selected"] + answers["unselected"],
        )  # fmt: skip


@pytest.mark.django_db
def test_an_assignment_id_is_bound_to_its_first_worker(published_hit):
    work(published_hit, "ASSIGN0001", "AWORKER1")
    with pytest.raises(InvalidItems):
        mturk_assignment_open(hit=published_hit, external_assignment_id="ASSIGN0001",
                              worker_id="AOTHER", submit_origin=SANDBOX)  # fmt: skip


@pytest.mark.django_db
def test_confirming_a_submission_made_after_its_lease_expired_returns_no_lease_twice(published_hit):
    """The lease of an assignment that expired before the worker submitted was already returned
    by lease expiry; confirming its votes must not return it a second time (it used to, and the
    drift let the scheduler hand the images to more workers than they needed)."""
    from crowds.assignments import crowd_assignment_confirm
    from labeling.hits.scheduler import leases_expire
    from labeling.models import Assignment

    crowd = mturk_assignment_open(
        hit=published_hit, external_assignment_id="ASSIGNLATE", worker_id="ALATE",
        submit_origin=SANDBOX,
    )  # fmt: skip
    plain = list(
        AssignmentItem.objects.filter(assignment=crowd.assignment, is_gold=False).values_list(
            "item_id", flat=True
        )
    )
    rows = list(
        AssignmentItem.objects.filter(assignment=crowd.assignment).values_list("item_id", flat=True)
    )
    # Another worker holds a lease on the same images meanwhile.
    Item.objects.filter(pk__in=plain).update(active_leases=2)
    Assignment.objects.filter(pk=crowd.assignment_id).update(
        lease_expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert leases_expire() == 1
    assert set(Item.objects.filter(pk__in=plain).values_list("active_leases", flat=True)) == {1}

    crowd_assignment_submit(
        crowd_assignment_id=crowd.pk, selected=[], unselected=sorted(rows), duration_ms=30_000
    )
    crowd_assignment_confirm(crowd_assignment_id=crowd.pk)

    # The other worker's lease is still counted.
    assert set(Item.objects.filter(pk__in=plain).values_list("active_leases", flat=True)) == {1}
    assert all(no == 1 for _, no in counts(plain))
