"""RabbitMQ features seen through pika 1.2. Usage: features.py URL CASE [ARGS...]."""
import calendar
import decimal
import time

import pika
import pika.exceptions as px

from common import connect, props_to_json, run, take, unique


def confirms(url):
    """Publisher confirms: acked publishes, then a nack from an x-overflow=reject-publish queue."""
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    q = unique("confirm")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    outcomes = []
    for body in (b"first", b"second"):
        try:
            ch.basic_publish("", q, body)
            outcomes.append("ack")
        except px.NackError:
            outcomes.append("nack")
    count = ch.queue_declare(q, passive=True).method.message_count
    ch.queue_delete(q)
    conn.close()
    return {"outcomes": outcomes, "count": count}


def mandatory(url):
    """basic.return 312 NO_ROUTE for an unroutable mandatory publish on a confirm channel."""
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    returned = []
    ch.add_on_return_callback(lambda c, m, p, body: returned.append(
        {"reply_code": m.reply_code, "reply_text": m.reply_text, "exchange": m.exchange,
         "routing_key": m.routing_key, "body": body}))
    key = unique("nowhere")
    outcome = "ack"
    try:
        ch.basic_publish("amq.direct", key, b"lost", mandatory=True)
    except px.UnroutableError:
        outcome = "unroutable"
    conn.process_data_events(time_limit=0)
    conn.close()
    return {"outcome": outcome, "returned": returned, "key": key}


def dead_letter(url):
    """Reject without requeue into a DLX; report the x-death header as pika decodes it."""
    conn = connect(url)
    ch = conn.channel()
    dlx, dlq, q = unique("dlx"), unique("dlq"), unique("src")
    ch.exchange_declare(dlx, "fanout")
    ch.queue_declare(dlq)
    ch.queue_bind(dlq, dlx)
    ch.queue_declare(q, arguments={"x-dead-letter-exchange": dlx})
    ch.basic_publish("", q, b"bad", pika.BasicProperties(headers={"keep": "me"}))
    [(m, _, _)] = take(ch, q, 1, auto_ack=False)
    ch.basic_reject(m.delivery_tag, requeue=False)
    [(dm, dp, body)] = take(ch, dlq, 1)
    deaths = dp.headers["x-death"]
    d = deaths[0]
    out = {
        "body": body, "exchange": dm.exchange, "routing_key": dm.routing_key, "queue": q, "dlx": dlx,
        "keep": dp.headers.get("keep"), "first_death_reason": dp.headers.get("x-first-death-reason"),
        "first_death_queue": dp.headers.get("x-first-death-queue"),
        "deaths": len(deaths),
        "death": {"count": d["count"], "count_type": type(d["count"]).__name__, "reason": d["reason"],
                  "queue": d["queue"], "exchange": d["exchange"], "routing_keys": d["routing-keys"],
                  "time_type": type(d["time"]).__name__,
                  # pika decodes a timestamp as a naive UTC datetime
                  "time_age_s": abs(time.time() - calendar.timegm(d["time"].utctimetuple()))},
    }
    for n in (q, dlq):
        ch.queue_delete(n)
    ch.exchange_delete(dlx)
    conn.close()
    return out


def tx(url):
    conn = connect(url)
    ch = conn.channel()
    q = unique("tx")
    ch.queue_declare(q)
    ch.tx_select()
    ch.basic_publish("", q, b"committed")
    before = ch.queue_declare(q, passive=True).method.message_count
    ch.tx_commit()
    after_commit = ch.queue_declare(q, passive=True).method.message_count
    ch.basic_publish("", q, b"rolled back")
    ch.tx_rollback()
    after_rollback = ch.queue_declare(q, passive=True).method.message_count
    ch.queue_delete(q)
    conn.close()
    return {"before": before, "after_commit": after_commit, "after_rollback": after_rollback}


def get_and_nack(url):
    """basic.get with message counts, get-empty, and nack(requeue) → redelivered."""
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    q = unique("get")
    ch.queue_declare(q)
    empty = ch.basic_get(q)
    ch.basic_publish("", q, b"g1")
    ch.basic_publish("", q, b"g2")
    m, p, body = ch.basic_get(q, auto_ack=False)
    first = {"body": body, "message_count": m.message_count, "redelivered": m.redelivered}
    ch.basic_nack(m.delivery_tag, requeue=True)
    m2, _, body2 = ch.basic_get(q, auto_ack=True)
    again = {"body": body2, "message_count": m2.message_count, "redelivered": m2.redelivered}
    purged = ch.queue_purge(q).method.message_count
    ch.queue_delete(q)
    conn.close()
    return {"empty": list(empty) == [None, None, None], "first": first, "again": again, "purged": purged}


def publish_props(url, queue):
    """Publish one message with every basic property set, for an amqplib consumer to inspect."""
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    # pika 1.2 cannot encode floats; a decimal stands in for a non-integer number.
    props = pika.BasicProperties(
        content_type="application/json", content_encoding="utf-8",
        headers={"str": "s", "int": 42, "neg": -7, "bool": True, "decimal": decimal.Decimal("1.5"),
                 "list": [1, "two"],
                 "nested": {"a": "b"}},
        delivery_mode=2, priority=3, correlation_id="corr", reply_to="replies", expiration="60000",
        message_id="mid", timestamp=1700000000, type="kind", user_id="guest", app_id="pika-app")
    ch.basic_publish("", queue, b'{"from":"pika"}', props)
    conn.close()
    return {"published": True}


def consume_props(url, queue):
    """Consume one message (published by amqplib) and report its properties as pika decodes them."""
    conn = connect(url)
    ch = conn.channel()
    [(m, p, body)] = take(ch, queue, 1)
    conn.close()
    return {"body": body, "props": props_to_json(p),
            "header_types": {k: type(v).__name__ for k, v in (p.headers or {}).items()}}


run({"confirms": confirms, "mandatory": mandatory, "dead_letter": dead_letter, "tx": tx,
     "get_and_nack": get_and_nack, "publish_props": publish_props, "consume_props": consume_props})
