# syntax=docker/dockerfile:1
# One image for web, worker, beat, migrations and the gateway emulator; the command differs.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# The same pinned runtime closure `make` installs (tests check the two cannot drift apart).
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /venv \
    && /venv/bin/pip install --upgrade pip \
    && /venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM python:3.11-slim AS runtime
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    PORT=8000
RUN groupadd --system app && useradd --system --gid app --home-dir /app app \
    && mkdir -p /data /tmp/metrics && chown app:app /data /tmp/metrics
WORKDIR /app
COPY --from=build /venv /venv
COPY --chown=app:app . /app
# Static files are collected at build time; the key is a throwaway, only for this step.
RUN DEBUG=true SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input -v 0 \
    && chown -R app:app /app/staticfiles
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"]
CMD ["sh", "-c", "exec gunicorn config.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-2} --threads 4 --config python:config.gunicorn"]
