"""gunicorn settings shared by the three web processes (``gunicorn -c deploy/gunicorn.conf.py``)."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = None  # the app logs requests as JSON; no access log with client addresses
errorlog = "-"
# Whom to believe about the client's scheme and address is the app's setting (TRUSTED_PROXIES, werkzeug's
# ProxyFix in shared/webkit/app.py), not gunicorn's: by default gunicorn trusts X-Forwarded-Proto from any
# local process, which could then pass a plain HTTP request off as HTTPS.
forwarded_allow_ips = ""


def _control_socket() -> str:
    """gunicorn's control socket (gunicornc, gunicorn >= 25): by default ONE path per user, so every stack on
    a host would take over (and on exit delete) the others'. One per stack and port instead, under VAR_DIR;
    GUNICORN_CONTROL_SOCKET overrides it, and an empty value turns the socket off."""
    if "GUNICORN_CONTROL_SOCKET" in os.environ:
        return os.environ["GUNICORN_CONTROL_SOCKET"]
    var_dir = os.environ.get("VAR_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "var")
    path = os.path.join(os.path.abspath(var_dir), "run", f"gunicorn-{bind.rsplit(':', 1)[-1]}.ctl")
    return path if len(path.encode()) < 100 else ""  # a Unix socket path holds 107 bytes at most: off then


_control = _control_socket()
control_socket = _control or "gunicorn.ctl"  # unused when disabled
control_socket_disable = not _control


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook signature
    """Drop a dead worker's files from the Prometheus multiprocess directory."""
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
