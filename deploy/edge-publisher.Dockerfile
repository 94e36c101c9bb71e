# Sightline edge-publisher: camera -> YOLO11n (OpenVINO int8, bundled) + ByteTrack -> MQTT.
#
# Build from the repository root (tools/build-images.sh builds every image):
#   podman build --format docker -f deploy/edge-publisher.Dockerfile -t localhost/sightline/edge-publisher:0.1.0 .
#   docker build -f deploy/edge-publisher.Dockerfile -t localhost/sightline/edge-publisher:0.1.0 .
#
# CPU by default. ultralytics needs torch and torchvision even to run the OpenVINO model, and
# PyPI's torch is the CUDA build (about 7 GB of image); the default takes both from PyTorch's
# CPU wheel index instead (about 1.9 GB of image). Other builds, by build argument:
#   NVIDIA GPU (x86_64):  --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
#                         (or https://pypi.org/simple, whose torch is a CUDA build)
#   Jetson (L4T, arm64):  --build-arg BASE_IMAGE=<L4T image with Python 3.11+ as python3 and
#                         JetPack's torch + torchvision installed> --build-arg TORCH_SPEC=
#                         (an empty TORCH_SPEC keeps the base image's torch: the venv sees the
#                         base's packages, and pip is pinned to them)
#   Another torch:        --build-arg TORCH_SPEC="torch==X torchvision==Y" (a matching pair)
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL name a package mirror, PIP_CERT a TLS proxy's CA bundle
# (mount it with `podman build -v HOST_FILE:PATH:ro`). Only the build stage sees them.
#
# Run it with its config at /etc/sightline/config.yaml (the image's own one only names the
# bundled model; the rest can come from SIGHTLINE_* variables) and a volume of its own at
# /var/lib/sightline. A USB camera needs the device (`--device /dev/video0`): the service's
# user (uid 10001) is in the image's video group (gid 44, Debian's); if the host's device
# belongs to another group, add it (`--group-add <gid>`, compose `group_add`).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_CERT=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/sightline/bin:$PATH
RUN python3 -m venv --system-site-packages /opt/sightline
# torch first, from TORCH_INDEX; then pinned, so that nothing later swaps it for PyPI's build.
RUN if [ -n "$TORCH_SPEC" ]; then pip install --index-url "$TORCH_INDEX" $TORCH_SPEC; fi \
 && python -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda)" \
 && pip list --format=freeze | grep -iE '^(torch|torchvision)==' > /opt/torch-pins.txt
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
# One OpenCV: ultralytics asks for opencv-python (the GUI build, with X11 libraries); it and
# opencv-python-headless write the same cv2 package, so the GUI one goes and the headless one
# is laid down again, at the same version.
RUN pip install --constraint /opt/torch-pins.txt '.[edge]' \
 && headless="$(pip list --format=freeze | sed -n 's/^opencv-python-headless==//p')" \
 && pip uninstall --yes opencv-python opencv-python-headless \
 && pip install --no-deps "opencv-python-headless==${headless}" \
 && test "$(pip list --format=freeze | grep -ciE '^opencv')" = 1 \
 && pip list --format=freeze | grep -iE '^(torch|torchvision)==' | cmp - /opt/torch-pins.txt \
 && python -c "import cv2, openvino, lap, ultralytics, torchvision; print('cv2', cv2.__version__)" \
 && sightline-edge --help > /dev/null

FROM ${BASE_IMAGE}
ENV PATH=/opt/sightline/bin:$PATH \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=/tmp/ultralytics \
    SIGHTLINE_STATE_DIR=/var/lib/sightline
RUN groupadd --gid 10001 sightline \
 && (getent group video > /dev/null || groupadd --system video) \
 && useradd --uid 10001 --gid 10001 --groups video --no-create-home \
      --home-dir /var/lib/sightline --shell /usr/sbin/nologin sightline \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/sightline \
 && install -d -m 0755 /etc/sightline \
 && printf 'detector:\n  model_file: /app/models/yolo11n_int8_openvino_model\n' > /etc/sightline/config.yaml
COPY --from=build /opt/sightline /opt/sightline
COPY models/yolo11n_int8_openvino_model /app/models/yolo11n_int8_openvino_model
# Relative paths in a config (models/yolo11n_int8_openvino_model) resolve here.
WORKDIR /app
USER 10001
VOLUME /var/lib/sightline
EXPOSE 9101
# /healthz answers 200 only while the edge is connected to the broker and its loop is alive.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9101/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["sightline-edge"]
CMD ["--config", "/etc/sightline/config.yaml"]
