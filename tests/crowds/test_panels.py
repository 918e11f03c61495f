"""crowds/panels.py: link-based panels — participant accounts from the URL, quota,
completion code, budget, and the CSV of payable participants (CSV-injection-safe)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from crowds.base import BudgetExhausted
from crowds.models import CrowdPayment, PanelParticipant
from crowds.panels import csv_safe, panel_configure, participant_start
from labeling.models import Vote
from tests.factories import project_make


@pytest.fixture
def panel(db, settings):
    project = project_make(images=20, images_per_hit=4, gold=0, gold_per_hit=0, min_votes=2)
    project.budget_cents, project.crowd_backend = 1000, "panel"
    project.save(update_fields=["budget_cents", "crowd_backend"])
    return panel_configure(
        project=project, completion_code="C0DE42", hits_per_participant=2,
        completion_url="https://app.prolific.com/submissions/complete?cc={code}",
        extra_params=["STUDY_ID", "SESSION_ID"], reward_cents_per_hit=20, fee_percent=33,
    )  # fmt: skip


def _label_one(client: Client, panel) -> None:
    page = client.get(reverse("crowds:panel-work", args=[panel.token]))
    html = page.content.decode()
    assignment = re.search(r'name="assignment" value="(\d+)"', html).group(1)
    first = re.search(r'data-item="(\d+)"', html).group(1)
    client.post(reverse("crowds:panel-work", args=[panel.token]),
                {"assignment": assignment, "selected": first, "duration_ms": "8000"})  # fmt: skip


@pytest.mark.django_db
def test_participant_labels_their_quota_and_gets_the_completion_code(panel):
    client = Client()
    entry = reverse("crowds:panel-entry", args=[panel.token])
    response = client.get(entry + "?PROLIFIC_PID=p-123&STUDY_ID=s1&SESSION_ID=x9")
    assert response.status_code == 302
    participant = PanelParticipant.objects.get()
    assert participant.external_id == "p-123" and participant.params == {
        "STUDY_ID": "s1", "SESSION_ID": "x9",
    }  # fmt: skip
    assert not participant.user.has_usable_password()

    _label_one(client, panel)
    _label_one(client, panel)
    done = client.get(reverse("crowds:panel-work", args=[panel.token]))

    assert done.status_code == 302 and done.url.endswith("/done/")
    page = client.get(done.url).content.decode()
    assert "C0DE42" in page
    assert "https://app.prolific.com/submissions/complete?cc=C0DE42" in page
    participant.refresh_from_db()
    assert participant.hits_submitted == 2 and participant.completed_at is not None
    # Panel votes count at once, like the built-in crowd's.
    assert set(Vote.objects.values_list("status", flat=True)) == {Vote.Status.CONFIRMED}
    assert sorted(CrowdPayment.objects.values_list("amount_cents", "fee_cents")) == [
        (20, 7), (20, 7),
    ]  # fmt: skip


@pytest.mark.django_db
def test_completion_page_needs_a_completed_participant(panel):
    client = Client()
    client.get(reverse("crowds:panel-entry", args=[panel.token]) + "?PROLIFIC_PID=p1")
    response = client.get(reverse("crowds:panel-done", args=[panel.token]))
    assert response.status_code == 302 and "C0DE42" not in response.content.decode()


@pytest.mark.django_db
def test_a_link_without_a_participant_id_is_refused(panel):
    response = Client().get(reverse("crowds:panel-entry", args=[panel.token]) + "?PID=x")
    assert response.status_code == 400
    assert not PanelParticipant.objects.exists()


@pytest.mark.django_db
def test_participants_beyond_the_budget_are_turned_away(panel):
    # Each participant may cost 2 × 20¢ + 33% = 53¢; the budget is $10.00: 18 fit.
    for n in range(18):
        participant_start(panel=panel, external_id=f"p{n}", params={})
    with pytest.raises(BudgetExhausted):
        participant_start(panel=panel, external_id="p18", params={})
    # A returning participant is still let in.
    assert participant_start(panel=panel, external_id="p3", params={}).external_id == "p3"


@pytest.mark.django_db
def test_payments_csv_lists_completed_participants_and_is_injection_safe(panel, admin_user):
    client = Client()
    client.get(reverse("crowds:panel-entry", args=[panel.token])
               + "?PROLIFIC_PID=-evil&STUDY_ID=%3DHYPERLINK(%22x%22)")  # fmt: skip
    _label_one(client, panel)
    _label_one(client, panel)
    Client().get(reverse("crowds:panel-entry", args=[panel.token]) + "?PROLIFIC_PID=unfinished")

    staff = Client()
    staff.force_login(admin_user)
    response = staff.get(reverse("crowds:panel-payments", args=[panel.project.slug]))

    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["participant_id", "study_id", "session_id", "hits", "amount",
                       "completed_at"]  # fmt: skip
    assert len(rows) == 2
    assert rows[1][:5] == ["'-evil", "'=HYPERLINK(\"x\")", "", "2", "0.40"]
    anonymous = Client().get(reverse("crowds:panel-payments", args=[panel.project.slug]))
    assert anonymous.status_code == 302


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("ok", "ok")],
)
def test_csv_safe_prefixes_formula_cells(value, expected):
    assert csv_safe(value) == expected
