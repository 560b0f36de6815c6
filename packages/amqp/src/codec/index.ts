/**
 * The AMQP 0-9-1 codec of @warren/amqp (contract: API.md in this directory). Pure: bytes in, typed frames out, and
 * back; no sockets, clocks or core state.
 */
export { AmqpProtocolError, FRAME_ERROR, NOT_IMPLEMENTED, SYNTAX_ERROR, UNEXPECTED_FRAME } from './errors.js';
export { FrameParser, type Frame, type FrameParserOptions } from './frame-parser.js';
export {
  decodeProperties,
  encodeBasicDeliver,
  encodeMethod,
  encodeMethodWithContent,
  encodeProperties,
  HEARTBEAT_FRAME,
  PROTOCOL_HEADER,
} from './frame-encoder.js';
export { decodeTable, encodeTable, MAX_TABLE_DEPTH } from './field-table.js';
export * from './methods.gen.js';
