"""Admin dashboard, audit and export URLs: pages (``urlpatterns``, namespace ``dashboards``) and
the JSON endpoints the pages poll (``api_urlpatterns``, included under /api/)."""

from django.urls import path

from dashboards.audit import views as audit_views

from . import views

app_name = "dashboards"

urlpatterns = [
    path("dashboard/", views.project_list_page, name="index"),
    path("dashboard/<slug:slug>/", views.project_dashboard_page, name="project"),
    path("dashboard/<slug:slug>/synsets/<str:wnid>/", views.synset_page, name="synset"),
    path(
        "dashboard/<slug:slug>/candidates/", views.project_candidates_page, name="candidates"
    ),
    path("dashboard/<slug:slug>/workers/", views.workers_page, name="workers"),
    path(
        "dashboard/<slug:slug>/workers/<int:user_id>/block/",
        views.worker_block_view,
        name="worker-block",
    ),
    path(
        "dashboard/<slug:slug>/workers/<int:user_id>/unblock/",
        views.worker_unblock_view,
        name="worker-unblock",
    ),
    path("dashboard/<slug:slug>/exports/", views.exports_page, name="exports"),
    path(
        "dashboard/<slug:slug>/exports/<int:pk>/download/",
        views.export_download,
        name="export-download",
    ),
    path("dashboard/<slug:slug>/audits/", audit_views.audits_page, name="audits"),
    path("dashboard/<slug:slug>/audits/<int:pk>/", audit_views.audit_page, name="audit"),
    path(
        "dashboard/<slug:slug>/audits/<int:pk>/review/",
        audit_views.audit_review_page,
        name="audit-review",
    ),
]

api_urlpatterns = [
    path("exports/<int:pk>/", views.export_status_api, name="api-export-status"),
    path("audits/<int:pk>/next/", audit_views.audit_next_api, name="api-audit-next"),
    path("audits/<int:pk>/submit/", audit_views.audit_submit_api, name="api-audit-submit"),
    path("audits/<int:pk>/stats/", audit_views.audit_stats_api, name="api-audit-stats"),
]
