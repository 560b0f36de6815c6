/**
 * The command script run against both the real rabbitmqctl (RabbitMQ 3.10) and warrenctl (Warren): the recorder
 * (scripts/record-rabbitmqctl.ts) writes what rabbitmqctl answered for each step to
 * tests/fixtures/rabbitmqctl-3.10/transcript.json, the CLI tests compare warrenctl's answers with that transcript,
 * and the differential test runs both live. Steps are ordered: each one sees the state the previous ones left.
 */

/** One step: a command line (without `-n node`), or an AMQP action that sets up clients. */
export type Step =
  | { readonly name: string; readonly args: readonly string[] }
  | { readonly name: string; readonly amqp: 'open' | 'close' };

/** What a command printed and how it exited. */
export interface Answer {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

const P = (name: string, ...args: string[]): Step => ({ name, args });

/** A definitions file the import steps read (written by the runner under this name in its temp dir). */
export const IMPORT_FILE = 'import.json';
/** Where export_definitions writes (in the runner's temp dir). */
export const EXPORT_FILE = 'export.json';

export const SCRIPT: readonly Step[] = [
  P('await_startup', 'await_startup'),
  P('list_queues-empty', 'list_queues'),
  P('list_exchanges', 'list_exchanges'),
  P('list_exchanges-cols', 'list_exchanges', 'name', 'type', 'durable', 'auto_delete', 'internal'),
  P('list_bindings-empty', 'list_bindings'),
  P('list_connections-empty', 'list_connections'),
  P('list_channels-empty', 'list_channels'),
  P('list_consumers-empty', 'list_consumers'),
  P('list_users', 'list_users'),
  P('list_vhosts', 'list_vhosts'),
  P('list_vhosts-cols', 'list_vhosts', 'name', 'tracing'),
  P('list_permissions', 'list_permissions'),
  P('list_user_permissions', 'list_user_permissions', 'guest'),
  P('list_user_topic_permissions-empty', 'list_user_topic_permissions', 'guest'),
  P('list_policies-empty', 'list_policies'),
  P('list_vhost_limits-empty', 'list_vhost_limits'),
  // users
  P('add_user', 'add_user', 'alice', 's3cret'),
  P('add_user-exists', 'add_user', 'alice', 's3cret'),
  P('add_user-missing-arg', 'add_user'),
  P('add_user-too-many', 'add_user', 'a', 'b', 'c'),
  P('add_user-q', '-q', 'add_user', 'bob', 'pw'),
  P('set_user_tags', 'set_user_tags', 'alice', 'administrator', 'monitoring'),
  P('set_user_tags-unknown', 'set_user_tags', 'nobody', 'administrator'),
  P('change_password', 'change_password', 'alice', 'n3w'),
  P('change_password-unknown', 'change_password', 'nobody', 'x'),
  P('list_users-after', 'list_users'),
  P('list_users-json', 'list_users', '--formatter', 'json'),
  P('list_users-csv', 'list_users', '--formatter', 'csv'),
  P('list_users-s', '-s', 'list_users'),
  P('list_users-q', 'list_users', '-q'),
  P('list_users-no-headers', 'list_users', '--no-table-headers'),
  // vhosts and permissions
  P('add_vhost', 'add_vhost', 'v1'),
  P('add_vhost-exists', 'add_vhost', 'v1'),
  P('list_vhosts-after', 'list_vhosts'),
  P('set_permissions', 'set_permissions', '-p', 'v1', 'alice', '.*', '.*', '.*'),
  P('set_permissions-unknown-vhost', 'set_permissions', '-p', 'nope', 'alice', '.*', '.*', '.*'),
  P('set_permissions-unknown-user', 'set_permissions', '-p', 'v1', 'nobody', '.*', '.*', '.*'),
  P('set_permissions-missing-arg', 'set_permissions', '-p', 'v1', 'alice', '.*'),
  P('set_topic_permissions', 'set_topic_permissions', '-p', 'v1', 'alice', 'amq.topic', '^a', '^b'),
  P('set_topic_permissions-unknown-user', 'set_topic_permissions', '-p', 'v1', 'nobody', 'amq.topic', '^a', '^b'),
  P('list_permissions-v1', 'list_permissions', '-p', 'v1'),
  P('list_permissions-unknown-vhost', 'list_permissions', '-p', 'nope'),
  P('list_user_permissions-alice', 'list_user_permissions', 'alice'),
  P('list_user_permissions-unknown', 'list_user_permissions', 'nobody'),
  P('list_user_permissions-json', 'list_user_permissions', 'alice', '--formatter', 'json'),
  P('list_user_topic_permissions', 'list_user_topic_permissions', 'alice'),
  P('list_user_topic_permissions-unknown', 'list_user_topic_permissions', 'nobody'),
  P('list_topic_permissions', 'list_topic_permissions', '-p', 'v1'),
  // policies and limits
  P('set_policy', 'set_policy', '-p', 'v1', 'p1', '^q', '{"max-length":10}', '--priority', '1', '--apply-to', 'queues'),
  P('set_policy-bad-json', 'set_policy', '-p', 'v1', 'p2', '^q', '{bad'),
  P('set_policy-unknown-vhost', 'set_policy', '-p', 'nope', 'p1', '^q', '{"max-length":10}'),
  P('list_policies-v1', 'list_policies', '-p', 'v1'),
  P('list_policies-json', 'list_policies', '-p', 'v1', '--formatter', 'json'),
  P('set_vhost_limits', 'set_vhost_limits', '-p', 'v1', '{"max-connections":10,"max-queues":20}'),
  P('set_vhost_limits-bad', 'set_vhost_limits', '-p', 'v1', '{"max-bogus":1}'),
  P('list_vhost_limits-v1', 'list_vhost_limits', '-p', 'v1'),
  P('list_vhost_limits-global', 'list_vhost_limits', '--global'),
  P('list_vhost_limits-json', 'list_vhost_limits', '-p', 'v1', '--formatter', 'json'),
  // queues, connections, channels, consumers
  { name: 'amqp-open', amqp: 'open' },
  P('list_queues', 'list_queues'),
  P('list_queues-cols', 'list_queues', 'name', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers', 'durable', 'auto_delete', 'arguments'),
  P('list_queues-json', 'list_queues', 'name', 'messages', 'durable', '--formatter', 'json'),
  P('list_queues-csv', 'list_queues', 'name', 'messages', '--formatter', 'csv'),
  P('list_queues-table-no-headers', 'list_queues', '--no-table-headers', 'name', 'messages'),
  P('list_queues-bad-col', 'list_queues', 'name', 'bogus'),
  P('list_queues-unknown-vhost', 'list_queues', '-p', 'nope'),
  P('list_queues-q', '-q', 'list_queues', 'name'),
  P('list_bindings', 'list_bindings'),
  P('list_bindings-cols', 'list_bindings', 'source_name', 'destination_name', 'routing_key'),
  P('list_exchanges-after', 'list_exchanges', 'name', 'type'),
  P('list_connections', 'list_connections'),
  P('list_connections-cols', 'list_connections', 'user', 'vhost', 'protocol', 'channels', 'state'),
  P('list_channels', 'list_channels'),
  P('list_channels-cols', 'list_channels', 'user', 'vhost', 'number', 'consumer_count', 'messages_unacknowledged'),
  P('list_consumers', 'list_consumers'),
  P('list_consumers-cols', 'list_consumers', 'queue_name', 'ack_required', 'prefetch_count', 'active'),
  P('purge_queue', 'purge_queue', 'cq1'),
  P('purge_queue-unknown', 'purge_queue', 'nope'),
  P('delete_queue', 'delete_queue', 'cq2'),
  P('delete_queue-unknown', 'delete_queue', 'nope'),
  P('delete_queue-if-empty', 'delete_queue', 'cq3', '--if-empty'),
  P('list_queues-after', 'list_queues', 'name', 'messages'),
  P('close_connection-unknown', 'close_connection', '<rabbit@localhost.1.2.3>', 'bye'),
  { name: 'amqp-close', amqp: 'close' },
  // definitions
  P('export_definitions', 'export_definitions', EXPORT_FILE),
  P('import_definitions', 'import_definitions', IMPORT_FILE),
  P('import_definitions-missing', 'import_definitions', 'no-such-file.json'),
  P('list_queues-imported', 'list_queues', '-p', 'v1', 'name', 'durable'),
  // clearing and deleting
  P('clear_policy', 'clear_policy', '-p', 'v1', 'p1'),
  P('clear_policy-unknown', 'clear_policy', '-p', 'v1', 'nope'),
  P('clear_vhost_limits', 'clear_vhost_limits', '-p', 'v1'),
  P('clear_permissions', 'clear_permissions', '-p', 'v1', 'alice'),
  P('clear_permissions-unknown-user', 'clear_permissions', '-p', 'v1', 'nobody'),
  P('clear_permissions-unknown-vhost', 'clear_permissions', '-p', 'nope', 'alice'),
  P('delete_user', 'delete_user', 'alice'),
  P('delete_user-unknown', 'delete_user', 'alice'),
  P('delete_vhost', 'delete_vhost', 'v1'),
  P('delete_vhost-unknown', 'delete_vhost', 'v1'),
  // usage
  P('unknown-command', 'frobnicate'),
  P('status', 'status'),
  P('status-json', 'status', '--formatter', 'json'),
  P('help-list_queues', 'help', 'list_queues'),
];

/** The definitions the import step loads: one vhost-scoped queue and an exchange in v1. */
export const IMPORT_DEFINITIONS = {
  queues: [{ name: 'imported', vhost: 'v1', durable: true, auto_delete: false, arguments: {} }],
  exchanges: [{ name: 'imported.x', vhost: 'v1', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
  bindings: [],
};
