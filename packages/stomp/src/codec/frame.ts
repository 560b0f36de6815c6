/**
 * STOMP frames (STOMP 1.2 §"STOMP Frames"):
 *
 *   frame   = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
 *   command = client-command | server-command
 *   header  = header-name ":" header-value
 *   EOL     = [CR] LF
 *
 * A frame is a command, an ordered header list (the first occurrence of a repeated header wins, §"Repeated Header
 * Entries") and a body.
 */

/** Commands a client sends (STOMP 1.2 §"Client Frames"). */
export const CLIENT_COMMANDS = [
  'CONNECT',
  'STOMP',
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'ACK',
  'NACK',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'DISCONNECT',
] as const;

/** A client command. */
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

/** Commands the server sends (STOMP 1.2 §"Server Frames"). */
export type ServerCommand = 'CONNECTED' | 'MESSAGE' | 'RECEIPT' | 'ERROR';

/** The STOMP protocol versions Warren speaks. */
export type StompVersion = '1.0' | '1.1' | '1.2';

/** A decoded frame. The command is kept as sent so the session can reject unknown ones with RabbitMQ's text. */
export interface StompFrame {
  readonly command: string;
  /** Header name → value; a repeated header keeps its first value. */
  readonly headers: Map<string, string>;
  /** The body (a copy owned by the frame, safe to keep). */
  readonly body: Buffer;
}

/** A malformed frame or a limit exceeded: the session answers with an ERROR frame and closes. */
export class StompProtocolError extends Error {
  /** The ERROR frame's `message` header (short, RabbitMQ's wording where it has one). */
  readonly summary: string;
  constructor(summary: string, detail: string) {
    super(detail);
    this.name = 'StompProtocolError';
    this.summary = summary;
  }
}

/** True when `command` is a client command. */
export function isClientCommand(command: string): command is ClientCommand {
  return (CLIENT_COMMANDS as readonly string[]).includes(command);
}
