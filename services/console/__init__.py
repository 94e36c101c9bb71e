"""The console: a setup-and-watch page for the suite, talking to the rest only through MQTT.

It lists the cameras it hears of (envelopes, edge status and stats), shows each one's latest
frame with the configured lines and zones and the live boxes, lets the user draw lines and
zones with the mouse and saves them to the engine on a retained
``sightline/event-engine/config/<camera_id>/set`` message; it shows the last events with
their snapshots. See docs/console.md.
"""
