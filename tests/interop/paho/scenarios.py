"""paho-mqtt (Debian python3-paho-mqtt 1.6) scenarios against an MQTT broker.

Usage: /usr/bin/python3 scenarios.py <port> <scenario>. Prints one JSON object with the results; exit code 0 on
success. Each scenario uses its own client ids and topics so runs do not interfere.
"""
import json
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
RUN = uuid.uuid4().hex[:8]


def client(client_id, clean=True, protocol=mqtt.MQTTv311):
    if protocol == mqtt.MQTTv5:
        c = mqtt.Client(client_id=client_id, protocol=protocol)
    else:
        c = mqtt.Client(client_id=client_id, clean_session=clean, protocol=protocol)
    return c


def wait(event, what, timeout=5):
    if not event.wait(timeout):
        raise SystemExit(json.dumps({"error": "timeout waiting for " + what}))


def pubsub_qos(protocol):
    got = []
    done = threading.Event()
    subscribed = threading.Event()
    sub = client("paho-sub-" + RUN, protocol=protocol)
    sub.on_message = lambda c, u, m: (got.append({"topic": m.topic, "payload": m.payload.decode(), "qos": m.qos}), done.set() if len(got) == 3 else None)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", PORT)
    sub.loop_start()
    sub.subscribe("paho/" + RUN + "/#", qos=2)
    wait(subscribed, "suback")
    pub = client("paho-pub-" + RUN, protocol=protocol)
    pub.connect("127.0.0.1", PORT)
    pub.loop_start()
    for qos in (0, 1, 2):
        pub.publish("paho/" + RUN + "/q" + str(qos), "m" + str(qos), qos=qos).wait_for_publish()
    wait(done, "messages")
    pub.loop_stop()
    sub.loop_stop()
    got.sort(key=lambda m: m["qos"])
    return {"messages": got}


def persistent():
    # A 3.1.1 persistent session: subscribe, disconnect, a message is queued, reconnect receives it.
    cid = "paho-persist-" + RUN
    subscribed = threading.Event()
    c = client(cid, clean=False)
    c.on_subscribe = lambda *a: subscribed.set()
    c.connect("127.0.0.1", PORT)
    c.loop_start()
    c.subscribe("persist/" + RUN, qos=1)
    wait(subscribed, "suback")
    c.disconnect()
    c.loop_stop()
    pub = client("paho-ppub-" + RUN)
    pub.connect("127.0.0.1", PORT)
    pub.loop_start()
    pub.publish("persist/" + RUN, "queued", qos=1).wait_for_publish()
    pub.loop_stop()
    got = []
    done = threading.Event()
    flags = {}
    c2 = client(cid, clean=False)
    c2.on_connect = lambda c, u, f, rc: flags.update(f)
    c2.on_message = lambda c, u, m: (got.append(m.payload.decode()), done.set())
    c2.connect("127.0.0.1", PORT)
    c2.loop_start()
    wait(done, "queued message")
    c2.loop_stop()
    return {"sessionPresent": flags.get("session present"), "messages": got}


def retained_will():
    topic = "rw/" + RUN
    pub = client("paho-rpub-" + RUN)
    pub.connect("127.0.0.1", PORT)
    pub.loop_start()
    pub.publish(topic + "/state", "on", qos=1, retain=True).wait_for_publish()
    pub.loop_stop()
    got = []
    done = threading.Event()
    sub = client("paho-rsub-" + RUN)
    sub.on_message = lambda c, u, m: (got.append({"topic": m.topic, "payload": m.payload.decode(), "retain": m.retain}), done.set() if len(got) == 2 else None)
    sub.connect("127.0.0.1", PORT)
    sub.loop_start()
    sub.subscribe(topic + "/#", qos=1)
    time.sleep(0.2)
    dying = client("paho-dying-" + RUN)
    dying.will_set(topic + "/will", "dead", qos=1)
    dying.connect("127.0.0.1", PORT)
    dying.loop_start()
    time.sleep(0.2)
    dying.loop_stop()
    dying.socket().close()  # no DISCONNECT: the will must go out
    wait(done, "retained + will")
    sub.loop_stop()
    return {"messages": got}


def problem_response_info():
    """MQTT 5: a refused CONNECT's Reason String, and Response Information when requested."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    out = {}
    done = threading.Event()

    def on_refused(c, userdata, flags, rc, props=None):
        out["refusedReason"] = rc.getName() if hasattr(rc, "getName") else str(rc)
        out["refusedString"] = getattr(props, "ReasonString", None)
        done.set()

    bad = client("paho-bad-" + RUN, protocol=mqtt.MQTTv5)
    bad.username_pw_set("guest", "wrong")
    bad.on_connect = on_refused
    bad.connect("127.0.0.1", PORT)
    bad.loop_start()
    wait(done, "refused CONNACK")
    bad.loop_stop()

    done.clear()

    def on_connect(c, userdata, flags, rc, props=None):
        out["responseInformation"] = getattr(props, "ResponseInformation", None)
        done.set()

    props = Properties(PacketTypes.CONNECT)
    props.RequestResponseInformation = 1
    cid = "paho-rr-" + RUN
    ok = client(cid, protocol=mqtt.MQTTv5)
    ok.on_connect = on_connect
    ok.connect("127.0.0.1", PORT, properties=props)
    ok.loop_start()
    wait(done, "CONNACK")
    ok.disconnect()
    ok.loop_stop()
    out["expectedResponseInformation"] = "response/" + cid
    return out


SCENARIOS = {
    "pubsub311": lambda: pubsub_qos(mqtt.MQTTv311),
    "pubsub5": lambda: pubsub_qos(mqtt.MQTTv5),
    "persistent": persistent,
    "retained_will": retained_will,
    "problem_response_info": problem_response_info,
}

print(json.dumps(SCENARIOS[SCENARIO]()))
