/**
 * The STOMP differential: one script of raw STOMP frames, run scenario by scenario (one TCP socket
 * each) against any STOMP broker, recording the frames that come back and whether the connection stayed open. Run
 * against Warren and RabbitMQ's STOMP plugin, the two recordings must be equal once the values each broker generates
 * (server, session, queue names it invents) are masked. Plain node:net and its own frame reader: no client library
 * sits between the script and the bytes.
 *
 * Each scenario's queue, exchange and topic names carry a run token (`$R`), so runs against the same broker never
 * meet each other's durable state; the token is masked back to `$R` in the recording.
 */
import net from 'node:net';

/** A frame as sent or received (headers in wire order). */
export interface RawFrame {
  command: string;
  headers: Array<[string, string]>;
  body: string;
}

/** What came back from one scenario. */
export interface Recording {
  frames: RawFrame[];
  /** The server closed the connection before the scenario's final DISCONNECT. */
  closedByServer: boolean;
}

/** One step: send a frame (built from the frames received so far), then wait until `until` holds. */
export interface Step {
  send?: RawFrame | ((got: readonly RawFrame[]) => RawFrame);
  /** Several frames in one TCP write, to check that a reply precedes the next frame's effects. */
  sendAll?: readonly RawFrame[];
  /** Wait until this holds for the frames received so far (or the connection closes). */
  until?: (got: readonly RawFrame[]) => boolean;
}

/** One scenario: CONNECT, the steps, then DISCONNECT with a receipt when still open. */
export interface DiffScenario {
  name: string;
  steps: readonly Step[];
  /**
   * Consecutive MESSAGE frames may come in any order (one message delivered to several consumers of a stream: RabbitMQ
   * serves each from its own process); they are compared sorted, their delivery tags masked.
   */
  unorderedMessages?: boolean;
  /** End without DISCONNECT (see the scenario for why). */
  noDisconnect?: boolean;
}

const f = (command: string, headers: Record<string, string>, body = ''): RawFrame => ({
  command,
  headers: Object.entries(headers),
  body,
});

/** Frames received so far with this command. */
const count = (got: readonly RawFrame[], command: string): number => got.filter((g) => g.command === command).length;
const header = (frame: RawFrame | undefined, name: string): string | undefined => frame?.headers.find(([k]) => k === name)?.[1];
const hasReceipt = (id: string) => (got: readonly RawFrame[]) =>
  got.some((g) => (g.command === 'RECEIPT' || g.command === 'ERROR') && header(g, 'receipt-id') === id) ||
  got.some((g) => g.command === 'ERROR');
const messages = (n: number) => (got: readonly RawFrame[]) => count(got, 'MESSAGE') >= n || count(got, 'ERROR') > 0;
/** The `ack` header of the n-th MESSAGE (0-based). */
const ackOf = (got: readonly RawFrame[], n: number): string =>
  header(got.filter((g) => g.command === 'MESSAGE')[n], 'ack') ?? 'none';

/**
 * A send that waits for its receipt. A SEND that delivers waits for its RECEIPT and the MESSAGE both: RabbitMQ answers
 * a later frame (an ACK) at once, while a SEND's RECEIPT waits for the confirm, so sending on after the MESSAGE
 * alone would race the two receipts.
 */
const sr = (command: string, headers: Record<string, string>, body = ''): Step => ({
  send: f(command, headers, body),
  ...(headers['receipt'] !== undefined ? { until: hasReceipt(headers['receipt']) } : {}),
});

/** The differential's scenarios, in run order. */
export const DIFF_SCENARIOS: readonly DiffScenario[] = [
  // ---- malformed and unknown destinations --------------------------------------------------------------------
  ...['/bah/baz', '/queue/', '/topic/', '/exchange/', '/amq/queue/', '/temp-queue/'].flatMap((d) => [
    { name: `SEND to ${d}`, steps: [sr('SEND', { destination: d, receipt: 'r1' }, 'x')] },
    { name: `SUBSCRIBE to ${d}`, steps: [sr('SUBSCRIBE', { destination: d, id: 's1', receipt: 'r1' })] },
  ]),
  { name: 'SEND to a missing exchange', steps: [sr('SEND', { destination: '/exchange/$R-missing/k', receipt: 'r1' }, 'x')] },
  { name: 'SUBSCRIBE to a missing exchange', steps: [sr('SUBSCRIBE', { destination: '/exchange/$R-missing/k', id: 's1', receipt: 'r1' })] },
  { name: 'SUBSCRIBE to a missing /amq/queue', steps: [sr('SUBSCRIBE', { destination: '/amq/queue/$R-none', id: 's1', receipt: 'r1' })] },
  ...['/queue/a/b', '/amq/queue/a/b', '/temp-queue/a/b', '/reply-queue/', '/exchange/amq.direct/'].map((d) => ({
    name: `SEND to ${d}`,
    steps: [sr('SEND', { destination: d, receipt: 'r1' }, 'x')],
  })),
  { name: 'SUBSCRIBE to /temp-queue/x', steps: [sr('SUBSCRIBE', { destination: '/temp-queue/x', id: 's1', receipt: 'r1' })] },
  {
    name: 'SUBSCRIBE with a duplicate id',
    // RabbitMQ 3.10 sometimes sends the second SUBSCRIBE's RECEIPT after the ERROR, sometimes not, and then answers
    // no DISCONNECT on this connection: the scenario stops at the ERROR, its second SUBSCRIBE asks no receipt.
    noDisconnect: true,
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-dup', id: 's1', receipt: 'r1' }),
      { send: f('SUBSCRIBE', { destination: '/queue/$R-dup', id: 's1' }), until: (g) => count(g, 'ERROR') > 0 },
    ],
  },
  { name: 'ACK of an unknown message', steps: [sr('ACK', { id: 'T_s1@@session-x@@5', receipt: 'r1' })] },
  { name: 'UNSUBSCRIBE of an unknown id', steps: [sr('UNSUBSCRIBE', { id: 'nope', receipt: 'r1' })] },
  { name: 'an unknown command', steps: [sr('FOO', { receipt: 'r1' })] },
  { name: 'BEGIN without transaction', steps: [sr('BEGIN', { receipt: 'r1' })] },
  { name: 'UNSUBSCRIBE without id or destination', steps: [sr('UNSUBSCRIBE', { receipt: 'r1' })] },
  { name: 'SUBSCRIBE with a bad ack mode', steps: [sr('SUBSCRIBE', { destination: '/queue/$R-ack', id: 's', ack: 'sometimes', receipt: 'r1' })] },
  { name: 'SEND with a bad priority', steps: [sr('SEND', { destination: '/queue/$R-prio', priority: 'high', receipt: 'r1' }, 'x')] },
  { name: 'a second CONNECT', steps: [sr('CONNECT', { 'accept-version': '1.2', host: '/', receipt: 'r1' })] },
  { name: 'SEND without destination', steps: [sr('SEND', { receipt: 'r1' }, 'x')] },

  // ---- NACK requeue:false ------------------------------------------------------------------------------------
  {
    name: 'NACK requeue:false discards',
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-nack', id: 's', ack: 'client-individual', receipt: 'sub' }),
      { send: f('SEND', { destination: '/queue/$R-nack', receipt: 'p1' }, 'm1'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
      sr('NACK', { id: '@ack0', requeue: 'false', receipt: 'n1' }),
      { send: f('SEND', { destination: '/queue/$R-nack', receipt: 'p2' }, 'm2'), until: (g) => hasReceipt('p2')(g) && messages(2)(g) },
      sr('ACK', { id: '@ack1', receipt: 'a2' }),
    ],
  },
  {
    name: 'NACK requeue:false dead-letters',
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-dlq', id: 'dead', receipt: 'sub1' }),
      sr('SUBSCRIBE', {
        destination: '/queue/$R-dlsrc',
        id: 's',
        ack: 'client-individual',
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': '$R-dlq',
        receipt: 'sub2',
      }),
      { send: f('SEND', { destination: '/queue/$R-dlsrc', receipt: 'p1' }, 'm1'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
      { send: f('NACK', { id: '@ack0', requeue: 'false', receipt: 'n1' }), until: messages(2) },
    ],
  },
  {
    name: 'NACK requeue:true redelivers',
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-renack', id: 's', ack: 'client-individual', receipt: 'sub' }),
      { send: f('SEND', { destination: '/queue/$R-renack', receipt: 'p1' }, 'm1'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
      { send: f('NACK', { id: '@ack0', receipt: 'n1' }), until: messages(2) },
      sr('ACK', { id: '@ack1', receipt: 'a1' }),
    ],
  },

  // ---- RECEIPT for SUBSCRIBE to /topic before later frames ---------------------------------------------------
  {
    name: 'SUBSCRIBE /topic receipt before a SEND in the same write',
    steps: [
      {
        sendAll: [
          f('SUBSCRIBE', { destination: '/topic/$R.a', id: 't', receipt: 'sub' }),
          f('SEND', { destination: '/topic/$R.a', receipt: 'p1' }, 'hello'),
        ],
        until: (got) => hasReceipt('p1')(got) && messages(1)(got),
      },
    ],
  },

  // ---- durable topic subscriptions ---------------------------------------------------------------------------
  ...(
    [
      ['durable:true auto-delete:false', 'd1', { durable: 'true', 'auto-delete': 'false' }],
      ['persistent:true auto-delete:false (legacy)', 'd2', { persistent: 'true', 'auto-delete': 'false' }],
      ['durable:true alone', 'd3', { durable: 'true' }],
    ] as const
  ).map(([label, topic, flags]) => ({
    name: `durable topic subscription, ${label}`,
    steps: [
      sr('SUBSCRIBE', { destination: `/topic/$R.${topic}`, id: 'dur', ...flags, receipt: 'sub1' }),
      {
        send: f('SEND', { destination: `/topic/$R.${topic}`, receipt: 'p1' }, 'm1'),
        until: (g: readonly RawFrame[]) => hasReceipt('p1')(g) && messages(1)(g),
      },
      sr('UNSUBSCRIBE', { id: 'dur', receipt: 'u1' }),
      sr('SEND', { destination: `/topic/$R.${topic}`, receipt: 'p2' }, 'sent while unsubscribed'),
      {
        send: f('SUBSCRIBE', { destination: `/topic/$R.${topic}`, id: 'dur', ...flags, receipt: 'sub2' }),
        until: (g: readonly RawFrame[]) => hasReceipt('sub2')(g) && ('auto-delete' in flags ? messages(2)(g) : true),
      },
      sr('UNSUBSCRIBE', { id: 'dur', ...flags, receipt: 'u2' }),
      sr('SEND', { destination: `/topic/$R.${topic}`, receipt: 'p3' }, 'nobody'),
      { send: f('SUBSCRIBE', { destination: `/topic/$R.${topic}`, id: 'dur', ...flags, receipt: 'sub3' }), until: hasReceipt('sub3') },
      sr('UNSUBSCRIBE', { id: 'dur', ...flags, receipt: 'u3' }),
    ],
  })),
  { name: 'durable topic subscription without id', steps: [sr('SUBSCRIBE', { destination: '/topic/$R.x', durable: 'true', receipt: 'r1' })] },

  // ---- transactions ------------------------------------------------------------------------------------------
  {
    name: 'SEND in a transaction: COMMIT delivers, ABORT discards',
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-tx', id: 's', receipt: 'sub' }),
      sr('BEGIN', { transaction: 'tx1', receipt: 'b1' }),
      // No receipts on these two: RabbitMQ sends a transactional SEND's receipt at COMMIT, racing the deliveries
      // (its queue process delivers, its channel process answers), so their order is not RabbitMQ's to keep. The
      // aborted SEND below keeps its receipt: RabbitMQ sends none after ABORT, and neither may Warren.
      { send: f('SEND', { destination: '/queue/$R-tx', transaction: 'tx1' }, 'a') },
      { send: f('SEND', { destination: '/queue/$R-tx', transaction: 'tx1' }, 'b') },
      // A frame whose receipt comes at once: by then both SENDs were handled, and nothing may have been delivered.
      sr('BEGIN', { transaction: 'probe', receipt: 'probe' }),
      { send: f('COMMIT', { transaction: 'tx1', receipt: 'c1' }), until: (g) => hasReceipt('c1')(g) && messages(2)(g) },
      sr('BEGIN', { transaction: 'tx2', receipt: 'b2' }),
      { send: f('SEND', { destination: '/queue/$R-tx', transaction: 'tx2', receipt: 'p3' }, 'aborted') },
      sr('ABORT', { transaction: 'tx2', receipt: 'x2' }),
      { send: f('SEND', { destination: '/queue/$R-tx', receipt: 'p4' }, 'after abort'), until: (g) => hasReceipt('p4')(g) && messages(3)(g) },
    ],
  },
  { name: 'COMMIT of an unknown transaction', steps: [sr('COMMIT', { transaction: 'nope', receipt: 'c1' })] },

  // ---- the destination header of MESSAGE ---------------------------------------------------------------------
  {
    name: 'MESSAGE destination for each destination form',
    steps: [
      sr('SUBSCRIBE', { destination: '/queue/$R-dq', id: 'q', receipt: 's1' }),
      sr('SUBSCRIBE', { destination: '/topic/$R.dt', id: 't', receipt: 's2' }),
      sr('SUBSCRIBE', { destination: '/exchange/amq.direct/$R-dk', id: 'x', receipt: 's3' }),
      sr('SUBSCRIBE', { destination: '/exchange/amq.fanout', id: 'fan', receipt: 's4' }),
      sr('SUBSCRIBE', { destination: '/exchange/amq.topic/$R.et', id: 'et', receipt: 's5' }),
      { send: f('SEND', { destination: '/queue/$R-dq', receipt: 'p1' }, 'to queue'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
      { send: f('SEND', { destination: '/amq/queue/$R-dq', receipt: 'p2' }, 'to amq queue'), until: (g) => hasReceipt('p2')(g) && messages(2)(g) },
      { send: f('SEND', { destination: '/topic/$R.dt', receipt: 'p3' }, 'to topic'), until: (g) => hasReceipt('p3')(g) && messages(3)(g) },
      { send: f('SEND', { destination: '/exchange/amq.direct/$R-dk', receipt: 'p4' }, 'to direct'), until: (g) => hasReceipt('p4')(g) && messages(4)(g) },
      { send: f('SEND', { destination: '/exchange/amq.fanout', receipt: 'p5' }, 'to fanout'), until: (g) => hasReceipt('p5')(g) && messages(5)(g) },
      { send: f('SEND', { destination: '/exchange/amq.topic/$R.et', receipt: 'p6' }, 'to amq.topic'), until: (g) => hasReceipt('p6')(g) && messages(6)(g) },
      { send: f('SEND', { destination: '/exchange/amq.fanout/some.key', receipt: 'p7' }, 'fanout with key'), until: (g) => hasReceipt('p7')(g) && messages(7)(g) },
    ],
  },

  // ---- quorum and stream queues through STOMP headers --------------------------------------------------------
  {
    name: 'quorum queue via x-queue-type',
    steps: [
      sr('SUBSCRIBE', {
        destination: '/queue/$R-qq',
        id: 'q',
        ack: 'client-individual',
        'prefetch-count': '10',
        'x-queue-type': 'quorum',
        receipt: 'sub',
      }),
      { send: f('SEND', { destination: '/queue/$R-qq', receipt: 'p1' }, 'q1'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
      { send: f('NACK', { id: '@ack0', receipt: 'n1' }), until: messages(2) },
      sr('ACK', { id: '@ack1', receipt: 'a1' }),
    ],
  },
  {
    // first: s0..s3; offset=1: s1..s3; last: s2 (the last chunk: one message each here), s3; next and a bare number
    // (ignored: next): s3.
    name: 'stream queue via x-queue-type and x-stream-offset',
    unorderedMessages: true,
    steps: [
      sr('SEND', { destination: '/queue/$R-st', 'x-queue-type': 'stream', receipt: 'p0' }, 's0'),
      sr('SEND', { destination: '/queue/$R-st', 'x-queue-type': 'stream', receipt: 'p1' }, 's1'),
      sr('SEND', { destination: '/queue/$R-st', 'x-queue-type': 'stream', receipt: 'p2' }, 's2'),
      { ...sr('SUBSCRIBE', { destination: '/queue/$R-st', id: 'first', ack: 'client', 'prefetch-count': '10', 'x-queue-type': 'stream', 'x-stream-offset': 'first', receipt: 'sub1' }), until: messages(3) },
      { ...sr('SUBSCRIBE', { destination: '/queue/$R-st', id: 'offset=1', ack: 'client', 'prefetch-count': '10', 'x-stream-offset': 'offset=1', receipt: 'sub2' }), until: messages(5) },
      { ...sr('SUBSCRIBE', { destination: '/queue/$R-st', id: 'last', ack: 'client', 'prefetch-count': '10', 'x-stream-offset': 'last', receipt: 'sub3' }), until: messages(6) },
      sr('SUBSCRIBE', { destination: '/queue/$R-st', id: 'next', ack: 'client', 'prefetch-count': '10', 'x-stream-offset': 'next', receipt: 'sub4' }),
      sr('SUBSCRIBE', { destination: '/queue/$R-st', id: 'bare', ack: 'client', 'prefetch-count': '10', 'x-stream-offset': '1', receipt: 'sub5' }),
      { send: f('SEND', { destination: '/queue/$R-st', receipt: 'p3' }, 's3'), until: (g) => hasReceipt('p3')(g) && messages(11)(g) },
    ],
  },
  {
    name: 'x-queue-name and x-queue-type on a /topic subscription',
    steps: [
      sr('SUBSCRIBE', {
        destination: '/topic/$R.named',
        id: 'n',
        durable: 'true',
        'auto-delete': 'false',
        'x-queue-name': '$R-named',
        'x-queue-type': 'quorum',
        receipt: 'sub',
      }),
      sr('UNSUBSCRIBE', { id: 'n', receipt: 'u1' }),
      sr('SEND', { destination: '/topic/$R.named', receipt: 'p1' }, 'via topic'),
      { send: f('SUBSCRIBE', { destination: '/amq/queue/$R-named', id: 'direct', 'x-queue-type': 'quorum', receipt: 'sub2' }), until: messages(1) },
    ],
  },
  {
    name: 'x-queue-name on an /exchange subscription',
    steps: [
      sr('SUBSCRIBE', { destination: '/exchange/amq.direct/$R-xk', id: 'n', 'x-queue-name': '$R-xnamed', receipt: 'sub' }),
      { send: f('SEND', { destination: '/amq/queue/$R-xnamed', receipt: 'p1' }, 'direct to the named queue'), until: (g) => hasReceipt('p1')(g) && messages(1)(g) },
    ],
  },
];

/**
 * Scenarios whose difference Warren keeps (packages/stomp/README.md): for a header value it cannot parse RabbitMQ
 * answers with its internal crash text ("Processing error"); Warren names the header and the value. Same frames
 * otherwise, same open connection.
 */
export const KEPT_DIFFERENCES: ReadonlySet<string> = new Set(['SUBSCRIBE with a bad ack mode', 'SEND with a bad priority']);

// ---- running -----------------------------------------------------------------------------------------------------

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/:/g, '\\c');
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'c' ? ':' : c));
}

function encode(frame: RawFrame): Buffer {
  const lines = [frame.command, ...frame.headers.map(([k, v]) => `${escape(k)}:${escape(v)}`)];
  return Buffer.concat([Buffer.from(lines.join('\n') + '\n\n'), Buffer.from(frame.body), Buffer.from([0])]);
}

/** Frames from a byte stream (EOL heart-beats skipped, content-length honoured). */
class Reader {
  #buf = Buffer.alloc(0);
  push(chunk: Buffer, out: RawFrame[]): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      let start = 0;
      while (start < this.#buf.length && (this.#buf[start] === 0x0a || this.#buf[start] === 0x0d)) start++;
      const end = this.#buf.indexOf('\n\n', start);
      if (end < 0) {
        this.#buf = this.#buf.subarray(start);
        return;
      }
      const head = this.#buf.subarray(start, end).toString('utf8').split('\n').map((l) => l.replace(/\r$/, ''));
      const command = head[0] ?? '';
      const headers: Array<[string, string]> = [];
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers.push([unescape(line.slice(0, i)), unescape(line.slice(i + 1))]);
      }
      const len = headers.find(([k]) => k === 'content-length')?.[1];
      let bodyEnd: number;
      if (len !== undefined) {
        bodyEnd = end + 2 + Number(len);
        if (this.#buf.length < bodyEnd + 1) return;
      } else {
        bodyEnd = this.#buf.indexOf(0, end + 2);
        if (bodyEnd < 0) return;
      }
      out.push({ command, headers, body: this.#buf.subarray(end + 2, bodyEnd).toString('utf8') });
      this.#buf = this.#buf.subarray(bodyEnd + 1);
    }
  }
}

/** Substitute the run token and the `@ackN` placeholders (the `ack` header of the N-th MESSAGE received). */
function materialize(frame: RawFrame, token: string, got: readonly RawFrame[]): RawFrame {
  const sub = (s: string): string => {
    const m = /^@ack(\d+)$/.exec(s);
    if (m !== null) return ackOf(got, Number(m[1]));
    return s.replaceAll('$R', token);
  };
  return { command: frame.command, headers: frame.headers.map(([k, v]) => [k, sub(v)]), body: sub(frame.body) };
}

/** Run one scenario on a fresh connection to `port`. `stepTimeoutMs` bounds each wait (a missing reply). */
export async function runScenario(
  port: number,
  scenario: DiffScenario,
  token: string,
  stepTimeoutMs = 5_000,
): Promise<Recording> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const got: RawFrame[] = [];
  const reader = new Reader();
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk) => {
    reader.push(chunk, got);
    wake?.();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  const waitUntil = async (cond: (g: readonly RawFrame[]) => boolean): Promise<void> => {
    const deadline = Date.now() + stepTimeoutMs;
    while (!closed && !cond(got)) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(encode(f('CONNECT', { 'accept-version': '1.2', host: '/', login: 'guest', passcode: 'guest' })));
  await waitUntil((g) => g.length > 0);
  for (const step of scenario.steps) {
    if (closed) break;
    if (step.sendAll !== undefined) socket.write(Buffer.concat(step.sendAll.map((s) => encode(materialize(s, token, got)))));
    if (step.send !== undefined) {
      const frame = typeof step.send === 'function' ? step.send(got) : step.send;
      socket.write(encode(materialize(frame, token, got)));
    }
    if (step.until !== undefined) await waitUntil(step.until);
  }
  // Closed before our DISCONNECT: the server ended the connection (after an ERROR).
  const closedByServer = closed;
  if (!closed && scenario.noDisconnect !== true) {
    socket.write(encode(f('DISCONNECT', { receipt: 'bye' })));
    await waitUntil(() => closed);
  }
  socket.destroy();
  return { frames: got, closedByServer };
}

/**
 * The recording with generated values masked: `server`, `session`, the session inside message-id/ack, the run token,
 * RabbitMQ's and Warren's generated subscription queue names.
 */
export function normalize(rec: Recording, token: string): Recording {
  let session = '';
  const frames = rec.frames.map((fr) => {
    if (fr.command === 'CONNECTED') session = header(fr, 'session') ?? '';
    const mask = (v: string): string => {
      let out = v.replaceAll(token, '$R');
      if (session !== '') out = out.replaceAll(session, '<session>');
      return out.replace(/stomp-subscription-[A-Za-z0-9_-]+/g, 'stomp-subscription-<hash>');
    };
    const headers = fr.headers
      .filter(([k]) => k !== 'server')
      .map(([k, v]): [string, string] => [k, k === 'session' ? '<session>' : mask(v)]);
    headers.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { command: fr.command, headers, body: mask(fr.body) };
  });
  return { frames, closedByServer: rec.closedByServer };
}

/**
 * Headers left out of the comparison, each a difference Warren keeps: `x-death` (RabbitMQ's STOMP plugin drops
 * array-valued AMQP headers; Warren sends them as JSON text, documented in packages/stomp/README.md).
 */
export const IGNORED_HEADERS = new Set(['x-death']);

/**
 * A SEND's RECEIPT and the MESSAGE that SEND delivers race in RabbitMQ (the confirm and the delivery come from
 * different processes): both orders occur. The canonical order puts the MESSAGE first (a MESSAGE carries the SEND's
 * `receipt` header, so the pair is known).
 */
function canonicalOrder(frames: readonly RawFrame[]): RawFrame[] {
  const out = [...frames];
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i + 1 < out.length; i++) {
      const a = out[i]!;
      const b = out[i + 1]!;
      if (a.command === 'RECEIPT' && b.command === 'MESSAGE' && header(a, 'receipt-id') === header(b, 'receipt')) {
        out[i] = b;
        out[i + 1] = a;
        changed = true;
      }
    }
  }
  return out;
}

/**
 * `x-delivery-count: 0` on a quorum queue's first delivery: RabbitMQ 4 sends it, 3.10 does not; Warren follows 4
 * (clients of either version accept it), so the comparison leaves that one value out.
 */
const ignoredValue = (k: string, v: string): boolean => k === 'x-delivery-count' && v === '0';

/** Text form of a normalized recording, one frame a line (for diffs). */
export function describe(rec: Recording, unorderedMessages = false): string {
  let lines = canonicalOrder(rec.frames).map((fr) => {
    const hs = fr.headers
      .filter(([k, v]) => !IGNORED_HEADERS.has(k) && !ignoredValue(k, v))
      .map(([k, v]) => `${k}=${JSON.stringify(unorderedMessages && (k === 'ack' || k === 'message-id') ? v.replace(/@@\d+$/, '@@<n>') : v)}`)
      .join(' ');
    return `${fr.command} ${hs}${fr.body !== '' ? ' | ' + JSON.stringify(fr.body) : ''}`;
  });
  if (unorderedMessages) {
    const out: string[] = [];
    let run: string[] = [];
    for (const l of [...lines, '']) {
      if (l.startsWith('MESSAGE ')) {
        run.push(l);
        continue;
      }
      out.push(...run.sort());
      run = [];
      out.push(l);
    }
    out.pop();
    lines = out;
  }
  lines.push(rec.closedByServer ? '(closed by server)' : '(open)');
  return lines.join('\n');
}

/** Run every scenario against `port`, returning normalized text per scenario name. */
export async function runAll(port: number, token: string, scenarios: readonly DiffScenario[] = DIFF_SCENARIOS): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of scenarios) out.set(s.name, describe(normalize(await runScenario(port, s, token), token), s.unorderedMessages));
  return out;
}
