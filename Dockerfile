# syntax=docker/dockerfile:1
# One image for every process of the suite; docker-compose.yml picks the command (gunicorn web process,
# `python -m <service>_service.worker`, or the `python -m devstack.seed` one-shot).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself. Installed in place (-e): the code finds its data files (deploy/*.yaml, migrations,
# reference data) relative to the source tree (shared.config.PROJECT_ROOT), which a wheel would not carry.
COPY . .
RUN pip install --no-deps -e . \
    && groupadd --system --gid 10001 yangpu \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home yangpu \
    && mkdir -p /app/var \
    && chown -R yangpu:yangpu /app/var

USER 10001:10001
EXPOSE 8001 8002 8003 9101 9102 9103
CMD ["python", "-m", "devstack.seed"]
