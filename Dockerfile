# Order management service image: `docker build -t laredoute-oms .`
# Runs migrations, then serves the API on port 8000 as the non-root user oms.
# The same image runs `oms worker` (sync jobs without the API) and `oms sandbox`.
# DATABASE_URL defaults to SQLite in /srv/oms/var (mount a volume there to
# keep data); set it to a postgresql:// URL for PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system oms \
 && useradd --system --gid oms --home-dir /srv/oms --no-create-home --shell /usr/sbin/nologin oms

WORKDIR /srv/oms

# Dependencies first, from pyproject.toml alone, so that code changes reuse
# this layer.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code, installed in place (editable) so that migrations/ stays beside it.
COPY app/ ./app/
COPY sandbox/ ./sandbox/
COPY migrations/ ./migrations/
RUN pip install --no-deps -e . \
 && mkdir -p /srv/oms/var \
 && chown oms:oms /srv/oms/var

ENV OMS_MIGRATIONS_DIR=/srv/oms/migrations \
    DATABASE_URL=sqlite:////srv/oms/var/oms.sqlite3

USER oms
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["sh", "-c", "oms migrate && exec oms serve --host 0.0.0.0 --port 8000"]
