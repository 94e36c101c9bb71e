# Sightline edge-publisher. Build from the repository root:
#   docker build -f deploy/edge-publisher.Dockerfile -t sightline/edge-publisher .
#
# CPU by default: a slim Python base and CPU torch. Point TORCH_INDEX_URL at PyTorch's CPU
# wheel index to avoid the multi-GB CUDA build. On a Jetson, build on an L4T PyTorch base
# image that already has torch for JetPack and skip the torch step:
#   docker build --build-arg BASE_IMAGE=<l4t-pytorch image for your JetPack> \
#                --build-arg TORCH_SPEC= -f deploy/edge-publisher.Dockerfile .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/tmp/ultralytics \
    SIGHTLINE_STATE_DIR=/var/lib/sightline
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN if [ -n "$TORCH_SPEC" ]; then \
      pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} $TORCH_SPEC; \
    fi
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY models ./models
RUN pip install --no-cache-dir '.[edge]' \
 && pip uninstall -y opencv-python \
 && pip install --no-cache-dir --force-reinstall --no-deps 'opencv-python-headless>=4.8' \
 && mkdir -p /etc/sightline \
 && printf 'detector:\n  model_file: /app/models/yolo11n_int8_openvino_model\n' > /etc/sightline/config.yaml \
 && useradd --system --uid 10001 --groups video sightline \
 && mkdir -p /var/lib/sightline && chown sightline /var/lib/sightline
USER sightline
VOLUME /var/lib/sightline
EXPOSE 9101
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9101/healthz').status != 200)"
ENTRYPOINT ["sightline-edge"]
CMD ["--config", "/etc/sightline/config.yaml"]
