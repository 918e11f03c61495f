"""Finding one's way: the landing after login, the annotator's /label/ list with progress, the
menu, the login form's focus, and empty states that say what to do next."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from labeling.models import Item, ProjectMember, ProjectSynset
from labeling.roles import annotator_create
from tests.factories import project_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator():
    return annotator_create(username="ann", password="a-long-pass-phrase-1")


def test_login_sends_annotators_to_label_and_staff_to_the_projects(client, annotator):
    get_user_model().objects.create_user("boss", password="a-long-pass-phrase-2", is_staff=True)
    login = reverse("login")

    response = client.post(login, {"username": "ann", "password": "a-long-pass-phrase-1"})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse("labeling:index")
    client.logout()
    response = client.post(login, {"username": "boss", "password": "a-long-pass-phrase-2"})
    assert client.get(response["Location"])["Location"] == reverse("dashboards:index")


def test_login_form_focuses_its_first_field(client):
    html = client.get(reverse("login")).content.decode()
    assert 'id="id_username"' in html
    username = html[html.index('<input id="id_username"') :]
    assert "autofocus" in username[: username.index(">")]


def test_label_lists_only_the_projects_the_annotator_may_label_with_progress(client, annotator):
    invited = project_make(name="Invited", images=4, open_to_all_annotators=False)
    project_make(name="Not invited", images=4, open_to_all_annotators=False)
    ProjectMember.objects.create(project=invited, user=annotator)
    ProjectSynset.objects.filter(project=invited).update(accepted_count=2)
    Item.objects.filter(project=invited).order_by("pk")[:1].get()  # exists
    first = Item.objects.filter(project=invited).order_by("pk").first()
    Item.objects.filter(pk=first.pk).update(state=Item.State.ACCEPTED, votes_needed=0)
    client.force_login(annotator)

    html = client.get(reverse("labeling:index")).content.decode()

    assert "Invited" in html and "Not invited" not in html
    assert reverse("labeling:grid", args=[invited.slug]) in html
    assert f"2 of {invited.target_per_synset} images accepted" in html
    assert "1 of 4 decided" in html
    # The menu reaches /label/ and My work from every page.
    assert f'href="{reverse("labeling:index")}"' in html
    assert f'href="{reverse("labeling:me")}"' in html


def test_label_without_projects_says_how_to_get_one(client, annotator):
    client.force_login(annotator)
    html = client.get(reverse("labeling:index")).content.decode()
    assert "invite link" in html and reverse("labeling:me") in html


def test_label_requires_login(client):
    response = client.get(reverse("labeling:index"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_staff_overview_shows_progress_open_work_cost_and_links(client, admin_user):
    project = project_make(name="Birds", synsets=2, images=5)
    empty = project_make(name="Empty one", synsets=1, images=0)
    client.force_login(admin_user)

    html = client.get(reverse("dashboards:index")).content.decode()

    assert "Birds" in html and "Empty one" in html
    row = html[html.index(f'data-project="{project.slug}"') :]
    row = row[: row.index("</tr>")]
    assert ">10<" in row  # open images
    assert "$0.00" in row
    for name in ("dashboards:project", "dashboards:workers", "dashboards:exports"):
        assert reverse(name, args=[project.slug]) in row
    empty_row = html[html.index(f'data-project="{empty.slug}"') :]
    assert reverse("labeling:project-collect", args=[empty.slug]) in empty_row.split("</tr>")[0]


def test_project_sub_navigation_reaches_every_staff_page(client, admin_user):
    project = project_make(images=3)
    project.owners.add(admin_user)
    client.force_login(admin_user)

    html = client.get(reverse("dashboards:project", args=[project.slug])).content.decode()
    nav = html[html.index('class="dash-nav"') : html.index("</nav>", html.index("dash-nav"))]

    for label, url in [
        ("Dashboard", reverse("dashboards:project", args=[project.slug])),
        ("Candidates", reverse("dashboards:candidates", args=[project.slug])),
        ("Collection", reverse("labeling:project-collect", args=[project.slug])),
        ("Gold", reverse("labeling:project-gold", args=[project.slug])),
        ("Workers", reverse("dashboards:workers", args=[project.slug])),
        ("Crowds and costs", reverse("crowds:project", args=[project.slug])),
        ("Invites", reverse("labeling:invite-create", args=[project.slug])),
        ("Precision audit", reverse("dashboards:audits", args=[project.slug])),
        ("Export", reverse("dashboards:exports", args=[project.slug])),
    ]:
        assert f'href="{url}"' in nav and label in nav, label
    pages = ("dashboards:candidates", "crowds:project", "crowds:costs", "labeling:invite-create")
    for page in pages:
        other = client.get(reverse(page, args=[project.slug])).content.decode()
        assert 'class="dash-nav"' in other, page


def test_a_project_without_images_points_to_collection(client, admin_user):
    project = project_make(images=0)
    project.owners.add(admin_user)
    client.force_login(admin_user)
    collect = reverse("labeling:project-collect", args=[project.slug])

    dashboard = client.get(reverse("dashboards:project", args=[project.slug])).content.decode()
    assert 'id="dashboard-empty"' in dashboard and f'href="{collect}"' in dashboard
    assert "Nothing is hard" not in dashboard
    grid = client.get(reverse("labeling:grid", args=[project.slug])).content.decode()
    assert "Nothing left to label" in grid and f'href="{collect}"' in grid
    assert reverse("labeling:index") in grid


def test_candidates_page_counts_per_synset(client, admin_user):
    project = project_make(synsets=2, images=3)
    client.force_login(admin_user)
    html = client.get(reverse("dashboards:candidates", args=[project.slug])).content.decode()
    for wnid in project.project_synsets.values_list("synset_id", flat=True):
        assert reverse("candidates:synset", args=[wnid]) in html
    assert html.count('<td class="num">3</td>') >= 4  # candidates, stored, to verify × 2
