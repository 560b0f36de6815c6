/**
 * A WebSocket-like object over a plain TCP socket: @stomp/stompjs only needs these members, so it can speak STOMP
 * over TCP in Node 20, which has no global WebSocket.
 */
import net from 'node:net';

export class TcpWebSocket {
  static readonly OPEN = 1;
  binaryType = 'arraybuffer';
  readyState = 0;
  url = 'tcp';
  protocol = 'v12.stomp';
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: ArrayBuffer }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly #socket: net.Socket;

  constructor(port: number, host = '127.0.0.1') {
    this.#socket = net.connect(port, host, () => {
      this.readyState = 1;
      this.onopen?.({});
    });
    this.#socket.on('data', (d: Buffer) => {
      this.onmessage?.({ data: d.buffer.slice(d.byteOffset, d.byteOffset + d.length) as ArrayBuffer });
    });
    this.#socket.on('error', (e) => this.onerror?.(e));
    this.#socket.on('close', () => {
      this.readyState = 3;
      this.onclose?.({ code: 1000, reason: '', wasClean: true });
    });
  }

  send(data: string | ArrayBuffer | Uint8Array): void {
    this.#socket.write(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }

  close(): void {
    this.readyState = 2;
    this.#socket.end();
  }
}
