from django.urls import path

from . import api, views

app_name = "synsets"

urlpatterns = [
    path("synsets/", views.synset_search_page, name="search"),
    path("synsets/<str:wnid>/", views.synset_detail_page, name="detail"),
]

api_urlpatterns = [
    path("synsets/", api.SynsetListApi.as_view(), name="api-synset-list"),
    path("synsets/<str:wnid>/", api.SynsetDetailApi.as_view(), name="api-synset-detail"),
    path(
        "synsets/<str:wnid>/ancestors/",
        api.SynsetAncestorsApi.as_view(),
        name="api-synset-ancestors",
    ),
    path(
        "synsets/<str:wnid>/descendants/",
        api.SynsetDescendantsApi.as_view(),
        name="api-synset-descendants",
    ),
]
