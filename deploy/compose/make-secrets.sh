#!/bin/sh
# Create the passwords the compose file mounts and the broker's password file:
#   ./make-secrets.sh CAMERA_ID   (the edge's camera_id in config/edge.yaml, e.g. driveway)
# secrets/mqtt_* get a random password each, passwd gets the matching broker users
# (engine, frames, notifier, the camera, homeassistant and ops; see mosquitto/acl).
# secrets/smtp_password is created empty: write your mail server's password into it.
# Existing files are kept. Needs mosquitto_passwd (Debian: mosquitto) or set
# MOSQUITTO_PASSWD="podman run --rm -v $PWD:/w -w /w docker.io/library/eclipse-mosquitto:2.0 mosquitto_passwd".
set -eu
camera=${1:?usage: $0 CAMERA_ID}
cd "$(dirname "$0")"
passwd_cmd=${MOSQUITTO_PASSWD:-mosquitto_passwd}
umask 077
mkdir -p secrets
secret() {  # secret FILE: the password in FILE, made up if the file does not exist
  [ -s "secrets/$1" ] || head -c 18 /dev/urandom | base64 | tr '+/' '-_' > "secrets/$1"
  head -n 1 "secrets/$1"
}
[ -e secrets/smtp_password ] || : > secrets/smtp_password
[ -e passwd ] || : > passwd
for pair in engine:mqtt_engine frames:mqtt_frames notifier:mqtt_notifier \
            "$camera":mqtt_edge homeassistant:mqtt_homeassistant ops:mqtt_ops; do
  user=${pair%%:*}
  file=${pair#*:}
  $passwd_cmd -b passwd "$user" "$(secret "$file")"
done
# the console: its broker account, and the password its page asks for
$passwd_cmd -b passwd console "$(secret mqtt_console)"
secret console_token > /dev/null
chmod 644 passwd  # the broker runs as its own user and must read it
# The services run as uid 10001 and read their password through a bind mount: the files must be
# readable by them; the folder stays private to the owner.
chmod 644 secrets/*
chmod 700 secrets
echo "secrets/ and passwd are ready; Home Assistant logs in as homeassistant with secrets/mqtt_homeassistant"
