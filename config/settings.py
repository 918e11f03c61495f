"""SynsetLab settings: one module, driven by the environment (twelve-factor, django-environ).

Every variable is documented in README.md. The zero-config default is a local run on SQLite with an
embedded (filesystem) Celery broker; tests and production use PostgreSQL and Redis.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# `make setup` writes a local `.env` (DEBUG=1, a generated SECRET_KEY: config/envfile.py) so later
# commands in the checkout just work; variables already in the environment always win.
ENV_FILE = Path(env("SYNSETLAB_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE)

# Runtime state of a local run (SQLite file, media, broker folder, WordNet copy) lives here.
VAR_DIR = Path(env("SYNSETLAB_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """Return SECRET_KEY from the environment; local DEBUG runs get a generated, persisted one.

    A committed default key is how Label Studio shipped a forgeable session secret
    (docs/architecture.md §6),
    so production refuses to start without one.
    """
    key = env("SECRET_KEY", default="")
    placeholder = key.startswith("django-insecure") or key.casefold() in {"change-me", "secret"}
    if key and not DEBUG and (len(key) < 32 or placeholder):
        raise ImproperlyConfigured(
            "SECRET_KEY is too weak for DEBUG=False: use at least 32 random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (DEBUG=False refuses to start "
            "without one), or run locally with DEBUG=1 to get a generated key."
        )
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Per-user API tokens for scripts (one per user; created and revoked at /account/tokens/
    # and in the admin).
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "synsets",
    "candidates",
    # The pipeline, in order: an app imports only the apps above it (docs/architecture.md).
    "labeling",
    "consensus",
    "boxes",
    "crowds",
    "exports",
    "dashboards",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.NullCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: locks out repeated failed logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that reads the annotator role with the user (labeling.roles).
    "labeling.roles.AnnotatorRoleBackend",
    # Only so that sessions opened before the line above was added stay signed in (a session
    # names the backend that signed it in); it authenticates nobody the line above refuses,
    # though a refused password is checked twice while it is listed. Remove it once those
    # sessions have expired (SESSION_COOKIE_AGE).
    "django.contrib.auth.backends.ModelBackend",
]
# Login rate limiting: after LOGIN_FAILURE_LIMIT failures for one username from one address,
# that pair is locked out for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Content-Security-Policy for the app's pages: scripts and styles only from our own origin, no
# framing (the MTurk HIT views set their own frame-ancestors), no plugins. Inline style
# attributes are allowed for server-rendered charts; inline scripts are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# A restarted PostgreSQL must not leave the app holding dead connections (issue: recover without
# an app restart).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Storage: local files by default; S3 (or any S3-compatible server) through django-storages when
# STORAGE_BACKEND=s3.
STORAGE_BACKEND = env("STORAGE_BACKEND", default="local")
_default_storage: dict = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/" + MEDIA_URL},
}
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "querystring_auth": env.bool("AWS_QUERYSTRING_AUTH", default=True),
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Celery: JSON only (no pickle: CVAT's pickle RCE, docs/architecture.md §6); separate queues so
# downloads, consensus and crowd sync cannot starve one another.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "celery-broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# Publishing (e.g. a recompute enqueued after a vote) gives up after one quick retry: callers
# treat a broker outage as "leave it for the periodic sweep", never as a failed request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport does not create its folder.
    CELERY_BROKER_FOLDER.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # How long a task taken by a worker that then died (kill -9, lost machine) stays invisible
    # before Redis hands it to another worker (acks_late). Longer than the longest task.
    # kombu scans for such tasks every interval × throttle seconds (default 10 × 10).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": env.int("CELERY_BROKER_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": env.int("CELERY_BROKER_RESTORE_THROTTLE", default=10),
        # A hung Redis (accepting connections, never answering) must not hang the web request
        # that enqueues a task: without a socket timeout redis-py waits forever.
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=3.0),
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "candidates.tasks.*": {"queue": "downloads"},
    "consensus.tasks.*": {"queue": "consensus"},
    "crowds.tasks.*": {"queue": "crowd"},
}
CELERY_TASK_ALWAYS_EAGER = False
# Every app's tasks live in its tasks.py, found by autodiscovery (config/celery.py).
CELERY_BEAT_SCHEDULE = {
    "labeling-leases-expire": {"task": "labeling.tasks.leases_expire_task", "schedule": 60.0},
    "consensus-recompute-sweep": {
        "task": "consensus.tasks.recompute_pending_sweep",
        "schedule": 120.0,
    },
    "crowds-mturk-sync": {"task": "crowds.tasks.crowd_sync_sweep", "schedule": 300.0},
    "boxes-leases-expire": {"task": "boxes.tasks.box_leases_expire_task", "schedule": 60.0},
    "boxes-consensus-sweep": {"task": "boxes.tasks.box_consensus_sweep", "schedule": 120.0},
    "boxes-images-sync": {"task": "boxes.tasks.box_images_sync_sweep", "schedule": 300.0},
}

# WordNet through nltk (README.md, WordNet): NLTK_DATA is searched first; on Debian the loader lays
# out /usr/share/wordnet there when nltk's own data is missing.
NLTK_DATA = Path(env("NLTK_DATA", default=str(VAR_DIR / "nltk_data")))
WORDNET_SYSTEM_DIR = Path(env("WORDNET_SYSTEM_DIR", default="/usr/share/wordnet"))
OMW_DIR = Path(env("OMW_DIR", default=str(NLTK_DATA / "corpora" / "omw-2.0")))

# Candidate collection.
CANDIDATES_ALLOW_LOOPBACK = env.bool("CANDIDATES_ALLOW_LOOPBACK", default=False)
CANDIDATES_PER_SYNSET_CAP = env.int("CANDIDATES_PER_SYNSET_CAP", default=10_000)
CANDIDATES_MAX_BYTES = env.int("CANDIDATES_MAX_BYTES", default=20 * 1024 * 1024)
CANDIDATES_DOWNLOAD_TIMEOUT = env.float("CANDIDATES_DOWNLOAD_TIMEOUT", default=20.0)
CANDIDATES_MIN_SIDE = env.int("CANDIDATES_MIN_SIDE", default=48)
CANDIDATES_NEAR_DUPLICATE_DISTANCE = env.int("CANDIDATES_NEAR_DUPLICATE_DISTANCE", default=4)
# A running job whose heartbeat is younger than this is left to the worker running it.
CANDIDATES_JOB_LEASE_SECONDS = env.int("CANDIDATES_JOB_LEASE_SECONDS", default=900)
CANDIDATES_DOWNLOAD_CONCURRENCY = env.int("CANDIDATES_DOWNLOAD_CONCURRENCY", default=8)
# Server folders a staff user may collect from in the app (empty: none; the CLI is not limited).
CANDIDATES_FOLDER_ROOTS = env.list("CANDIDATES_FOLDER_ROOTS", default=[])
# Uploaded URL lists: where they are kept for the worker, and the largest accepted.
CANDIDATES_UPLOAD_DIR = Path(env("CANDIDATES_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
CANDIDATES_URL_LIST_MAX_BYTES = env.int("CANDIDATES_URL_LIST_MAX_BYTES", default=20 * 1024 * 1024)
DEMO_IMAGES = env("DEMO_IMAGES", default="")
EXPORT_ROOT = Path(env("EXPORT_ROOT", default=str(VAR_DIR / "exports")))

# Crowds (crowds/conf.py; docs/crowds.md). Mechanical Turk closed on 2026-09-30 (AWS API reference);
# the sandbox stays the default and production needs MTURK_SANDBOX=0.
MTURK_SANDBOX = env.bool("MTURK_SANDBOX", default=True)
MTURK_ENDPOINT_URL = env("MTURK_ENDPOINT_URL", default="")
MTURK_REGION = env("MTURK_REGION", default="us-east-1")
MTURK_AWS_ACCESS_KEY_ID = env("MTURK_AWS_ACCESS_KEY_ID", default="")
MTURK_AWS_SECRET_ACCESS_KEY = env("MTURK_AWS_SECRET_ACCESS_KEY", default="")
MTURK_FRAME_HEIGHT = env.int("MTURK_FRAME_HEIGHT", default=800)
MTURK_MIN_APPROVAL_RATE = env.int("MTURK_MIN_APPROVAL_RATE", default=95)
MTURK_WORKER_LOCALES = env.list(
    "MTURK_WORKER_LOCALES", default=["US", "CA", "GB", "AU", "NZ", "IE"]
)
MTURK_MAX_RETRIES = env.int("MTURK_MAX_RETRIES", default=5)
MTURK_RETRY_BASE_SECONDS = env.float("MTURK_RETRY_BASE_SECONDS", default=1.0)
CROWDS_PUBLIC_BASE_URL = env("CROWDS_PUBLIC_BASE_URL", default="")
CROWDS_EXTRA_FRAME_ORIGIN = env("CROWDS_EXTRA_FRAME_ORIGIN", default="")
CROWDS_PENDING_TIMEOUT_SECONDS = env.int("CROWDS_PENDING_TIMEOUT_SECONDS", default=86400)
FLICKR_API_KEY = env("FLICKR_API_KEY", default="")
OPENVERSE_API_URL = env("OPENVERSE_API_URL", default="https://api.openverse.org")
WIKIMEDIA_API_URL = env("WIKIMEDIA_API_URL", default="https://commons.wikimedia.org/w/api.php")

# The cache holds the API throttles' and the MTurk pages' rate counters, so it must be shared by
# every web process: Redis (CACHE_URL, django-environ's syntax, e.g. redis://host:6379/1). Without
# CACHE_URL, a deployment whose broker is Redis uses that server; only the zero-configuration mode
# (embedded broker) falls back to per-process local memory.
if env("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
    if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        # The same backend, one client per server instead of one per call (config.cache).
        CACHES["default"]["BACKEND"] = "config.cache.RedisCache"
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CELERY_BROKER_URL,
            "KEY_PREFIX": "synsetlab-cache",
            "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions are read on every request: from the shared cache when there is one (written through
# to the database, which stays the record), from the database alone otherwise — a per-process
# memory cache would keep a logged-out session alive in the other processes.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.db"
    if CACHES["default"]["BACKEND"].endswith("LocMemCache")
    else "django.contrib.sessions.backends.cached_db"
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API view is throttled per client (anonymous: per address; signed in: per user); the
    # worker API adds its own scope. Counters live in the cache below, shared by all processes.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttling.AnonRateThrottle",
        "config.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="2000/min"),
        "worker": env("THROTTLE_WORKER", default="600/min"),
        # The MTurk pages (no session: a forged worker id costs nothing): per address.
        "crowd_anon": env("THROTTLE_CROWD_ANON", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SynsetLab API",
    "DESCRIPTION": "WordNet synsets, candidate images, verification HITs and consensus.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "kind"; name them so the schema is unambiguous.
    "ENUM_NAME_OVERRIDES": {"BoxTaskKindEnum": "boxes.models.TaskKind"},
}

# Security defaults; production (DEBUG=False) gets secure cookies and HSTS unless told otherwise.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and docker-compose probe /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_FORMAT = env("LOG_FORMAT", default="plain")  # "json" for structured logs
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.middleware.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(request_id)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
