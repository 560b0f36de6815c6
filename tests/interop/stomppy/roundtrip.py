"""stomp.py (Debian python3-stomp) against a STOMP broker: argv = host port mode queue.

mode "roundtrip": STOMP 1.2, subscribe client-individual, send with a receipt and a custom header, receive, ack,
then a transaction that is aborted and one that is committed; prints one JSON line per observation.
"""
import json
import sys
import threading
import time

import stomp

host, port, mode, queue = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Listener(stomp.ConnectionListener):
    def __init__(self):
        self.messages = []
        self.receipts = []
        self.errors = []
        self.cond = threading.Condition()

    def on_message(self, frame):
        with self.cond:
            self.messages.append(frame)
            self.cond.notify_all()

    def on_receipt(self, frame):
        with self.cond:
            self.receipts.append(frame.headers.get('receipt-id'))
            self.cond.notify_all()

    def on_error(self, frame):
        with self.cond:
            self.errors.append({'message': frame.headers.get('message'), 'body': frame.body})
            self.cond.notify_all()

    def wait(self, pred, timeout=5):
        end = time.time() + timeout
        with self.cond:
            while not pred():
                left = end - time.time()
                if left <= 0:
                    raise SystemExit('timeout waiting')
                self.cond.wait(left)


conn = stomp.Connection12([(host, port)], vhost='/', heartbeats=(0, 0))
lst = Listener()
conn.set_listener('l', lst)
conn.connect('guest', 'guest', wait=True)
conn.subscribe(destination='/queue/' + queue, id='py1', ack='client-individual')
conn.send(destination='/queue/' + queue, body='héllo from python', headers={'x-custom': 'v:1', 'receipt': 'r1'})
lst.wait(lambda: len(lst.messages) >= 1 and 'r1' in lst.receipts)
m = lst.messages[0]
print(json.dumps({'event': 'message', 'body': m.body, 'custom': m.headers.get('x-custom'),
                  'subscription': m.headers.get('subscription'), 'destination': m.headers.get('destination')}))
conn.ack(m.headers['ack'])
conn.begin(transaction='t1')
conn.send(destination='/queue/' + queue, body='aborted', transaction='t1')
conn.abort(transaction='t1')
conn.begin(transaction='t2')
conn.send(destination='/queue/' + queue, body='committed', transaction='t2')
conn.commit(transaction='t2')
lst.wait(lambda: len(lst.messages) >= 2)
print(json.dumps({'event': 'tx', 'body': lst.messages[1].body, 'count': len(lst.messages)}))
conn.ack(lst.messages[1].headers['ack'])
conn.disconnect()
print(json.dumps({'event': 'done', 'errors': lst.errors}))
