"""What a long-running process (a gunicorn worker, a Celery worker) does once it has loaded the
application: load what Django otherwise loads on the first request, then move everything loaded
so far out of the cyclic garbage collector's sight (``gc.freeze``).

Why: a web process holds about 160,000 long-lived objects (modules, URL patterns, serializers,
templates). Every full collection walked all of them — about 50–100 ms on this project's 2-core
development machine, paid by whichever request happened to trigger it, which is what a p99 is
made of. Frozen objects are never collected (they live as long as the process anyway); only
objects created afterwards are walked.
"""

from __future__ import annotations

import gc


def warm_up_and_freeze() -> None:
    """Load the URL configuration (and with it every view, serializer and API module), then
    freeze the collector's view of the heap. Call once per process, after Django is set up."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URL modules and their views
    gc.collect()  # what is garbage now is not frozen
    gc.freeze()
