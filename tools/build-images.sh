#!/usr/bin/env bash
# Build Sightline's container images, localhost/sightline/<service>:<version>, with Podman or
# Docker, from the repository root, one at a time; then list them with their sizes.
#
#   tools/build-images.sh                       # all five; the edge with CPU torch
#   tools/build-images.sh edge-publisher        # only the ones named
#   tools/build-images.sh --cuda edge-publisher # the edge with CUDA torch (about 7 GB)
#   tools/build-images.sh --save dist/images    # also write <service>.tar for `k3s ctr images import`
#   tools/build-images.sh -- --build-arg PIP_INDEX_URL=https://mirror.example/simple
#                                               # anything after -- goes to every build
#
# Environment: ENGINE=podman|docker (default: podman if installed, else docker);
# VERSION (default: the version in pyproject.toml).
#
# No Docker Hub (air-gapped, or a proxy that blocks it)? --bootstrap-base (Podman, root,
# Debian's debootstrap) first builds local stand-ins for the two base images:
# docker.io/library/python:3.11-slim (Debian 12 with python3, pip and venv; `python` and
# `pip` on the PATH as in the official image) and docker.io/library/eclipse-mosquitto:2.0
# (Debian's mosquitto laid out like the official image). They are stand-ins, larger than
# the originals; the images built on them work the same.
set -euo pipefail

SERVICES=(mosquitto event-engine notifier frame-store edge-publisher console)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

engine="${ENGINE:-}"
if [[ -z "$engine" ]]; then
  if command -v podman > /dev/null; then engine=podman
  elif command -v docker > /dev/null; then engine=docker
  else echo "build-images: neither podman nor docker is installed" >&2; exit 1
  fi
fi
version="${VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)}"

cuda=0 bootstrap=0 save_dir="" only=() extra=()
while (($#)); do
  case "$1" in
    -h|--help) usage ;;
    --cuda) cuda=1 ;;
    --bootstrap-base) bootstrap=1 ;;
    --save) save_dir="${2:?--save needs a directory}"; shift ;;
    --) shift; extra=("$@"); break ;;
    -*) echo "build-images: unknown option $1" >&2; usage 2 ;;
    *)
      [[ " ${SERVICES[*]} " == *" $1 "* ]] || { echo "build-images: no image $1 (${SERVICES[*]})" >&2; exit 2; }
      only+=("$1") ;;
  esac
  shift
done
((${#only[@]})) || only=("${SERVICES[@]}")

bootstrap_base() {
  [[ "$engine" == podman ]] || { echo "build-images: --bootstrap-base needs podman" >&2; exit 2; }
  command -v debootstrap > /dev/null || { echo "build-images: apt-get install debootstrap" >&2; exit 1; }
  local work rootfs
  work="$(mktemp -d /var/tmp/sightline-base.XXXXXX)"
  rootfs="$work/rootfs"
  echo "== bootstrapping Debian 12 into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian
  # The official image's layout: python and pip first on the PATH, from /usr/local.
  chroot "$rootfs" python3 -m venv /usr/local
  rm -f "$rootfs"/usr/local/bin/Activate.ps1 "$rootfs"/usr/local/bin/activate*
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
    "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
  # like the official image: no compiled bytecode, no test suites
  find "$rootfs"/usr/lib/python3* "$rootfs"/usr/local/lib \
    \( -name __pycache__ -o -name test -o -name tests -o -name idle_test \) -prune \
    -exec rm -rf {} +
  tar --numeric-owner -C "$rootfs" -cf - . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    - docker.io/library/python:3.11-slim
  rm -rf "$rootfs"
  echo "== a stand-in for docker.io/library/eclipse-mosquitto:2.0 (Debian's mosquitto)"
  cat > "$work/Containerfile" <<'EOF'
FROM docker.io/library/python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends mosquitto \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o mosquitto -g mosquitto /mosquitto/config /mosquitto/data /mosquitto/log
EXPOSE 1883
CMD ["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
EOF
  podman build --format docker -t docker.io/library/eclipse-mosquitto:2.0 "$work"
  rm -rf "$work"
}

((bootstrap)) && bootstrap_base

format=()
[[ "$engine" == podman ]] && format=(--format docker)  # OCI images drop HEALTHCHECK

built=()
for service in "${only[@]}"; do
  image="localhost/sightline/$service:$version"
  args=()
  if [[ "$service" == edge-publisher ]] && ((cuda)); then
    args+=(--build-arg TORCH_INDEX=https://pypi.org/simple)
  fi
  echo "== $image"
  start=$SECONDS
  "$engine" build "${format[@]}" -f "deploy/$service.Dockerfile" -t "$image" \
    "${args[@]}" "${extra[@]}" .
  echo "== $image built in $((SECONDS - start)) s"
  built+=("$image")
  if [[ -n "$save_dir" ]]; then
    mkdir -p "$save_dir"
    "$engine" save -o "$save_dir/$service.tar" "$image"
    echo "== saved $save_dir/$service.tar (k3s: sudo k3s ctr images import $save_dir/$service.tar)"
  fi
done

echo
printf '%-50s %s\n' IMAGE SIZE
for image in "${built[@]}"; do
  printf '%-50s %s\n' "$image" "$("$engine" image inspect --format '{{.Size}}' "$image" \
    | awk '{ printf "%.0f MB", $1 / 1000000 }')"
done
