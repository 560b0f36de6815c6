"""Shared helpers for the pika interop scripts (run by Debian's /usr/bin/python3 with pika 1.2).

Each script takes the broker URL as its first argument and prints one JSON object as its last line of output; the
vitest suite asserts on that object.
"""
import json
import sys
import time
import uuid

import pika


def unique(prefix):
    """A unique entity name, so runs against a shared broker never collide."""
    return "interop-pika-%s-%s" % (prefix, uuid.uuid4().hex[:10])


def connect(url):
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    return pika.BlockingConnection(params)


def pump(connections, until, timeout=5.0):
    """Process events on every connection until until() is true; raise on timeout (no sleeping as sync)."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out pumping events")
        for c in connections:
            c.process_data_events(time_limit=0.01)


def take(channel, queue, n, timeout=5.0, auto_ack=True):
    """Consume n messages from queue; returns [(method, properties, body)]."""
    got = []
    for method, props, body in channel.consume(queue, auto_ack=auto_ack, inactivity_timeout=timeout):
        if method is None:
            break
        got.append((method, props, body))
        if len(got) == n:
            break
    channel.cancel()
    if len(got) != n:
        raise TimeoutError("got %d of %d messages from %s" % (len(got), n, queue))
    return got


def props_to_json(p):
    """The AMQP basic properties as JSON-able values (bytes decoded, None kept)."""
    out = {}
    for name in ("content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id",
                 "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id"):
        out[name] = getattr(p, name)
    return jsonable(out)


def jsonable(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "timestamp") and callable(v.timestamp):  # datetime
        return int(v.timestamp())
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def emit(obj):
    print(json.dumps(jsonable(obj)))
    sys.stdout.flush()


def run(cases):
    """Dispatch argv[2] to a case function taking the URL; print its result as JSON."""
    url, case = sys.argv[1], sys.argv[2]
    emit(cases[case](url, *sys.argv[3:]))
