# Sightline console: the setup-and-watch page (cameras, frames, lines and zones, events).
#
# Build from the repository root (tools/build-images.sh builds every image):
#   podman build --format docker -f deploy/console.Dockerfile -t localhost/sightline/console:0.1.0 .
#   docker build -f deploy/console.Dockerfile -t localhost/sightline/console:0.1.0 .
# Run it with its config at /etc/sightline/config.yaml. In a container the page binds
# 0.0.0.0 (SIGHTLINE_CONSOLE__HOST below) so that the port can be published, and therefore
# needs a token (console.password_file or SIGHTLINE_CONSOLE__PASSWORD): it refuses to start
# without one. Publish the port on the host's loopback only unless you mean to expose it
# (compose: "127.0.0.1:8090:8090").
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
# the page's files are package data: fail the build if they did not make it into the install
RUN /opt/sightline/bin/pip install '.[console]' \
 && /opt/sightline/bin/sightline-console --help > /dev/null \
 && /opt/sightline/bin/python -c "import console, pathlib; d = pathlib.Path(console.__file__).parent; [open(d / f) for f in ('templates/page.html', 'templates/login.html', 'static/console.js', 'static/console.css')]"

FROM ${BASE_IMAGE}
ENV PATH=/opt/sightline/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    SIGHTLINE_STATE_DIR=/var/lib/sightline \
    SIGHTLINE_CONSOLE__HOST=0.0.0.0 \
    SIGHTLINE_CONSOLE__PORT=8090 \
    SIGHTLINE_HEALTH__PORT=9105
RUN groupadd --gid 10001 sightline \
 && useradd --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/sightline --shell /usr/sbin/nologin sightline \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/sightline
COPY --from=build /opt/sightline /opt/sightline
WORKDIR /app
USER 10001
VOLUME /var/lib/sightline
# the page listens on 8090 (publish it: compose "127.0.0.1:8090:8090"); 9105 is /healthz
EXPOSE 9105
# /healthz answers 200 only while the service is connected to the broker and its loop is alive.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9105/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["sightline-console"]
CMD ["--config", "/etc/sightline/config.yaml"]
