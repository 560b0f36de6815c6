/**
 * @warren/stomp: STOMP 1.0, 1.1 and 1.2 with RabbitMQ's destinations, onto the Warren core (DESIGN.md §4).
 * The public entry: {@link createStompService} returns one service per broker whose `handleConnection` serves any
 * Duplex (TCP, TLS, or a WebSocket stream from web-stomp).
 */
export { StompDecoder, PRE_CONNECT_LIMITS, type DecoderLimits } from './codec/decoder.js';
export { encodeFrame, escapeHeader, type HeaderList } from './codec/encoder.js';
export { StompProtocolError, type StompFrame, type StompVersion } from './codec/frame.js';
export { parseDestination, destinationOf, type Destination } from './destination.js';
export { headerText } from './mapping.js';
export { DEFAULT_STOMP_OPTIONS, StompSession, SERVER_NAME, type StompSessionOptions } from './session/stomp-session.js';
export {
  createStompService,
  type StompServerOptions,
  type StompService,
  type StompServiceContext,
} from './server.js';
