"""The RabbitMQ tutorial patterns written with pika 1.2 (our own code). Usage: tutorials.py URL PATTERN."""
import pika

from common import connect, pump, run, take, unique


def hello(url):
    conn = connect(url)
    ch = conn.channel()
    q = unique("hello")
    ok = ch.queue_declare(q, durable=False)
    ch.basic_publish("", q, b"Hello World!", pika.BasicProperties(content_type="text/plain"))
    [(m, p, body)] = take(ch, q, 1)
    ch.queue_delete(q)
    conn.close()
    return {"declare": [ok.method.queue == q, ok.method.message_count, ok.method.consumer_count],
            "body": body, "content_type": p.content_type, "exchange": m.exchange, "routing_key_is_queue": m.routing_key == q,
            "redelivered": m.redelivered}


def work(url):
    """Fair dispatch: prefetch 1, manual acks, a worker that holds its message gets no second one."""
    setup_conn = connect(url)
    setup = setup_conn.channel()
    q = unique("tasks")
    setup.queue_declare(q, durable=True)
    slow_conn, fast_conn = connect(url), connect(url)
    slow, fast = slow_conn.channel(), fast_conn.channel()
    slow.basic_qos(prefetch_count=1)
    fast.basic_qos(prefetch_count=1)
    slow_got, fast_got = [], []

    def on_slow(ch, m, p, body):
        slow_got.append((m.delivery_tag, body))  # never acked until the end

    def on_fast(ch, m, p, body):
        fast_got.append(body)
        ch.basic_ack(m.delivery_tag)

    slow.basic_consume(q, on_slow, auto_ack=False)
    fast.basic_consume(q, on_fast, auto_ack=False)
    for i in range(10):
        setup.basic_publish("", q, ("task %d" % i).encode(), pika.BasicProperties(delivery_mode=2))
    pump([setup_conn, slow_conn, fast_conn], lambda: len(slow_got) + len(fast_got) == 10)
    for tag, _ in slow_got:
        slow.basic_ack(tag)
    slow_conn.close()
    fast_conn.close()
    setup.queue_delete(q)
    setup_conn.close()
    return {"slow": len(slow_got), "fast": len(fast_got),
            "all": sorted([b.decode() for _, b in slow_got] + [b.decode() for b in fast_got])}


def pubsub(url):
    conn = connect(url)
    ch = conn.channel()
    x = unique("logs")
    ch.exchange_declare(x, "fanout", auto_delete=False)
    q1 = ch.queue_declare("", exclusive=True).method.queue
    q2 = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q1, x)
    ch.queue_bind(q2, x, routing_key="ignored")
    ch.basic_publish(x, "any", b"log line")
    out = {"q1": [b for _, _, b in take(ch, q1, 1)], "q2": [b for _, _, b in take(ch, q2, 1)],
           "generated_name": q1.startswith("amq.gen-")}
    ch.exchange_delete(x)
    conn.close()
    return out


def routing(url):
    conn = connect(url)
    ch = conn.channel()
    x = unique("direct_logs")
    ch.exchange_declare(x, "direct")
    errors = ch.queue_declare("", exclusive=True).method.queue
    everything = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(errors, x, routing_key="error")
    for sev in ("info", "warning", "error"):
        ch.queue_bind(everything, x, routing_key=sev)
    for sev in ("info", "warning", "error", "debug"):
        ch.basic_publish(x, sev, sev.encode())
    out = {"errors": [b for _, _, b in take(ch, errors, 1)], "all": [b for _, _, b in take(ch, everything, 3)],
           "left": ch.queue_declare(errors, passive=True).method.message_count}
    ch.exchange_delete(x)
    conn.close()
    return out


def topics(url):
    conn = connect(url)
    ch = conn.channel()
    x = unique("topic_logs")
    ch.exchange_declare(x, "topic")
    ch.confirm_delivery()  # each basic_publish returns once the broker has routed it
    bindings = {"star": ["*.orange.*"], "lazy": ["*.*.rabbit", "lazy.#"], "kern": ["kern.*"]}
    queues = {}
    for name, keys in bindings.items():
        q = ch.queue_declare("", exclusive=True).method.queue
        queues[name] = q
        for k in keys:
            ch.queue_bind(q, x, routing_key=k)
    keys = ["quick.orange.rabbit", "lazy.orange.elephant", "quick.brown.fox", "lazy.pink.rabbit",
            "kern.critical", "kern", "kern.a.b", "lazy"]
    for k in keys:
        ch.basic_publish(x, k, k.encode())
    # Every publish is confirmed, so the counts are final: drain each queue.
    out = {}
    for name, q in queues.items():
        n = ch.queue_declare(q, passive=True).method.message_count
        out[name] = [b for _, _, b in take(ch, q, n)] if n else []
    ch.exchange_delete(x)
    conn.close()
    return out


def _rpc_server(url, q):
    conn = connect(url)
    ch = conn.channel()
    ch.queue_declare(q, exclusive=False, auto_delete=True)
    ch.basic_qos(prefetch_count=1)

    def on_request(c, m, p, body):
        n = int(body)
        c.basic_publish("", p.reply_to, str(n * n).encode(),
                        pika.BasicProperties(correlation_id=p.correlation_id))
        c.basic_ack(m.delivery_tag)
        seen_reply_to.append(p.reply_to)

    seen_reply_to = []
    ch.basic_consume(q, on_request)
    return conn, seen_reply_to


def rpc(url):
    q = unique("rpc")
    server, _ = _rpc_server(url, q)
    conn = connect(url)
    ch = conn.channel()
    reply_q = ch.queue_declare("", exclusive=True).method.queue
    answers = {}

    def on_reply(c, m, p, body):
        answers[p.correlation_id] = body.decode()

    ch.basic_consume(reply_q, on_reply, auto_ack=True)
    for n in (4, 9):
        ch.basic_publish("", q, str(n).encode(),
                         pika.BasicProperties(reply_to=reply_q, correlation_id="corr-%d" % n))
    pump([conn, server], lambda: len(answers) == 2)
    server.close()
    conn.close()
    return {"answers": answers}


def direct_reply_to(url):
    q = unique("rpc-direct")
    server, seen = _rpc_server(url, q)
    conn = connect(url)
    ch = conn.channel()
    answers = {}

    def on_reply(c, m, p, body):
        answers[p.correlation_id] = body.decode()

    ch.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
    ch.basic_publish("", q, b"12", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id="d-12"))
    pump([conn, server], lambda: len(answers) == 1)
    server.close()
    conn.close()
    return {"answers": answers, "server_saw_generated_name": seen[0].startswith("amq.rabbitmq.reply-to.")}


run({"hello": hello, "work": work, "pubsub": pubsub, "routing": routing, "topics": topics, "rpc": rpc,
     "direct_reply_to": direct_reply_to})
