"""The project workflow through the REST API with a token, as a script drives it: preview and
create a project over real WordNet, collect into it (the job run in-process here; a real worker
in test_workflow_e2e.py), items appear, gold is proposed, reviewed and added — and bad input on
every endpoint is refused with a clear message and changes nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from candidates.collection import collection_job_run
from candidates.models import Candidate, CollectionJob
from labeling.models import GoldReview, Item, Project
from synsets.models import SynsetClosure
from tests.factories import CandidateFactory
from tests.labeling.workflow_helpers import photo_server, samples_of, url_list_csv

pytestmark = pytest.mark.django_db

DOG, REPTILE_ROOT, BIRD = "n02084071", "n01661091", "n01503061"


@pytest.fixture
def script(admin_user) -> APIClient:
    """An API client authenticated only by the staff user's token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin_user).key}")
    return client


def _subtree(wnid: str) -> set[str]:
    return set(
        SynsetClosure.objects.filter(ancestor_id=wnid).values_list("descendant_id", flat=True)
    )


def _create(client: APIClient, **body) -> dict:
    response = client.post("/api/projects/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# -- selection and creation --------------------------------------------------------------------


def test_preview_of_a_preset_describes_the_subtree(wordnet, script):
    response = script.post("/api/projects/preview/", {"preset": "reptile"}, format="json")
    assert response.status_code == 200, response.content
    preview = response.json()
    assert preview["roots"][0]["wnid"] == REPTILE_ROOT
    assert preview["synsets"] == len(_subtree(REPTILE_ROOT)) > 100
    assert 0 < preview["internal"] < preview["synsets"]
    assert preview["leaves"] + preview["internal"] == preview["synsets"]
    assert preview["depth_min"] < preview["depth_max"]
    assert preview["stored_candidates"] == 0
    assert preview["suggested_target_per_synset"] == 1000
    assert Project.objects.count() == 0


def test_preview_counts_stored_candidates_and_caps_the_target(wordnet, script):
    leaf = "n02085620"  # Chihuahua
    for _ in range(3):
        CandidateFactory(synset_id=leaf)
    preview = script.post(
        "/api/projects/preview/", {"wnid_list": [leaf, "n02085782"]}, format="json"
    ).json()
    assert preview["synsets"] == 2 and preview["leaves"] == 2  # a wnid list keeps its wnids
    assert (preview["synsets_with_candidates"], preview["stored_candidates"]) == (1, 3)
    assert 1 <= preview["suggested_target_per_synset"] <= 3


def test_a_lemma_in_another_language_says_which_lemma_and_language_matched(wordnet, script):
    def root(spec: str) -> dict:
        body = {"synsets": [spec], "include_subtrees": False}
        return script.post("/api/projects/preview/", body, format="json").json()["roots"][0]

    hond = root("hond")
    assert (hond["wnid"], hond["matched"]) == (DOG, "lemma 'hond' (nld)")
    # "cane" is English (a walking stick) before Italian (dog): the other senses are listed.
    cane = root("cane")
    assert cane["matched"] == "lemma 'cane' (eng)"
    assert DOG in [sense["wnid"] for sense in cane["other_senses"]]


def test_creating_a_project_turns_stored_candidates_into_items(wordnet, script, admin_user):
    leaf = "n02085620"
    CandidateFactory.create_batch(4, synset_id=leaf)
    body = _create(script, name="Chihuahuas", wnid_list=[leaf], seed_size=2)
    project = Project.objects.get(slug=body["slug"])
    assert list(project.owners.all()) == [admin_user]
    assert body["synsets"] == [leaf]
    items = Item.objects.filter(project=project)
    assert items.count() == 4 and items.filter(is_seed=True).count() == 2


def test_leaves_only_projects_get_no_items_for_internal_synsets(wordnet, script):
    CandidateFactory.create_batch(2, synset_id=DOG)
    CandidateFactory.create_batch(2, synset_id="n02085620")
    body = _create(script, name="Dog leaves", synsets=[DOG], label_internal=False)
    items = Item.objects.filter(project__slug=body["slug"])
    assert set(items.values_list("synset_id", flat=True)) == {"n02085620"}


def test_adding_synsets_adds_their_stored_candidates(wordnet, script):
    body = _create(script, name="Grows", wnid_list=["n02085620"])
    CandidateFactory.create_batch(3, synset_id="n02085782")
    response = script.post(
        f"/api/projects/{body['slug']}/synsets/", {"wnid_list": ["n02085782"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"added": 1, "synsets": 2, "items": 3}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"wnid_list": ["n99999999"]}, "Unknown wnids (not in WordNet 3.0): n99999999"),
        ({"synsets": ["n99999999"]}, "n99999999 (no such wnid in WordNet 3.0)"),
        ({"synsets": ["no such lemma anywhere"]}, "no synset has this lemma"),
        ({"preset": "reptile", "wnid_list": [DOG]}, "a preset and a wnid list were both given"),
        ({"wnid_list": []}, "Select at least one synset"),
        ({"wnid_list": ["dog"]}, "Not wnids (n + 8 digits): dog"),
        ({"preset": "dinosaur"}, "is not a valid choice"),
    ],
)
def test_bad_selections_are_refused_and_nothing_is_created(wordnet, script, body, message):
    for url in ("/api/projects/preview/", "/api/projects/"):
        response = script.post(url, {"name": "Bad", **body}, format="json")
        assert response.status_code == 400
        assert message in response.content.decode()
    assert Project.objects.count() == 0


def test_a_duplicate_or_reserved_slug_is_refused(wordnet, script):
    _create(script, name="First", slug="reptiles", preset="reptile")
    for slug, message in (("reptiles", "already exists"), ("preview", "reserved")):
        response = script.post(
            "/api/projects/", {"name": "Second", "slug": slug, "preset": "reptile"}, format="json"
        )
        assert response.status_code == 400 and message in response.content.decode()
    assert Project.objects.count() == 1


def test_requests_without_a_token_or_with_a_revoked_one_are_refused(wordnet, admin_user):
    client = APIClient()
    assert client.post("/api/projects/preview/", {"preset": "bird"}).status_code in (401, 403)
    token = Token.objects.create(user=admin_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post("/api/projects/preview/", {"preset": "bird"}).status_code == 200
    token.delete()
    revoked = client.post("/api/projects/preview/", {"preset": "bird"})
    assert revoked.status_code in (401, 403) and "Invalid token" in revoked.content.decode()


# -- collection ----------------------------------------------------------------------------------


@pytest.fixture
def dog_project(wordnet, script) -> Project:
    return Project.objects.get(
        slug=_create(script, name="Dogs", slug="dogs", synsets=[DOG])["slug"]
    )


def _collect(client: APIClient, slug: str, **data):
    return client.post(f"/api/projects/{slug}/collect/", data, format="multipart")


def test_a_url_list_on_an_internal_synset_is_split_over_its_subtree(dog_project, script):
    dogs = samples_of(_subtree(DOG), 6)
    birds = samples_of(_subtree(BIRD), 2)
    assert len(dogs) == 6 and len(birds) == 2
    with photo_server() as base:
        upload = SimpleUploadedFile("list.csv", url_list_csv(base, dogs + birds))
        response = _collect(script, "dogs", source="urls", wnids=[DOG], url_list=upload)
        assert response.status_code == 201, response.content
        job = collection_job_run(job_id=response.json()["id"])
    assert job.status == CollectionJob.Status.DONE, job.error
    assert job.stored == 6
    stored = Candidate.objects.filter(job=job, status=Candidate.Status.STORED)
    assert sorted(stored.values_list("synset_id", flat=True)) == sorted(p.name[:9] for p in dogs)
    # The two bird photos name no synset of the job: counted and named, not dropped silently.
    report = script.get(f"/api/collection-jobs/{job.pk}/").json()["source_report"]
    assert report["unmatched_count"] == 2
    assert set(report["unmatched_by_wnid"]) == {p.name[:9] for p in birds}
    assert all(any(p.name in ex for ex in report["unmatched_examples"]) for p in birds)
    # The finished job's candidates became items without anyone asking, once each.
    assert Item.objects.filter(project=dog_project).count() == 6
    collection_job_run(job_id=job.pk)  # a re-delivered task
    assert Item.objects.filter(project=dog_project).count() == 6


def test_a_list_without_wnids_goes_to_the_one_synset_it_is_collected_for(dog_project, script):
    leaf = "n02085620"
    with photo_server() as base:
        photos = samples_of({leaf}, 1) + samples_of(_subtree(BIRD), 1)
        upload = SimpleUploadedFile("list.txt", url_list_csv(base, photos, wnid_column=False))
        refused = _collect(script, "dogs", source="urls", wnids=[DOG, leaf], url_list=upload)
        assert refused.status_code == 400
        assert "no wnid column: collect it for exactly one synset" in refused.content.decode()
        upload.seek(0)
        response = _collect(script, "dogs", source="urls", wnids=[leaf], url_list=upload)
        assert response.status_code == 201, response.content
        job = collection_job_run(job_id=response.json()["id"])
    assert job.wnids == [leaf] and job.stored == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The URL list is empty."),
        (b"   \n\n", "The URL list is empty."),
        (b"not a url\nftp://example.org/x.jpg\n", "The URL list has no usable URL (2 broken"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
    ],
)
def test_bad_url_lists_are_refused_and_no_job_starts(dog_project, script, content, message):
    upload = SimpleUploadedFile("list.txt", content)
    response = _collect(script, "dogs", source="urls", url_list=upload)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert CollectionJob.objects.count() == 0


def test_a_50_mb_url_list_is_refused(dog_project, script, settings, tmp_path):
    settings.CANDIDATES_UPLOAD_DIR = tmp_path / "uploads"
    line = b"https://images.example.org/" + b"x" * 70 + b".jpg\n"
    content = line * (50 * 1024 * 1024 // len(line) + 1)
    response = _collect(script, "dogs", source="urls",
                        url_list=SimpleUploadedFile("huge.txt", content))  # fmt: skip
    assert response.status_code == 400
    assert "The URL list is 50.0 MB; the limit is 20 MB" in response.content.decode()
    assert CollectionJob.objects.count() == 0
    assert not list((tmp_path / "uploads").glob("*"))


def test_folders_outside_the_allowed_roots_are_refused_symlinks_included(
    dog_project, script, settings, tmp_path
):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "n02085620").mkdir(parents=True)
    outside.mkdir()
    (allowed / "escape").symlink_to(outside, target_is_directory=True)
    settings.CANDIDATES_FOLDER_ROOTS = []
    off = _collect(script, "dogs", source="folder", folder=str(allowed))
    assert off.status_code == 400 and "CANDIDATES_FOLDER_ROOTS" in off.content.decode()
    settings.CANDIDATES_FOLDER_ROOTS = [str(allowed)]
    for folder in (str(outside), str(allowed / "escape"), str(allowed / ".." / "outside"), "/etc"):
        response = _collect(script, "dogs", source="folder", folder=folder)
        assert response.status_code == 400, folder
        assert "outside the folders this server allows" in response.content.decode()
    missing = _collect(script, "dogs", source="folder", folder=str(allowed / "nope"))
    assert missing.status_code == 400 and "does not exist" in missing.content.decode()
    assert CollectionJob.objects.count() == 0
    ok = _collect(script, "dogs", source="folder", folder=str(allowed))
    assert ok.status_code == 201, ok.content
    assert CollectionJob.objects.get().source_config["root"] == str(allowed.resolve())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "flickr"}, "Flickr needs an API key"),
        ({"source": "s3", "s3_bucket": "Bad_Bucket"}, "is not an S3 bucket name"),
        ({"source": "s3", "s3_bucket": "photos", "s3_endpoint_url": "http://169.254.169.254/"},
         "refused"),
        ({"source": "openverse", "wnids": ["n01503061"]}, "Not synsets of this project"),
        ({"source": "urls"}, "Upload a URL list"),
        ({"source": "gopher"}, "is not a valid choice"),
    ],
)  # fmt: skip
def test_bad_collection_requests_are_refused(dog_project, script, settings, data, message):
    settings.FLICKR_API_KEY = ""
    settings.CANDIDATES_ALLOW_LOOPBACK = False
    response = _collect(script, "dogs", **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert CollectionJob.objects.count() == 0


def test_web_and_s3_jobs_start_for_the_subtree(dog_project, script):
    response = _collect(script, "dogs", source="wikimedia", wnids=["n02085374"], limit_per_synset=5)
    assert response.status_code == 201, response.content
    job = CollectionJob.objects.get(pk=response.json()["id"])
    assert set(job.wnids) == _subtree("n02085374") and job.limit_per_synset == 5
    s3 = _collect(script, "dogs", source="s3", s3_bucket="photos", s3_prefix="/dogs/")
    assert s3.status_code == 201, s3.content
    assert CollectionJob.objects.get(pk=s3.json()["id"]).source_config["prefix"] == "dogs/"


def test_only_owners_may_collect(dog_project, django_user_model):
    other = django_user_model.objects.create_user(username="other", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other).key}")
    assert _collect(client, "dogs", source="openverse").status_code == 403
    assert client.post("/api/projects/dogs/gold/next/", {}, format="json").status_code == 403


# -- gold ----------------------------------------------------------------------------------------


@pytest.fixture
def voted_seed(dog_project) -> dict[str, Item]:
    """Seed items of the dog project with 10 votes: clear yes, clear no, and a split."""
    leaf = "n02085620"
    candidates = CandidateFactory.create_batch(4, synset_id=leaf)
    made = {}
    for name, candidate, yes, no in zip(
        ("yes", "no", "split", "few"), candidates, (10, 1, 6, 3), (0, 9, 4, 0), strict=True
    ):
        made[name] = Item.objects.create(
            project=dog_project, synset_id=leaf, candidate=candidate, is_seed=True,
            yes_votes=yes, no_votes=no,
        )  # fmt: skip
    return made


def test_clear_seed_consensus_is_proposed_as_gold(voted_seed, script):
    proposals = script.get("/api/projects/dogs/gold/proposals/").json()
    assert {(p["id"], p["proposed"]) for p in proposals} == {
        (voted_seed["yes"].pk, True), (voted_seed["no"].pk, False)
    }  # fmt: skip
    summary = script.get("/api/projects/dogs/gold/").json()["summary"]
    assert summary["gold"] == 0 and summary["proposals"] == 2 and summary["agreement_only"]


def test_reviewing_proposals_makes_gold_and_skips_are_not_offered_again(voted_seed, script):
    batch = script.post("/api/projects/dogs/gold/next/", {}, format="json").json()
    assert [i["proposed"] for i in batch["items"]] == [True, False]
    response = script.post(
        "/api/projects/dogs/gold/review/",
        {"yes": [voted_seed["yes"].pk], "skip": [voted_seed["no"].pk]}, format="json",
    )  # fmt: skip
    assert response.json() == {"gold_yes": 1, "gold_no": 0, "skipped": 1}
    gold = Item.objects.get(pk=voted_seed["yes"].pk)
    assert gold.is_gold and gold.gold_label is True and gold.state == Item.State.ACCEPTED
    assert script.post("/api/projects/dogs/gold/next/", {}, format="json").status_code == 204
    assert GoldReview.objects.get(item=voted_seed["no"]).decision == "skipped"
    summary = script.get("/api/projects/dogs/gold/").json()["summary"]
    assert summary["gold"] == 1 and not summary["agreement_only"]


def test_gold_can_be_added_from_any_candidate_of_the_project(dog_project, script):
    candidate = CandidateFactory(synset_id="n02085782")  # stored after the project was made
    response = script.post(
        "/api/projects/dogs/gold/", {"candidate": candidate.pk, "label": False}, format="json"
    )
    assert response.status_code == 201, response.content
    item = Item.objects.get(project=dog_project, candidate=candidate)
    assert item.is_gold and item.gold_label is False and item.state == Item.State.REJECTED
    assert GoldReview.objects.get(item=item).decision == "gold_no"


def test_bad_gold_input_is_refused_and_changes_nothing(voted_seed, script):
    bird = CandidateFactory(synset_id=BIRD)
    rejected = CandidateFactory(synset_id="n02085620", status=Candidate.Status.REJECTED,
                                reject_reason="corrupt")  # fmt: skip
    yes, no = voted_seed["yes"].pk, voted_seed["no"].pk
    cases = [
        ("/api/projects/dogs/gold/", {"candidate": bird.pk, "label": True}, "does not label"),
        ("/api/projects/dogs/gold/", {"candidate": rejected.pk, "label": True}, "not a stored"),
        ("/api/projects/dogs/gold/", {"candidate": 10**9, "label": True}, "not a stored"),
        ("/api/projects/dogs/gold/review/", {"yes": [yes], "no": [yes]}, "not two of these"),
        ("/api/projects/dogs/gold/review/", {"yes": [yes, 10**9]}, "Not images of this project"),
        ("/api/projects/dogs/gold/review/", {}, "Nothing to record"),
        ("/api/projects/dogs/gold/next/", {"mode": "everything"}, "is not a valid choice"),
    ]
    for url, body, message in cases:
        response = script.post(url, body, format="json")
        assert response.status_code == 400, (url, body)
        assert message in response.content.decode(), (url, body)
    assert not Item.objects.filter(is_gold=True).exists()
    assert not GoldReview.objects.exists()
    assert Item.objects.get(pk=no).state == Item.State.PENDING


def test_the_schema_lists_the_workflow_endpoints(script):
    schema = script.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/projects/preview/", "/api/projects/{slug}/collect/",
                 "/api/projects/{slug}/synsets/", "/api/projects/{slug}/gold/",
                 "/api/projects/{slug}/gold/proposals/", "/api/projects/{slug}/gold/next/",
                 "/api/projects/{slug}/gold/review/"):  # fmt: skip
        assert path in schema["paths"], path
    assert "tokenAuth" in schema["components"]["securitySchemes"]
