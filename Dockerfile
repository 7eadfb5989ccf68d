# syntax=docker/dockerfile:1
# session-reaper in a small image that runs as a non-root user.
#
#   docker build -t session-reaper:0.1.0 .
#   docker run --rm -p 127.0.0.1:9464:9464 --env-file reaper.env \
#     -v "$PWD/session-reaper.toml:/etc/session-reaper/session-reaper.toml:ro" \
#     session-reaper:0.1.0 serve --host 0.0.0.0 --config /etc/session-reaper/session-reaper.toml
#
# Credentials come from the environment at run time (GENESYSCLOUD_OAUTHCLIENT_ID, _SECRET, _REGION):
# never bake them into the image. `serve` binds 127.0.0.1 by default; in a container it must bind
# 0.0.0.0 for the published port and the health checks to reach it, which is what CMD does. Bound
# beyond loopback it also serves the supervisor console, so it starts only with the console's operator
# token in the environment (SESSION_REAPER_CONSOLE_TOKEN; optionally _VIEWER_TOKEN): exit 2 without.
#
# The base is pinned to an exact Python release; add its digest (…-slim-bookworm@sha256:…) where the
# registry policy asks for immutable references.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/session-reaper/.venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/session-reaper/.venv/bin/pip install --no-cache-dir .

FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/session-reaper/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 reaper \
    && useradd --system --uid 10001 --gid reaper --home-dir /var/lib/session-reaper \
       --shell /usr/sbin/nologin reaper \
    && mkdir -p /var/lib/session-reaper /etc/session-reaper \
    && chown reaper:reaper /var/lib/session-reaper
COPY --from=build /opt/session-reaper/.venv /opt/session-reaper/.venv
# The default SQLite ledger (sqlite:///session-reaper.db) lands here; use PostgreSQL for replicas.
WORKDIR /var/lib/session-reaper
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["session-reaper"]
CMD ["serve", "--host", "0.0.0.0"]
