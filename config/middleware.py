"""Project-wide middleware: request ids for structured logs, a 400 for query strings that carry a
NUL character, and a clean 503 while the database is unreachable (a restarted PostgreSQL must
not produce 500 pages or tracebacks)."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
logger = logging.getLogger("synsetlab.request")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (``-`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy or makes one; echoes it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request.id
        return response


class NullCharacterMiddleware:
    """Refuses a query string with a NUL character (``%00``) with 400. PostgreSQL cannot store or
    compare text containing NUL, so such a parameter reaching a filter was a 500; no parameter of
    ours ever needs one (forms and serializers refuse them in bodies already)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "%00" in request.META.get("QUERY_STRING", "") and any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            message = "Query parameters must not contain NUL characters."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Turns database connection errors into 503 + Retry-After. Django drops the broken
    connection at the end of the request (CONN_HEALTH_CHECKS), so the next request reconnects:
    no app restart is needed after PostgreSQL comes back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # The first line of the driver's message says which (connection refused, deadlock, …).
        logger.warning(
            "database unavailable: %s: %s",
            type(exception).__name__,
            str(exception).strip().splitlines()[0][:300] if str(exception).strip() else "",
        )
        from django.db import connections

        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if request.path.startswith("/api/") or "json" in request.headers.get("Accept", ""):
            response = JsonResponse(
                {"detail": "The database is temporarily unavailable; retry shortly."}, status=503
            )
        else:
            response = HttpResponse(
                "<!doctype html><title>Temporarily unavailable</title>"
                "<h1>Temporarily unavailable</h1><p>Please retry in a few seconds.</p>",
                status=503,
            )
        response["Retry-After"] = "5"
        return response
