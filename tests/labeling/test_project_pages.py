"""The staff pages of a project (create with preview, synsets and settings, collection, gold, API
token) through Django's test client, on a small synthetic subtree; bad input on every form is
refused with a message and changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count
from rest_framework.authtoken.models import Token

from candidates.models import CollectionJob
from labeling.models import GoldReview, Item, Project
from synsets.models import SynsetClosure, SynsetEdge
from tests.factories import CandidateFactory, SynsetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    """root → (left, right): a three-synset subtree with closure rows."""
    root, left, right = SynsetFactory(), SynsetFactory(), SynsetFactory()
    for child in (left, right):
        SynsetEdge.objects.create(parent=root, child=child, kind="hypernym")
        SynsetClosure.objects.create(ancestor=root, descendant=child, distance=1)
    return root, left, right


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def _create_form(**extra) -> dict:
    return {"name": "Things", "subtrees": "auto", "images_per_hit": 24, "gold_per_hit": 2,
            "seed_size": 2, "min_votes": 2, "max_votes": 10, "accept_threshold": 0.95,
            "reward_cents_per_hit": 5, "label_internal": "on", **extra}  # fmt: skip


def test_annotators_cannot_open_the_staff_pages(client, annotator, tree):
    client.force_login(annotator)
    for url in ("/projects/new/", "/account/tokens/"):
        assert client.get(url).status_code in (302, 403)


def test_preview_describes_the_subtree_and_saves_nothing(staff, tree):
    root, left, _ = tree
    CandidateFactory.create_batch(3, synset=left)
    response = staff.post("/projects/new/", _create_form(synsets=root.wnid, action="preview"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="preview-synsets">3<' in page and 'id="preview-leaves">2<' in page
    assert "3 stored candidates in 1 synsets" in page
    assert "Internal synsets (those with hyponyms" in page  # the decision, said on the page
    assert Project.objects.count() == 0


def test_creating_from_an_uploaded_wnid_list_fills_the_project(staff, tree, admin_user):
    _, left, right = tree
    CandidateFactory.create_batch(4, synset=left)
    upload = SimpleUploadedFile("wnids.txt", f"# mine\n{left.wnid}\n{right.wnid}\n".encode())
    response = staff.post(
        "/projects/new/", _create_form(wnid_file=upload, slug="mine", action="create")
    )
    assert response.status_code == 302 and response["Location"] == "/projects/mine/collect/"
    project = Project.objects.get(slug="mine")
    assert set(project.project_synsets.values_list("synset_id", flat=True)) == {
        left.wnid, right.wnid
    }  # fmt: skip
    assert Item.objects.filter(project=project).count() == 4
    assert list(project.owners.all()) == [admin_user]
    assert project.target_per_synset == 2  # the median stored (4 and 0) caps ImageNet's 1000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"wnid_list": "n99999998"}, "Unknown wnids (not in WordNet 3.0): n99999998"),
        ({"wnid_list": "dog"}, "is not a wnid (n + 8 digits)"),
        ({"preset": "reptile", "wnid_list": "n99999998"}, "a preset and a wnid list were both"),
        ({}, "Select at least one synset"),
        ({"wnid_file": SimpleUploadedFile("empty.txt", b"")}, "The submitted file is empty."),
        ({"synsets": "no such lemma anywhere"}, "no synset has this lemma or wnid"),
    ],
)
def test_bad_project_forms_are_refused_and_save_nothing(staff, tree, extra, message):
    response = staff.post("/projects/new/", _create_form(action="create", **extra))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Project.objects.count() == 0


def test_a_duplicate_slug_is_refused(staff, tree):
    root = tree[0]
    staff.post("/projects/new/", _create_form(synsets=root.wnid, slug="taken", action="create"))
    response = staff.post(
        "/projects/new/", _create_form(synsets=root.wnid, slug="taken", action="create")
    )
    assert "A project with the slug &#x27;taken&#x27; already exists." in response.content.decode()
    assert Project.objects.count() == 1


@pytest.fixture
def project(staff, tree):
    root = tree[0]
    staff.post("/projects/new/", _create_form(synsets=root.wnid, slug="things", action="create"))
    return Project.objects.get(slug="things")


def test_settings_page_shows_targets_against_what_was_collected(staff, project, tree):
    _, left, right = tree
    CandidateFactory.create_batch(2, synset=right)
    page = staff.get("/projects/things/settings/").content.decode()
    assert "Internal synsets are labelled" in page
    assert "only 2 collected" in page
    response = staff.post("/projects/things/settings/",
                          {"action": "settings", "target_per_synset": 40})  # fmt: skip
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.target_per_synset, project.label_internal) == (40, False)
    bad = staff.post("/projects/things/settings/", {"action": "settings", "target_per_synset": 0})
    assert bad.status_code == 200 and "greater than or equal to 1" in bad.content.decode()


def test_adding_synsets_on_the_settings_page(staff, project):
    extra = SynsetFactory()
    CandidateFactory.create_batch(2, synset=extra)
    form = {"action": "add", "wnid_list": extra.wnid, "subtrees": "auto"}
    response = staff.post("/projects/things/settings/", form)
    assert response.status_code == 302
    assert Item.objects.filter(project=project, synset=extra).count() == 2
    bad = staff.post("/projects/things/settings/",
                     {"action": "add", "wnid_list": "n99999997", "subtrees": "auto"})  # fmt: skip
    assert "Unknown wnids" in bad.content.decode()


def test_the_collect_page_starts_a_job_and_refuses_bad_input(staff, project, settings, tmp_path):
    settings.CANDIDATES_FOLDER_ROOTS = [str(tmp_path / "allowed")]
    (tmp_path / "allowed").mkdir()
    page = staff.get("/projects/things/collect/").content.decode()
    assert "No job yet" in page and str(tmp_path / "allowed") in page
    cases = [
        ({"source": "urls", "url_list": SimpleUploadedFile("l.txt", b"")}, "The URL list is empty"),
        ({"source": "folder", "folder": "/etc"}, "outside the folders this server allows"),
        ({"source": "urls"}, "Upload a URL list"),
    ]
    for data, message in cases:
        response = staff.post("/projects/things/collect/", data)
        assert response.status_code == 200 and message in response.content.decode(), data
    assert CollectionJob.objects.count() == 0
    started = staff.post("/projects/things/collect/", {"source": "openverse"})
    job = CollectionJob.objects.get()
    assert started["Location"] == f"/candidates/jobs/{job.pk}/"
    assert len(job.wnids) == 3
    job_page = staff.get(started["Location"]).content.decode()
    assert "Rejected, by reason" in job_page and "Matching no synset of this job" in job_page


def test_the_gold_page_says_when_there_is_no_gold_and_adds_gold_by_number(staff, project, tree):
    page = staff.get("/projects/things/gold/").content.decode()
    assert "quality control rests on agreement between workers alone" in page
    candidate = CandidateFactory(synset=tree[1])
    response = staff.post("/projects/things/gold/", {"candidate": candidate.pk, "label": "yes"})
    assert response.status_code == 302
    assert Item.objects.get(project=project, candidate=candidate).gold_label is True
    cases = [
        ({"candidate": "abc", "label": "yes"}, "Give the candidate"),
        ({"candidate": 10**9, "label": "no"}, "is not a stored image"),
        ({"candidate": candidate.pk, "label": "maybe"}, "Choose gold yes"),
    ]
    for data, message in cases:
        followed = staff.post("/projects/things/gold/", data, follow=True).content.decode()
        assert message in followed
    assert GoldReview.objects.count() == 1
    page = staff.get("/projects/things/gold/").content.decode()
    assert "1</strong> gold image (1 yes, 0 no)" in page


def test_the_token_page_creates_shows_once_and_revokes(staff, admin_user):
    assert "You have no token." in staff.get("/account/tokens/").content.decode()
    created = staff.post("/account/tokens/", {"action": "create"}).content.decode()
    key = Token.objects.get(user=admin_user).key
    assert key in created
    assert key not in staff.get("/account/tokens/").content.decode()  # shown once
    staff.post("/account/tokens/", {"action": "revoke"})
    assert not Token.objects.filter(user=admin_user).exists()


def test_the_dashboard_says_what_quality_control_rests_on(staff, project, tree):
    page = staff.get("/dashboard/things/").content.decode()
    assert "quality control rests on agreement between workers alone" in page
    candidate = CandidateFactory(synset=tree[2])
    staff.post("/projects/things/gold/", {"candidate": candidate.pk, "label": "no"})
    page = staff.get("/dashboard/things/").content.decode()
    assert "1 gold image</strong> (0 yes, 1 no) check every worker" in page


def test_the_cli_is_a_third_door_to_the_same_service(tree, admin_user, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    root, left, _ = tree
    CandidateFactory.create_batch(2, synset=left)
    out = StringIO()
    call_command("project_create", "CLI things", "--slug", "cli", "--synset", root.wnid,
                 "--owner", admin_user.username, stdout=out)  # fmt: skip
    assert "3 synsets, 2 leaves" in out.getvalue()
    project = Project.objects.get(slug="cli")
    assert Item.objects.filter(project=project).count() == 2
    assert list(project.owners.all()) == [admin_user]
    wnid_file = tmp_path / "wnids.txt"
    wnid_file.write_text(left.wnid + "\n")
    with pytest.raises(CommandError, match="a preset and a wnid list were both given"):
        call_command("project_create", "Bad", "--preset", "reptile", "--wnid-list", str(wnid_file))
    with pytest.raises(CommandError, match="already exists"):
        call_command("project_create", "Again", "--slug", "cli", "--synset", root.wnid)
    assert Project.objects.count() == 1


def test_an_imagenet_named_folder_and_archive_are_split_over_the_subtree(
    staff, project, tree, settings, tmp_path
):
    import zipfile

    from candidates.collection import collection_job_run
    from tests.labeling.workflow_helpers import SAMPLES

    root, left, right = tree
    stranger = SynsetFactory()
    photos = sorted(SAMPLES.glob("*.JPEG"))[:6]
    folder = tmp_path / "allowed" / "train"
    (folder / left.wnid).mkdir(parents=True)
    for photo in photos[:2]:  # ImageNet's train/<wnid>/ layout
        (folder / left.wnid / photo.name).write_bytes(photo.read_bytes())
    with zipfile.ZipFile(folder / f"{right.wnid}.zip", "w") as archive:  # <wnid>.zip
        for photo in photos[2:5]:
            archive.write(photo, photo.name)
    (folder / f"{stranger.wnid}_1.JPEG").write_bytes(photos[5].read_bytes())
    settings.CANDIDATES_FOLDER_ROOTS = [str(tmp_path / "allowed")]

    form = {"source": "folder", "folder": str(folder), "wnids": [root.wnid]}
    response = staff.post("/projects/things/collect/", form)
    job = collection_job_run(job_id=CollectionJob.objects.get().pk)

    assert response.status_code == 302 and job.status == CollectionJob.Status.DONE, job.error
    by_synset = dict(
        Item.objects.filter(project=project).values_list("synset_id").annotate(n=Count("pk"))
    )
    assert by_synset == {left.wnid: 2, right.wnid: 3}
    assert job.source_report["unmatched_by_wnid"] == {stranger.wnid: 1}
    assert f"{stranger.wnid}_1.JPEG" in job.source_report["unmatched_examples"][0]


def test_superusers_create_and_revoke_tokens_in_the_admin(client, django_user_model, admin_user):
    root = django_user_model.objects.create_superuser(username="root", password="pw-root-123")
    client.force_login(root)
    assert client.get("/admin/authtoken/tokenproxy/add/").status_code == 200
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": admin_user.pk})
    assert response.status_code == 302, response.content.decode()[-500:]
    token = Token.objects.get(user=admin_user)
    # DRF's admin addresses a token by its user.
    client.post(f"/admin/authtoken/tokenproxy/{token.user_id}/delete/", {"post": "yes"})
    assert not Token.objects.filter(user=admin_user).exists()


def test_an_s3_prefix_is_split_over_the_subtree_with_the_servers_credentials(
    staff, project, tree, monkeypatch
):
    import boto3
    from moto.server import ThreadedMotoServer

    from candidates.collection import collection_job_run
    from tests.labeling.workflow_helpers import SAMPLES

    root, left, right = tree
    stranger = SynsetFactory()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # The server's own credentials (boto3's chain); the form never carries any.
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"),
                            ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
            monkeypatch.setenv(name, value)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="photos")
        photos = sorted(SAMPLES.glob("*.JPEG"))[:4]
        keys = [f"train/{left.wnid}/{photos[0].name}", f"train/{right.wnid}/{photos[1].name}",
                f"train/{right.wnid}/{photos[2].name}", f"train/{stranger.wnid}_9.JPEG",
                "elsewhere/x.JPEG"]  # fmt: skip
        for key, photo in zip(keys, [*photos, photos[0]], strict=True):
            client.put_object(Bucket="photos", Key=key, Body=photo.read_bytes())
        form = {"source": "s3", "s3_bucket": "photos", "s3_prefix": "train/",
                "s3_endpoint_url": endpoint, "wnids": [root.wnid]}  # fmt: skip
        response = staff.post("/projects/things/collect/", form)
        assert response.status_code == 302, response.content.decode()[-800:]
        job = collection_job_run(job_id=CollectionJob.objects.get().pk)
    finally:
        server.stop()
    assert job.status == CollectionJob.Status.DONE, job.error
    by_synset = dict(
        Item.objects.filter(project=project).values_list("synset_id").annotate(n=Count("pk"))
    )
    assert by_synset == {left.wnid: 1, right.wnid: 2}
    assert job.source_report["unmatched_by_wnid"] == {stranger.wnid: 1}
