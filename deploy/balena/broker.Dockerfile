# The edge broker on balena: stock Mosquitto, its bridge rendered from device variables at
# start (bridge-entrypoint.sh). Built from the context that bundle.sh assembles.
FROM docker.io/library/eclipse-mosquitto:2.0
COPY mosquitto/bridge-edge.conf /mosquitto/config/bridge-edge.conf
COPY bridge-entrypoint.sh /usr/local/bin/sightline-bridge
RUN chmod 755 /usr/local/bin/sightline-bridge
EXPOSE 1883
ENTRYPOINT ["/usr/local/bin/sightline-bridge"]
