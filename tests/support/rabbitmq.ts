/**
 * The private RabbitMQ node of the differential tests: one implementation, in the bench package (which starts the
 * same node for `--compare-rabbitmq`). See bench/src/rabbitmq-node.ts.
 */
export * from '../../bench/src/rabbitmq-node.js';
