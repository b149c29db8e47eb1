# booking-service: gRPC on 50051 (REST on 8002 with the gateway).
# Build: docker build -t booking-service .
# Run:   docker run -p 50051:50051 -e DATABASE_URL=postgresql://user:pass@db:5432/bookings booking-service
# Without DATABASE_URL the container starts its embedded PostgreSQL in /data (mount a volume there).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY booking_service ./booking_service
COPY generated ./generated
COPY alembic ./alembic
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND_HOST=0.0.0.0 \
    BOOKING_DATA_DIR=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/booking_service-*.whl \
    && rm -rf /wheels \
    && useradd --system --create-home --uid 10001 booking \
    && mkdir -p /data \
    && chown booking /data
USER 10001
VOLUME ["/data"]
EXPOSE 50051 8002
ENTRYPOINT ["booking-service"]
CMD ["serve"]
