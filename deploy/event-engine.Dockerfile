# Sightline event-engine: detection envelopes -> line and zone events, rules, Home Assistant discovery.
#
# Build from the repository root (tools/build-images.sh builds every image):
#   podman build --format docker -f deploy/event-engine.Dockerfile -t localhost/sightline/event-engine:0.1.0 .
#   docker build -f deploy/event-engine.Dockerfile -t localhost/sightline/event-engine:0.1.0 .
# Run it with its config at /etc/sightline/config.yaml and a volume of its own at
# /var/lib/sightline (its state directory, writable by the service's user, uid 10001).
#
# Build arguments: BASE_IMAGE (any Debian-like image with Python 3.11+ as python3);
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL for a package mirror, PIP_CERT for a TLS proxy's CA
# bundle (mount it with `podman build -v HOST_FILE:PATH:ro`). Only the build stage sees them.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_CERT=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/sightline
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
RUN /opt/sightline/bin/pip install '.[engine]' \
 && /opt/sightline/bin/sightline-engine --help > /dev/null

FROM ${BASE_IMAGE}
ENV PATH=/opt/sightline/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SIGHTLINE_STATE_DIR=/var/lib/sightline
RUN groupadd --gid 10001 sightline \
 && useradd --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/sightline --shell /usr/sbin/nologin sightline \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/sightline
COPY --from=build /opt/sightline /opt/sightline
WORKDIR /app
USER 10001
VOLUME /var/lib/sightline
EXPOSE 9102
# /healthz answers 200 only while the service is connected to the broker and its loop is alive.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9102/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["sightline-engine"]
CMD ["--config", "/etc/sightline/config.yaml"]
