# Sightline frame-store. Build from the repository root:
#   docker build -f deploy/frame-store.Dockerfile -t sightline/frame-store .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SIGHTLINE_STATE_DIR=/var/lib/sightline
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir '.[frames]' \
 && useradd --system --uid 10001 sightline \
 && mkdir -p /var/lib/sightline && chown sightline /var/lib/sightline
USER sightline
VOLUME /var/lib/sightline
EXPOSE 9104
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9104/healthz').status != 200)"
ENTRYPOINT ["sightline-frames"]
CMD ["--config", "/etc/sightline/config.yaml"]
