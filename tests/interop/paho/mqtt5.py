"""paho-mqtt (Debian python3-paho-mqtt 1.6) MQTT 5 scenarios for issue 12 section 2, against a broker whose
Receive Maximum is 2 and maximum keep-alive 30 s.

Usage: /usr/bin/python3 mqtt5.py <port> <scenario>. Prints one JSON object with the results. Each scenario uses its
own client ids and topics.
"""
import json
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
RUN = uuid.uuid4().hex[:8]


def wait(event, what, timeout=5):
    if not event.wait(timeout):
        raise SystemExit(json.dumps({"error": "timeout waiting for " + what}))


def connect_props(**values):
    p = Properties(PacketTypes.CONNECT)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def connect(cid, clean_start=True, keepalive=60, props=None, on_message=None):
    """Connect an MQTT 5 client and return (client, CONNACK flags, CONNACK reason code, CONNACK properties)."""
    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
    done = threading.Event()
    out = {}

    def on_connect(client, userdata, flags, rc, properties=None):
        out["flags"], out["rc"], out["props"] = flags, rc, properties
        done.set()

    c.on_connect = on_connect
    if on_message is not None:
        c.on_message = on_message
    c.connect("127.0.0.1", PORT, keepalive=keepalive, clean_start=clean_start, properties=props)
    c.loop_start()
    wait(done, "CONNACK")
    return c, out["flags"], out["rc"], out["props"]


def subscribe(c, topic, qos):
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.subscribe(topic, qos=qos)
    wait(done, "SUBACK")


def stop(c):
    c.disconnect()
    c.loop_stop()


def session_expiry_zero():
    """Clean Start 0 after a connection with Session Expiry 0: no session (Session Present 0)."""
    cid = "p5-s0-" + RUN
    c, _, _, _ = connect(cid, clean_start=False)
    subscribe(c, "p5s0/" + RUN, 1)
    stop(c)
    c2, flags, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60))
    stop(c2)
    return {"sessionPresent": flags.get("session present")}


def resume_queued():
    """Session Expiry 60: everything queued while away comes on resumption."""
    cid = "p5-rq-" + RUN
    topic = "p5rq/" + RUN
    c, _, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60))
    subscribe(c, topic, 2)
    stop(c)
    pub, _, _, _ = connect("p5-rqpub-" + RUN)
    for i in range(12):
        pub.publish(topic, "m%d" % i, qos=i % 3).wait_for_publish()
    stop(pub)
    got = []
    done = threading.Event()

    def on_message(client, userdata, m):
        got.append(m.payload.decode())
        if len(got) == 12:
            done.set()

    c2, flags, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60), on_message=on_message)
    wait(done, "queued messages")
    stop(c2)
    return {"sessionPresent": flags.get("session present"), "messages": sorted(got, key=lambda s: int(s[1:]))}


def resume_with_expiry_zero():
    """A session kept with Session Expiry 60, resumed by a connection with Session Expiry 0: what was queued comes."""
    cid = "p5-r0-" + RUN
    topic = "p5r0/" + RUN
    c, _, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60))
    subscribe(c, topic, 1)
    stop(c)
    pub, _, _, _ = connect("p5-r0pub-" + RUN)
    pub.publish(topic, "kept", qos=1).wait_for_publish()
    stop(pub)
    got = []
    done = threading.Event()
    c2, flags, _, _ = connect(cid, clean_start=False, on_message=lambda cl, u, m: (got.append(m.payload.decode()), done.set()))
    wait(done, "queued message")
    stop(c2)
    # Its expiry was 0: the session ended with that connection.
    c3, flags3, _, _ = connect(cid, clean_start=False)
    stop(c3)
    return {"sessionPresent": flags.get("session present"), "messages": got, "afterwards": flags3.get("session present")}


def message_expiry():
    """A queued message comes with the interval it has left; an expired one does not come."""
    cid = "p5-mx-" + RUN
    topic = "p5mx/" + RUN
    c, _, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60))
    subscribe(c, topic + "/#", 1)
    stop(c)
    pub, _, _, _ = connect("p5-mxpub-" + RUN)

    def publish(sub, body, expiry):
        p = Properties(PacketTypes.PUBLISH)
        if expiry is not None:
            p.MessageExpiryInterval = expiry
        pub.publish(topic + "/" + sub, body, qos=1, properties=p).wait_for_publish()

    publish("short", "expires", 1)
    publish("long", "kept", 60)
    # Waiting is the point here: the short one expires, the long one has at most 59 s left.
    time.sleep(1.5)
    publish("last", "sentinel", None)
    stop(pub)
    got = []
    done = threading.Event()

    def on_message(client, userdata, m):
        got.append({"payload": m.payload.decode(), "expiry": getattr(m.properties, "MessageExpiryInterval", None)})
        if m.payload == b"sentinel":
            done.set()

    c2, _, _, _ = connect(cid, clean_start=False, props=connect_props(SessionExpiryInterval=60), on_message=on_message)
    wait(done, "sentinel")
    stop(c2)
    return {"messages": got}


def server_keep_alive():
    """Asking for more than the maximum keep-alive, or for 0: Server Keep Alive in CONNACK."""
    out = {}
    for ask in (0, 600, 20):
        c, _, _, props = connect("p5-ka%d-%s" % (ask, RUN), keepalive=ask)
        out[str(ask)] = getattr(props, "ServerKeepAlive", None)
        stop(c)
    return out


def receive_maximum():
    """More unacknowledged QoS 2 PUBLISHes than the server's Receive Maximum (2): DISCONNECT 0x93."""
    c = mqtt.Client(client_id="p5-rm-" + RUN, protocol=mqtt.MQTTv5)
    out = {}
    connected = threading.Event()
    gone = threading.Event()
    c.on_connect = lambda client, u, f, rc, p=None: (out.update(receiveMaximum=getattr(p, "ReceiveMaximum", None)), connected.set())

    def on_disconnect(client, userdata, rc, properties=None):
        out["disconnect"] = rc.value if hasattr(rc, "value") else rc
        gone.set()

    c.on_disconnect = on_disconnect
    c.connect("127.0.0.1", PORT)
    c.loop_start()
    wait(connected, "CONNACK")
    # paho does not hold back PUBLISHes for the server's Receive Maximum: five in one go.
    for i in range(5):
        c.publish("p5rm/" + RUN, "x", qos=2)
    wait(gone, "DISCONNECT")
    c.loop_stop()
    return out


def auth_method():
    """An Authentication Method Warren does not support: CONNACK 0x8C."""
    c = mqtt.Client(client_id="p5-am-" + RUN, protocol=mqtt.MQTTv5)
    out = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, properties=None):
        out["rc"] = rc.value if hasattr(rc, "value") else rc
        out["name"] = rc.getName() if hasattr(rc, "getName") else str(rc)
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", PORT, properties=connect_props(AuthenticationMethod="SCRAM-SHA-1"))
    c.loop_start()
    wait(done, "CONNACK")
    c.loop_stop()
    return out


def sys_topics():
    """$SYS/# gets the broker statistics at once (retained); # and +/broker/# get none of them."""
    wild_got = []
    sentinel = threading.Event()

    def on_wild(client, userdata, m):
        wild_got.append(m.topic)
        if m.topic == "p5sys/" + RUN:
            sentinel.set()

    wild, _, _, _ = connect("p5-wild-" + RUN, on_message=on_wild)
    subscribe(wild, "#", 0)
    subscribe(wild, "+/broker/#", 0)
    sys_got = {}
    have = threading.Event()

    def on_sys(client, userdata, m):
        sys_got[m.topic] = {"payload": m.payload.decode(), "retain": m.retain}
        if "$SYS/broker/subscriptions/count" in sys_got and "$SYS/broker/version" in sys_got:
            have.set()

    s, _, _, _ = connect("p5-sys-" + RUN, on_message=on_sys)
    subscribe(s, "$SYS/#", 0)
    wait(have, "$SYS values")
    pub, _, _, _ = connect("p5-syspub-" + RUN)
    pub.publish("p5sys/" + RUN, "x", qos=1).wait_for_publish()
    wait(sentinel, "sentinel")
    for c in (pub, s, wild):
        stop(c)
    return {
        "sys": sorted(sys_got.keys()),
        "retain": sorted({v["retain"] for v in sys_got.values()}),
        "connected": sys_got.get("$SYS/broker/clients/connected", {}).get("payload"),
        "wildSys": [t for t in wild_got if t.startswith("$")],
    }


SCENARIOS = {
    "session_expiry_zero": session_expiry_zero,
    "resume_queued": resume_queued,
    "resume_with_expiry_zero": resume_with_expiry_zero,
    "message_expiry": message_expiry,
    "server_keep_alive": server_keep_alive,
    "receive_maximum": receive_maximum,
    "auth_method": auth_method,
    "sys_topics": sys_topics,
}

print(json.dumps(SCENARIOS[SCENARIO]()))
