"""Error cases seen through pika 1.2: reply code and text, and which scope (channel or connection) was closed.

Usage: errors.py URL CASE.
"""
import pika
import pika.exceptions as px

from common import connect, run, unique


def _channel_error(conn, action):
    """Run action(channel); return the channel-close code/text and whether the connection survived."""
    ch = conn.channel()
    try:
        action(ch)
        return {"error": None}
    except px.ChannelClosedByBroker as e:
        alive = conn.is_open and conn.channel().is_open
        return {"code": e.reply_code, "text": e.reply_text, "connection_open": alive, "channel_open": ch.is_open}


def passive_missing_queue(url):
    conn = connect(url)
    q = unique("missing")
    out = _channel_error(conn, lambda ch: ch.queue_declare(q, passive=True))
    out["queue"] = q
    conn.close()
    return out


def redeclare_different_args(url):
    conn = connect(url)
    q = unique("args")
    first = conn.channel()
    first.queue_declare(q, arguments={"x-message-ttl": 1000})
    out = _channel_error(conn, lambda ch: ch.queue_declare(q, arguments={"x-message-ttl": 2000}))
    out["queue"] = q
    conn.channel().queue_delete(q)
    conn.close()
    return out


def exclusive_other_connection(url):
    owner = connect(url)
    q = unique("exclusive")
    owner.channel().queue_declare(q, exclusive=True)
    other = connect(url)
    out = _channel_error(other, lambda ch: ch.basic_consume(q, lambda *a: None))
    out["queue"] = q
    other.close()
    owner.close()
    return out


def reserved_prefix(url):
    conn = connect(url)
    out = _channel_error(conn, lambda ch: ch.exchange_declare("amq.pika-test", "direct"))
    conn.close()
    return out


def internal_exchange(url):
    conn = connect(url)
    x = unique("internal")
    conn.channel().exchange_declare(x, "fanout", internal=True)

    def publish(ch):
        ch.basic_publish(x, "", b"no")
        # The close arrives asynchronously; a synchronous round trip surfaces it.
        ch.queue_declare("", exclusive=True)

    out = _channel_error(conn, publish)
    out["exchange"] = x
    conn.channel().exchange_delete(x)
    conn.close()
    return out


def unknown_delivery_tag(url):
    conn = connect(url)

    def ack(ch):
        ch.basic_ack(99)
        ch.queue_declare("", exclusive=True)

    out = _channel_error(conn, ack)
    conn.close()
    return out


def unknown_exchange_type(url):
    conn = connect(url)
    ch = conn.channel()
    try:
        ch.exchange_declare(unique("badtype"), "no-such-type")
        return {"error": None}
    except px.ConnectionClosedByBroker as e:
        return {"scope": "connection", "code": e.reply_code, "text": e.reply_text, "connection_open": conn.is_open}
    except px.ChannelClosedByBroker as e:
        return {"scope": "channel", "code": e.reply_code, "text": e.reply_text}


def unknown_vhost(url):
    params = pika.URLParameters(url)
    params.virtual_host = "no-such-vhost"
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
        return {"error": None}
    except px.AMQPConnectionError as e:
        # pika 1.2 wraps the broker's connection.close as "ConnectionClosedByBroker: (530) '...'".
        return {"exception": type(e).__name__, "detail": str(e)}


def wrong_password(url):
    params = pika.URLParameters(url)
    params.credentials = pika.PlainCredentials("guest", "wrong-password")
    params.connection_attempts = 1
    try:
        pika.BlockingConnection(params).close()
        return {"error": None}
    except px.ProbableAuthenticationError as e:
        return {"exception": "ProbableAuthenticationError", "detail": str(e)}
    except px.AMQPConnectionError as e:
        inner = e.args[0] if e.args else e
        return {"exception": type(inner).__name__, "detail": str(inner)}


run({
    "passive_missing_queue": passive_missing_queue,
    "redeclare_different_args": redeclare_different_args,
    "exclusive_other_connection": exclusive_other_connection,
    "reserved_prefix": reserved_prefix,
    "internal_exchange": internal_exchange,
    "unknown_delivery_tag": unknown_delivery_tag,
    "unknown_exchange_type": unknown_exchange_type,
    "unknown_vhost": unknown_vhost,
    "wrong_password": wrong_password,
})
