/**
 * @warren/mqtt public entry: MQTT 3.1, 3.1.1 and 5.0 onto the Warren core (DESIGN.md §4). One service per broker;
 * each listener (TCP 1883, TLS 8883, web-mqtt) hands it accepted streams.
 */
export { createMqttService, DEFAULT_MQTT_OPTIONS, type MqttServerOptions, type MqttService, type MqttServiceContext } from './server.js';
export { MqttServiceImpl, type MqttDebugStats, type MqttSessionView, type MqttStateView } from './service.js';
export { MqttConnection, ReasonCode, sharedQueueName, subscriptionQueueName } from './session/mqtt-connection.js';
export { RetainedStore, type RetainedMessage } from './retained-store.js';
export { PacketReader, ReadResult, parseWhole, type PacketSink } from './codec/packet-reader.js';
export { reasonCodeFor, returnCode311For, wireCodeFor, type MqttOperation } from './errors.js';
export * from './topic.js';
export * from './mapping.js';
