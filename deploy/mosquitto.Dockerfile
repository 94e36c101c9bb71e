# The broker with Sightline's config baked in (passwd is mounted at run time).
FROM eclipse-mosquitto:2.0
COPY mosquitto/mosquitto.conf /mosquitto/config/mosquitto.conf
COPY mosquitto/acl /mosquitto/config/acl
COPY mosquitto/bridge-edge.conf /mosquitto/config/bridge-edge.conf
EXPOSE 1883 8883
