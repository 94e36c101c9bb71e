"""A slow handler and a burst past the bound: the network thread waits for room at most
half the keep-alive *per overload*, not per message, so paho still writes (acknowledgements,
pings, the service's other publishes) while the handler is stuck."""

from __future__ import annotations

import threading
import time

from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from tests.support.broker import Broker
from tests.support.mqtt import publish
from tests.support.waiting import wait_until

BURST = 12


def test_a_burst_past_the_bound_holds_the_network_thread_once_not_per_message(
    broker: Broker,
) -> None:
    seen: list[bytes] = []
    release = threading.Event()

    def stuck_then_quick(message: ReceivedMessage) -> None:
        if not seen:
            release.wait(30)  # a handler stuck on its first message (a slow disk, an SMTP)
        seen.append(message.payload)

    config = MqttConfig(url=broker.url, keepalive_s=5, receive_maximum=2)
    client = MqttClient(config, service="test", instance="burst")
    client.subscribe("burst/#", stuck_then_quick)
    client.start()
    try:
        assert client.wait_connected(5)
        burst = [b"%d" % index for index in range(BURST)]
        publish(broker.host, broker.port, "burst/a", burst, qos=0)  # sent all at once
        wait_until(lambda: client.handling.bound.count >= 2, 5, "the bound reached")
        # Another thread of the service publishes meanwhile (its status, a dead letter):
        # only paho's network thread writes it. Held half a keep-alive (2.5 s) for each of
        # the 10 messages past the bound, it would wait 25 s.
        started = time.monotonic()
        confirmed = client.publish("other/status", b"fine").wait(10)
        took = time.monotonic() - started
        assert confirmed, "a publish waited for the stuck handler's burst"
        assert seen == []  # the handler was stuck all along
        release.set()
        wait_until(lambda: len(seen) >= BURST, 20, "every message of the burst", 0.05)
    finally:
        release.set()
        client.stop()

    assert took < 5, f"the publish took {took:.1f} s"
    assert seen == [b"%d" % index for index in range(BURST)]
