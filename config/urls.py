"""Top-level URLs: pages per app, the REST API under /api/, its OpenAPI schema and docs."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

from boxes.urls import api_urlpatterns as boxes_api
from candidates.urls import api_urlpatterns as candidate_api
from crowds.urls import api_urlpatterns as crowds_api
from dashboards.audit.box_report import box_audit_report_page
from dashboards.urls import api_urlpatterns as dashboards_api
from labeling.urls import api_urlpatterns as labeling_api
from synsets.urls import api_urlpatterns as synset_api

from .health import healthz

api_patterns = [
    *candidate_api,
    *synset_api,
    *labeling_api,
    *boxes_api,
    *crowds_api,
    *dashboards_api,
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path(
        "accounts/login/",
        # Staff land on the projects overview, annotators on their /label/ list.
        auth_views.LoginView.as_view(redirect_authenticated_user=True, next_page="labeling:start"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("synsets.urls")),
    path("", include("candidates.urls")),
    path("", include("labeling.urls")),
    path("", include("boxes.urls")),
    # The box audit report lives with the precision audit (it reads the boxes app's reviews).
    path("dashboards/boxes/<slug:slug>/audit/", box_audit_report_page, name="box-audit-report"),
    path("", include("dashboards.urls")),
    path("", include("crowds.urls")),
    path("api/", include(api_patterns)),
    # The schema and its docs describe every endpoint, admin ones included: signed-in users
    # only, like everything but the login page and the public WordNet browser.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="schema",
    ),
    # The split view serves its script from a URL, so the docs work under our CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="schema", permission_classes=[IsAuthenticated]
        ),
        name="api-docs",
    ),
]

# Media files (originals, thumbnails) are never served as static files, not even with DEBUG:
# only through the permission-checked views of candidates, labeling and crowds.
