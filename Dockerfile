# syntax=docker/dockerfile:1
#
# release-gate: the policy-as-code release gate, as a container.
#
#   docker build -t release-gate .
#   docker run --read-only --tmpfs /tmp \
#     -v gate-state:/var/lib/release-gate \
#     -v /secure/keyring:/run/secrets/release-gate-keys:ro \
#     -v /srv/governance/policies:/srv/release-gate/policies:ro \
#     -e RELEASE_GATE_KEYS_DIR=/run/secrets/release-gate-keys \
#     -e RELEASE_GATE_DATABASE_URL=postgresql+psycopg://gate@db/gate \
#     -v /secure/api-keys.json:/run/secrets/release-gate-api-keys.json:ro \
#     -e RELEASE_GATE_API_KEYS=/run/secrets/release-gate-api-keys.json \
#     -p 8080:8080 --stop-timeout 40 release-gate
#
# The image runs in production mode: it refuses to start until a signing key,
# API authentication and a PostgreSQL store are configured, and while the
# trust store holds the published demo keys (the example policies copied below
# do: mount your own). See docs/operations.md.
#
# Base image, pinned by digest (the tag is informative, the digest decides).
# This digest was taken from public Dockerfiles that pin python:3.11-slim-bookworm;
# it was NOT re-resolved from the registry on the machine that wrote this file
# (no container engine there). Refresh it, and whenever a new patch release or
# Debian security update lands, with:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{json .Manifest.Digest}}'
# (or `crane digest python:3.11-slim-bookworm`), then replace the digest below.
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# ---- build: wheels of the service and the client, installed with the pinned deps
#      (constraints.txt pins versions, not hashes)
FROM base AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY clients/ clients/
COPY service/ service/
RUN python -m pip wheel --no-deps --wheel-dir /wheels ./clients . \
    && python -m venv /opt/release-gate \
    && /opt/release-gate/bin/pip install --constraint constraints.txt /wheels/*.whl \
    && /opt/release-gate/bin/pip uninstall --yes pip

# ---- runtime: the virtual environment, the policies, an unprivileged user
FROM base AS runtime
RUN groupadd --system --gid 10001 gate \
    && useradd --system --uid 10001 --gid gate --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin gate \
    && install --directory --owner gate --group gate --mode 0700 /var/lib/release-gate
COPY --from=build /opt/release-gate /opt/release-gate
WORKDIR /srv/release-gate
COPY policies/ policies/
ENV PATH=/opt/release-gate/bin:$PATH \
    RELEASE_GATE_ENV=production \
    RELEASE_GATE_POLICIES=/srv/release-gate/policies \
    RELEASE_GATE_STATE_DIR=/var/lib/release-gate \
    RELEASE_GATE_HOST=0.0.0.0 \
    RELEASE_GATE_PORT=8080 \
    RELEASE_GATE_LOG_FORMAT=json \
    RELEASE_GATE_DRAIN_SECONDS=5
# The only writable path the gate needs (and only for a SQLite store or a dev key).
VOLUME ["/var/lib/release-gate"]
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('RELEASE_GATE_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["release-gate"]
CMD ["serve"]
