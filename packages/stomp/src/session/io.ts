import type { ProtocolIo } from '@warren/transport';

/**
 * What a {@link StompSession} needs of its transport: the transport's {@link ProtocolIo} (the outbound writer plus
 * read flow control with pause reasons). The session pauses for {@link PauseReason.Definitions} (replies wait for a
 * durable write), {@link PauseReason.Auth} (an external auth backend), {@link PauseReason.Turn} (a slice of
 * SUBSCRIBE frames used this turn) and {@link PauseReason.Alarm} (a resource alarm blocks a publisher).
 *
 * @deprecated use ProtocolIo from @warren/transport; kept so that existing imports compile.
 */
export type StompIo = ProtocolIo;
