"""Crowd URLs: pages (``urlpatterns``, namespace ``crowds``) and the API (``api_urlpatterns``,
included under /api/)."""

from django.urls import path

from . import api, views

app_name = "crowds"

urlpatterns = [
    path("crowds/mturk/hit/", views.mturk_hit, name="mturk-hit"),
    path("crowds/mturk/submit/", views.mturk_submit, name="mturk-submit"),
    path("crowds/img/<str:token>/", views.crowd_image, name="image"),
    path("crowds/panel/<str:token>/", views.panel_entry, name="panel-entry"),
    path("crowds/panel/<str:token>/work/", views.panel_work, name="panel-work"),
    path("crowds/panel/<str:token>/done/", views.panel_done, name="panel-done"),
    path("crowds/projects/<slug:slug>/", views.project_crowd_page, name="project"),
    path("crowds/projects/<slug:slug>/costs/", views.project_costs_page, name="costs"),
    path(
        "crowds/projects/<slug:slug>/panel/payments.csv",
        views.panel_payments_csv,
        name="panel-payments",
    ),
]

api_urlpatterns = [
    path("projects/<slug:slug>/costs/", api.ProjectCostsApi.as_view(), name="api-project-costs"),
]
