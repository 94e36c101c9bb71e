"""A stuck handler and a burst past the receive bound. The network thread waits for room
at most half the keep-alive once per burst, then takes up to the bound's size more at once,
so paho still writes (acknowledgements, pings, the service's other publishes) meanwhile.
Past twice the bound each message waits again, so memory stays bounded however much the
broker sends (QoS 0 is not held back by the Receive Maximum)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sightline.config import MqttConfig
from sightline.mqtt import MqttClient, ReceivedMessage
from tests.support.broker import Broker
from tests.support.mqtt import publish
from tests.support.waiting import wait_until

BOUND = 10


@contextmanager
def stuck_client(broker: Broker, seen: list[bytes]) -> Iterator[tuple[MqttClient, threading.Event]]:
    """A client whose handler is stuck on its first message until the event is set."""
    release = threading.Event()

    def stuck_then_quick(message: ReceivedMessage) -> None:
        if not seen:
            release.wait(30)  # a handler stuck on its first message (a slow disk, an SMTP)
        seen.append(message.payload)

    config = MqttConfig(url=broker.url, keepalive_s=5, receive_maximum=BOUND)
    client = MqttClient(config, service="test", instance="burst")
    client.subscribe("burst/#", stuck_then_quick)
    client.start()
    try:
        assert client.wait_connected(5)
        yield client, release
    finally:
        release.set()
        client.stop()


def test_a_burst_past_the_bound_holds_the_network_thread_once_not_per_message(
    broker: Broker,
) -> None:
    """Within the overrun's allowance (twice the bound) nothing waits again. Past it each
    message does, another thread's publish with them: the price of bounded memory."""
    seen: list[bytes] = []
    burst = [b"%d" % index for index in range(2 * BOUND)]
    with stuck_client(broker, seen) as (client, release):
        publish(broker.host, broker.port, "burst/a", burst, qos=0)  # sent all at once
        wait_until(lambda: client.handling.bound.count >= BOUND, 5, "the bound reached")
        # Another thread of the service publishes meanwhile (its status, a dead letter):
        # only paho's network thread writes it. Held half a keep-alive (2.5 s) for each of
        # the 10 messages past the bound, it would wait 25 s.
        started = time.monotonic()
        confirmed = client.publish("other/status", b"fine").wait(10)
        took = time.monotonic() - started
        assert confirmed, "a publish waited for the stuck handler's burst"
        assert seen == []  # the handler was stuck all along
        release.set()
        wait_until(lambda: len(seen) >= len(burst), 20, "every message of the burst", 0.05)

    assert took < 5, f"the publish took {took:.1f} s"
    assert seen == burst


def test_a_stream_to_a_stuck_handler_stays_within_twice_the_bound(broker: Broker) -> None:
    """... while another thread of the service keeps a publish awaiting its answer (its
    state, its status), as a service nearly always does."""
    seen: list[bytes] = []
    stream = [b"%d" % index + b"." * 1_000 for index in range(300)]
    with stuck_client(broker, seen) as (client, release):
        publish(broker.host, broker.port, "burst/a", stream, qos=0)
        stop = threading.Event()

        def states() -> None:
            while not stop.is_set():
                client.publish("other/state", b"1").wait(0.5)

        publisher = threading.Thread(target=states)
        publisher.start()
        time.sleep(6)  # two and a bit half keep-alives
        held = client.handling.bound.count
        stop.set()
        release.set()
        publisher.join(10)
        wait_until(lambda: len(seen) >= len(stream), 30, "the whole stream", 0.05)

    # twice the bound, and one more for each half keep-alive waited out past it
    assert BOUND < held <= 2 * BOUND + 3, held
    assert seen == stream  # nothing lost once the handler went on
