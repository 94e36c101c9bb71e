#!/bin/sh
# The edge broker on balena: render mosquitto/bridge-edge.conf from device variables, then
# run Mosquitto with it. Device variables (balena dashboard, per device or fleet):
#   BRIDGE_ADDRESS    the central broker, host:port (required), e.g. central.example.org:8883
#   BRIDGE_PASSWORD   the central broker password of this camera's user (required)
#   BRIDGE_USERNAME   default: SIGHTLINE_CAMERA_ID (mosquitto/acl: one user per camera)
#   BRIDGE_CLIENT_ID  default: bridge-<username>
#   BRIDGE_TLS        on | off | auto (default: on when the port is 8883)
#   BRIDGE_CA_CERT    the CA certificate (PEM text) of the central broker; default: system CAs
# `bridge-entrypoint.sh --render` prints the config instead of starting Mosquitto.
set -eu
template=${BRIDGE_TEMPLATE:-/mosquitto/config/bridge-edge.conf}
out=${BRIDGE_CONF:-/mosquitto/config/bridge.conf}
ca_file=${BRIDGE_CA_FILE:-/mosquitto/config/bridge-ca.crt}

fail() { echo "sightline-bridge: $*" >&2; exit 2; }
: "${BRIDGE_ADDRESS:?set the device variable BRIDGE_ADDRESS (central broker host:port)}"
: "${BRIDGE_PASSWORD:?set the device variable BRIDGE_PASSWORD}"
BRIDGE_USERNAME=${BRIDGE_USERNAME:-${SIGHTLINE_CAMERA_ID:-}}
[ -n "$BRIDGE_USERNAME" ] || fail "set BRIDGE_USERNAME or SIGHTLINE_CAMERA_ID (the camera id)"
BRIDGE_CLIENT_ID=${BRIDGE_CLIENT_ID:-bridge-$BRIDGE_USERNAME}
tls=${BRIDGE_TLS:-auto}
if [ "$tls" = auto ]; then
  case "$BRIDGE_ADDRESS" in *:8883) tls=on ;; *) tls=off ;; esac
fi
case "$tls" in on|off) ;; *) fail "BRIDGE_TLS: expected on, off or auto, got '$tls'" ;; esac
ca=""
if [ "$tls" = on ]; then
  if [ -n "${BRIDGE_CA_CERT:-}" ]; then
    printf '%s\n' "$BRIDGE_CA_CERT" > "$ca_file"
    ca="bridge_cafile $ca_file"
  else
    ca="bridge_capath /etc/ssl/certs"
  fi
fi

umask 077
BRIDGE_USERNAME=$BRIDGE_USERNAME BRIDGE_CLIENT_ID=$BRIDGE_CLIENT_ID CA_LINE=$ca awk '
  $1 == "listener"        { print "listener " $2; next }   # every interface of the container
  $1 == "address"         { print "address " ENVIRON["BRIDGE_ADDRESS"]; next }
  $1 == "remote_username" { print "remote_username " ENVIRON["BRIDGE_USERNAME"]; next }
  $1 == "remote_password" { print "remote_password " ENVIRON["BRIDGE_PASSWORD"]; next }
  $1 == "remote_clientid" { print "remote_clientid " ENVIRON["BRIDGE_CLIENT_ID"]; next }
  $1 == "bridge_cafile" || $1 == "bridge_capath" {
    if (ENVIRON["CA_LINE"] != "") print ENVIRON["CA_LINE"]
    next
  }
  { print }
' "$template" > "$out"

if [ "${1:-}" = "--render" ]; then
  cat "$out"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then chown -R mosquitto:mosquitto /mosquitto/data 2>/dev/null || true; fi
echo "sightline-bridge: bridging to $BRIDGE_ADDRESS as $BRIDGE_USERNAME (TLS $tls)"
exec mosquitto -c "$out"
