"""The App's HTTP server, one module per job.

`app` assembles the aiohttp application; `ingress` answers POST /webhook;
`delivery` checks a body (signature, JSON); `work` processes recorded
deliveries in the background; `pages` serves /healthz, /metrics and the status
page; `metrics` and `logs` are the instance's metrics and log formats; `state`
holds the application keys and the per-app runtime.
"""

from bot.server.app import create_app, run, serve
from bot.server.delivery import LazyEvent, is_json_object, sign, verify_signature
from bot.server.ingress import Rejection, webhook
from bot.server.logs import JsonFormatter, TextFormatter, configure_logging
from bot.server.metrics import Metrics
from bot.server.pages import healthz, metrics, status_page
from bot.server.state import (
    RUNTIME_KEY,
    SESSION_KEY,
    SETTINGS_KEY,
    STORE_KEY,
    WORK_TIMEOUT_S,
    Handler,
    Role,
    Runtime,
)
from bot.server.work import drain, stop

__all__ = [
    "RUNTIME_KEY",
    "SESSION_KEY",
    "SETTINGS_KEY",
    "STORE_KEY",
    "WORK_TIMEOUT_S",
    "Handler",
    "JsonFormatter",
    "LazyEvent",
    "Metrics",
    "Rejection",
    "Role",
    "Runtime",
    "TextFormatter",
    "configure_logging",
    "create_app",
    "drain",
    "healthz",
    "is_json_object",
    "metrics",
    "run",
    "serve",
    "sign",
    "status_page",
    "stop",
    "verify_signature",
    "webhook",
]
