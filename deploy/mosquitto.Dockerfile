# Sightline's broker: Mosquitto 2.0 with Sightline's configs baked in (mosquitto.conf for the
# central broker, bridge-edge.conf for an edge's local one, the ACL). The password file is
# mounted at run time at /mosquitto/config/passwd, never built in.
#
# Build from the repository root (tools/build-images.sh builds every image):
#   podman build --format docker -f deploy/mosquitto.Dockerfile -t localhost/sightline/mosquitto:0.1.0 .
# MOSQUITTO_IMAGE: any image laid out like eclipse-mosquitto (mosquitto on the PATH, config in
# /mosquitto/config, data in /mosquitto/data, started as root and dropping to its own user).
ARG MOSQUITTO_IMAGE=docker.io/library/eclipse-mosquitto:2.0
FROM ${MOSQUITTO_IMAGE}
COPY mosquitto/*.conf mosquitto/acl /mosquitto/config/
VOLUME /mosquitto/data
EXPOSE 1883 8883
CMD ["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
