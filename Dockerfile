# memetrack service image. Mirrors the README's install: pip install the project, migrate, serve.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MEMETRACK_DATA_DIR=/data \
    MEMETRACK_HOST=0.0.0.0 \
    MEMETRACK_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY memetrack ./memetrack
COPY service ./service
COPY migrations ./migrations
RUN pip install --upgrade pip && pip install . \
    && useradd --system --uid 10001 --home-dir /data memetrack \
    && mkdir -p /data && chown memetrack /data

USER memetrack
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/v1/health/ready', timeout=4)" || exit 1

# Migrations on start (MEMETRACK_DATABASE_URL selects PostgreSQL; default: SQLite in /data).
CMD ["sh", "-c", "memetrack db upgrade && exec memetrack serve"]
