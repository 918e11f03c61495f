"""Labeling URLs: pages (``urlpatterns``, namespace ``labeling``) and the REST API
(``api_urlpatterns``, included under /api/)."""

from django.urls import path

from . import api, landing, project_pages, views
from . import workflow_api as workflow

app_name = "labeling"

urlpatterns = [
    path("label/thumb/<int:candidate_id>/", views.thumbnail, name="thumbnail"),
    path("label/image/<int:candidate_id>/", views.image, name="image"),
    path("start/", landing.start_redirect, name="start"),
    path("label/", landing.label_index_page, name="index"),
    # Before label/<slug>/: "me" is not a project (a project slugged "me" would be shadowed).
    path("label/me/", views.my_stats_page, name="me"),
    path("label/<slug:slug>/", views.annotator_grid_page, name="grid"),
    path("label/<slug:slug>/invites/", views.invite_create_page, name="invite-create"),
    path("invite/<str:token>/", views.invite_signup_page, name="invite"),
    # Staff pages of one project live under /projects/<slug>/… ("new" is not a slug).
    path("projects/new/", project_pages.project_create_page, name="project-create"),
    path(
        "projects/<slug:slug>/settings/",
        project_pages.project_settings_page,
        name="project-settings",
    ),
    path(
        "projects/<slug:slug>/collect/", project_pages.project_collect_page, name="project-collect"
    ),
    path("projects/<slug:slug>/gold/", project_pages.project_gold_page, name="project-gold"),
    path("account/tokens/", project_pages.api_tokens_page, name="api-tokens"),
]

api_urlpatterns = [
    path("projects/", api.ProjectListApi.as_view(), name="api-project-list"),
    # Before projects/<slug>/: "preview" is a reserved slug.
    path("projects/preview/", workflow.ProjectPreviewApi.as_view(), name="api-project-preview"),
    path(
        "projects/<slug:slug>/synsets/",
        workflow.ProjectSynsetsApi.as_view(),
        name="api-project-synsets",
    ),
    path(
        "projects/<slug:slug>/collect/",
        workflow.ProjectCollectApi.as_view(),
        name="api-project-collect",
    ),
    path("projects/<slug:slug>/gold/", workflow.ProjectGoldApi.as_view(), name="api-project-gold"),
    path(
        "projects/<slug:slug>/gold/proposals/",
        workflow.GoldProposalsApi.as_view(),
        name="api-project-gold-proposals",
    ),
    path(
        "projects/<slug:slug>/gold/next/",
        workflow.GoldNextApi.as_view(),
        name="api-project-gold-next",
    ),
    path(
        "projects/<slug:slug>/gold/review/",
        workflow.GoldReviewApi.as_view(),
        name="api-project-gold-review",
    ),
    path("projects/<slug:slug>/", api.ProjectDetailApi.as_view(), name="api-project-detail"),
    path("projects/<slug:slug>/hits/next/", api.HitNextApi.as_view(), name="api-hit-next"),
    path(
        "assignments/<int:assignment_id>/submit/",
        api.AssignmentSubmitApi.as_view(),
        name="api-assignment-submit",
    ),
    path(
        "assignments/<int:assignment_id>/release/",
        api.AssignmentReleaseApi.as_view(),
        name="api-assignment-release",
    ),
    path("me/stats/", api.MeStatsApi.as_view(), name="api-me-stats"),
    path(
        "projects/<slug:slug>/invites/", api.ProjectInviteApi.as_view(), name="api-project-invite"
    ),
]
