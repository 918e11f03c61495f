"""Box URLs: pages (``urlpatterns``, namespace ``boxes``) and the REST API (``api_urlpatterns``,
included under /api/)."""

from django.urls import path

from . import api, views

app_name = "boxes"

urlpatterns = [
    path("boxes/<slug:slug>/", views.box_project_page, name="project"),
    path("boxes/<slug:slug>/draw/", views.draw_page, name="draw"),
    path("boxes/<slug:slug>/verify/<str:kind>/", views.verify_page, name="verify"),
    path("boxes/<slug:slug>/audit/", views.box_audit_page, name="audit"),
]

api_urlpatterns = [
    path(
        "projects/<slug:slug>/boxes/audit/next/",
        api.BoxAuditNextApi.as_view(),
        name="api-box-audit-next",
    ),
    path(
        "projects/<slug:slug>/boxes/audit/<int:image_id>/draw/",
        api.BoxAuditDrawApi.as_view(),
        name="api-box-audit-draw",
    ),
    path("projects/<slug:slug>/boxes/next/", api.BoxTaskNextApi.as_view(), name="api-box-next"),
    path(
        "projects/<slug:slug>/boxes/progress/",
        api.BoxProgressApi.as_view(),
        name="api-box-progress",
    ),
    path(
        "box-assignments/<int:assignment_id>/draw/", api.BoxDrawApi.as_view(), name="api-box-draw"
    ),
    path(
        "box-assignments/<int:assignment_id>/verify/",
        api.BoxVerifyApi.as_view(),
        name="api-box-verify",
    ),
    path(
        "box-assignments/<int:assignment_id>/release/",
        api.BoxReleaseApi.as_view(),
        name="api-box-release",
    ),
]
