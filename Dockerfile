# booking-service: gRPC on 50051, REST on 8002 (the same calls, same interceptors).
#
# Build:  docker build -t booking-service .
#
# The image is the installed wheel in /opt/venv on python:3.11-slim, nothing else: no compiler, no
# pip, no dev or test dependencies. It runs as uid 10001 and writes only to /data (the embedded
# PostgreSQL when DATABASE_URL is unset, the embedded broker's address) and /tmp, so it runs with
# a read-only root file system. The HEALTHCHECK runs `booking-service health`, a grpc.health.v1
# Check on localhost:$GRPC_PORT (over TLS when GRPC_TLS_CERT_FILE is set), exit 0 when SERVING.
#
# It listens on 0.0.0.0, and an unauthenticated service refuses a non-loopback address: configure
# callers, or say explicitly that it is open. A non-loopback address is a production setting, so
# every dependency must be configured too (README, "All embedded or all real"), unless `serve --dev`.
#
# Production: bearer tokens and TLS (mutual TLS with GRPC_CLIENT_CA_FILE), files mounted read-only:
#   docker run --read-only --tmpfs /tmp -v booking-data:/data -v /etc/booking:/run/secrets:ro \
#     -p 50051:50051 -p 8002:8002 \
#     -e DATABASE_URL=postgresql://booking:...@db:5432/bookings \
#     -e KAFKA_BOOTSTRAP_SERVERS=kafka:9092 \
#     -e INVENTORY_SERVICE_URL=... -e PRICING_SERVICE_URL=... -e PAYMENT_SERVICE_URL=... \
#     -e PAGE_TOKEN_SECRET=... \
#     -e AUTH_JWT_PUBLIC_KEY_FILE=/run/secrets/jwt.pub.pem \
#     -e AUTH_JWT_ISSUER=https://auth.example.com/ -e AUTH_JWT_AUDIENCE=booking-service \
#     -e GRPC_TLS_CERT_FILE=/run/secrets/server.pem -e GRPC_TLS_KEY_FILE=/run/secrets/server.key \
#     -e HEALTH_CA_FILE=/run/secrets/ca.pem \
#     booking-service
#   The health probe dials "localhost", so the server certificate must name localhost too; it
#   trusts HEALTH_CA_FILE (else GRPC_TLS_CERT_FILE itself, enough for a self-signed certificate).
#   With GRPC_CLIENT_CA_FILE set, also give the probe a client certificate signed by that CA:
#     -e GRPC_CLIENT_CA_FILE=/run/secrets/clients-ca.pem \
#     -e HEALTH_CLIENT_CERT_FILE=/run/secrets/probe.pem -e HEALTH_CLIENT_KEY_FILE=/run/secrets/probe.key
#   Key files must be readable by uid 10001.
#
# A trial, open to anyone who can reach the ports, with everything embedded (PostgreSQL in /data,
# an in-memory broker, the sandbox peers):
#   docker run --rm -p 50051:50051 -p 8002:8002 -e AUTH_ALLOW_OPEN=true booking-service serve --dev

# The base image, pinned by digest (the multi-platform index of python:3.11-slim-bookworm, Python
# 3.11.16, as docker-library/repo-info recorded it on 2026-08-25); bump it deliberately.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Everything is installed from the lock (uv.lock, exported by scripts/lock.py), each file checked
# against its hash: the build backend into the build stage, the service's runtime requirements
# into /opt/venv. requirements/runtime.txt leaves out Django and its two requirements (about 50 MB),
# which drf-spectacular-sidecar names but the service never imports (it serves only that wheel's
# static Swagger UI and ReDoc files: tests/unit/test_runtime_imports.py), so it is installed
# --no-deps; the lock is the whole closure. The venv gets no pip of its own: the build stage's pip
# installs into it, and stays behind.
COPY requirements ./requirements
RUN pip install --require-hashes --no-deps -r requirements/build.txt \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY booking_service ./booking_service
COPY generated ./generated
COPY alembic ./alembic
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && pip --python /opt/venv/bin/python install --no-deps /wheels/booking_service-*.whl

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 booking \
    && useradd --system --uid 10001 --gid booking --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin booking \
    && mkdir /data \
    && chown booking:booking /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    BOOKING_DATA_DIR=/data \
    BIND_HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    HTTP_PORT=8002
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 50051 8002
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["booking-service", "health"]
ENTRYPOINT ["booking-service"]
CMD ["serve"]
