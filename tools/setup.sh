#!/usr/bin/env bash
# Set up everything Sightline needs on a fresh Debian/Ubuntu machine, idempotently:
# Mosquitto (the broker the tests and the one-box suite start), a Python 3.11 venv in .venv,
# torch + torchvision (before ultralytics, so pip never picks a torch by itself), the project
# with all extras, and exactly one OpenCV (the headless one).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. Mosquitto and its clients (Debian packages).
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  say "installing mosquitto and mosquitto-clients"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi

# 1b. A real RTSP server for the tests: GStreamer's, driven by the system Python (gi).
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" >/dev/null 2>&1; then
  say "installing GStreamer's RTSP server (for the RTSP camera tests)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad >/dev/null
fi

# 1c. promtool (Prometheus' rule checker) for the operations tests.
if ! command -v promtool >/dev/null 2>&1; then
  say "installing prometheus (for promtool)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# 2. The virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
PIP="$VENV/bin/pip"

# 3. torch first: ultralytics needs torchvision, and a torch chosen by pip as a dependency
#    would be whatever it likes (gigabytes). Override TORCH_SPEC for another platform.
if ! "$VENV/bin/python" -c "import torch, torchvision" >/dev/null 2>&1; then
  say "installing $TORCH_SPEC"
  # shellcheck disable=SC2086
  "$PIP" install -q $TORCH_SPEC
fi

# 4. The project and every extra.
say "installing sightline[all,dev]"
"$PIP" install -q -e '.[all,dev]'

# 5. One OpenCV: ultralytics depends on opencv-python (GUI build); both wheels write the
#    same cv2 package, so remove the GUI one and reinstall the headless one over it.
if "$PIP" show opencv-python >/dev/null 2>&1; then
  say "replacing opencv-python with opencv-python-headless"
  "$PIP" uninstall -q -y opencv-python
  "$PIP" install -q --force-reinstall --no-deps "opencv-python-headless>=4.8"
fi
"$VENV/bin/python" -c "import cv2, ultralytics, openvino, lap; print('[setup] ok: cv2', cv2.__version__, '| ultralytics', ultralytics.__version__)"
