from django.urls import path

from . import api, views

app_name = "candidates"

urlpatterns = [
    path("candidates/<int:pk>/thumbnail", views.candidate_thumbnail, name="thumbnail"),
    path("candidates/<int:pk>/image", views.candidate_image, name="image"),
    path("candidates/jobs/", views.collection_jobs_page, name="jobs"),
    path("candidates/jobs/<int:pk>/", views.collection_job_page, name="job"),
    path("candidates/<str:wnid>/", views.synset_candidates_page, name="synset"),
    path("candidates/<str:wnid>/queries/", views.search_query_add_view, name="query-add"),
    path(
        "candidates/<str:wnid>/queries/<int:pk>/toggle",
        views.search_query_toggle_view,
        name="query-toggle",
    ),
]

api_urlpatterns = [
    path(
        "synsets/<str:wnid>/candidates/",
        api.SynsetCandidatesApi.as_view(),
        name="api-synset-candidates",
    ),
    path("synsets/<str:wnid>/queries/", api.SynsetQueriesApi.as_view(), name="api-synset-queries"),
    path("queries/<int:pk>/", api.SearchQueryDetailApi.as_view(), name="api-query-detail"),
    path("collection-jobs/", api.CollectionJobListApi.as_view(), name="api-collection-jobs"),
    path(
        "collection-jobs/<int:pk>/",
        api.CollectionJobDetailApi.as_view(),
        name="api-collection-job",
    ),
    path(
        "collection-jobs/<int:pk>/cancel/",
        api.CollectionJobCancelApi.as_view(),
        name="api-collection-job-cancel",
    ),
]
