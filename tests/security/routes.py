"""Every URL pattern of config.urls, enumerated, with its parameters filled from a small world
(one project and its synset, candidate, assignment, audit, export, invite) so each route can be
requested for real."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    pattern: str
    kwargs: tuple[str, ...]
    # False for a class-based view without a GET handler (POST-only API views); function views
    # are assumed to answer GET.
    answers_get: bool = True


def all_routes() -> list[Route]:
    routes: list[Route] = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern).startswith("admin/"):
                    continue  # Django's admin has its own tests of staff-only access
                walk(entry.url_patterns, prefix + str(entry.pattern),
                     entry.namespace or namespace)  # fmt: skip
            elif isinstance(entry, URLPattern) and entry.name:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                kwargs = tuple(entry.pattern.converters)
                view_class = getattr(entry.callback, "view_class", None)
                answers_get = view_class is None or hasattr(view_class, "get")
                routes.append(Route(name, prefix + str(entry.pattern), kwargs, answers_get))

    walk(get_resolver().url_patterns, "", None)
    return routes


def url_for(route: Route, world: dict) -> str:
    values = {}
    for kwarg in route.kwargs:
        key = f"{route.name}.{kwarg}"
        values[kwarg] = world.get(key, world.get(kwarg, 1))
    return reverse(route.name, kwargs=values)
