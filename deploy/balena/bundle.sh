#!/bin/sh
# Assemble the build context of the balena app in deploy/balena/build/ (ignored by git):
# balena builds only from inside the directory that holds docker-compose.yml, so the edge's
# code, model and Dockerfile and the bridge config are copied here. Then:
#   deploy/balena/bundle.sh && balena push <fleet> --source deploy/balena
# `bundle.sh DIR` writes the context to DIR instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/build}
rm -rf "$out"
mkdir -p "$out/mosquitto"
cp "$repo/pyproject.toml" "$repo/README.md" "$out/"
cp -R "$repo/shared" "$repo/services" "$repo/models" "$out/"
find "$out" -name __pycache__ -prune -exec rm -rf {} +
{
  cat "$repo/deploy/edge-publisher.Dockerfile"
  printf '\n# balena: the edge config; device variables (SIGHTLINE_*) complete it\n'
  printf 'COPY balena-edge.yaml /etc/sightline/config.yaml\n'
} > "$out/edge-publisher.Dockerfile"
cp "$here/edge.yaml" "$out/balena-edge.yaml"
cp "$repo/deploy/console.Dockerfile" "$out/console.Dockerfile"  # the console (optional service)
cp "$repo/mosquitto/bridge-edge.conf" "$out/mosquitto/bridge-edge.conf"
cp "$here/bridge-entrypoint.sh" "$here/broker.Dockerfile" "$out/"
echo "balena build context ready in $out"
