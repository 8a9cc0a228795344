"""gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app`` (``pip install -e '.[server]'``).

Every value can be changed from the environment: ``BIND`` (default ``0.0.0.0:8000``),
``WEB_CONCURRENCY`` (worker processes, default 2 x CPU + 1), ``GUNICORN_THREADS``
(threads per worker, default 1), ``GUNICORN_TIMEOUT`` (seconds, default 60) and
``FORWARDED_ALLOW_IPS`` (proxies whose ``X-Forwarded-*`` gunicorn itself trusts; the
application trusts them through ``PROXY_FIX_X_*``).
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (plus jitter): bounds slow memory growth.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs on stdout/stderr for the service manager; the access log carries the request id.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms [%({x-request-id}o)s] "%(a)s"'
