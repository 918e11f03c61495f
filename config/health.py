"""`/healthz`: database and broker status for load balancers and docker-compose health checks."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        return False, type(exc).__name__
    return True, "ok"


def broker_ok() -> tuple[bool, str]:
    url = settings.CELERY_BROKER_URL
    try:
        with Connection(
            url,
            connect_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        ) as broker:
            broker.ensure_connection(
                max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT
            )
            if url.startswith("filesystem://"):
                settings.CELERY_BROKER_FOLDER.mkdir(parents=True, exist_ok=True)
    except Exception as exc:  # kombu raises transport-specific errors
        return False, type(exc).__name__
    return True, "ok"


@never_cache
@require_GET
def healthz(request):
    """Public; reveals only up/down per dependency, never addresses or credentials."""
    db, db_detail = database_ok()
    broker, broker_detail = broker_ok()
    status = 200 if db and broker else 503
    response = JsonResponse(
        {
            "status": "ok" if status == 200 else "degraded",
            "database": db_detail,
            "broker": broker_detail,
        },
        status=status,
    )
    if status == 503:
        response["Retry-After"] = "5"
    return response
