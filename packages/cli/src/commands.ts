/**
 * The commands besides list_*: users, vhosts, permissions, policies, limits, queues, connections, definitions, status
 * and await_startup. Each prints rabbitmqctl's informational line first (even when it then fails, as rabbitmqctl
 * does), checks what rabbitmqctl checks (a PUT on the API would create a missing user, so existence is read first),
 * and fails with rabbitmqctl's text and exit code.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { reasonOf, seg, type HttpAnswer } from './client.js';
import type { Command, CommandContext } from './context.js';
import {
  CtlError,
  EX_DATAERR,
  EX_NOUSER,
  EX_SOFTWARE,
  EX_UNAVAILABLE,
  EX_USAGE,
  UsageError,
} from './errors.js';
import { LIST_COMMANDS, connectionRows, noVhost65 } from './list-commands.js';
import { emitRows, emitRowsOrBlankLine, info, tableValue } from './output.js';
import { clusterStatusCommand, statusCommand } from './status.js';

type Row = Record<string, unknown>;

const fail = (code: number, text: string): CtlError => new CtlError(code, `Error:\n${text}`);

async function userExists(ctx: CommandContext, user: string): Promise<Row | undefined> {
  const a = await ctx.client.request('GET', `/api/users/${seg(user)}`);
  if (a.status === 404) return undefined;
  if (a.status >= 300) throw fail(EX_SOFTWARE, reasonOf(a));
  return a.body as Row;
}

async function vhostExists(ctx: CommandContext, vhost: string): Promise<boolean> {
  const a = await ctx.client.request('GET', `/api/vhosts/${seg(vhost)}`);
  if (a.status >= 300 && a.status !== 404) throw fail(EX_SOFTWARE, reasonOf(a));
  return a.status !== 404;
}

/** A write the API refused: rabbitmqctl reports validation failures with exit 69. */
function check(a: HttpAnswer, code = EX_UNAVAILABLE): void {
  if (a.status >= 300) throw fail(code, reasonOf(a));
}

/** What {@link send} makes of an answer: what a 404 means, and the exit code of any other failure. */
interface Expect {
  /**
   * rabbitmqctl's error for a missing object, or `'ok'` where a missing object is already what the command wants
   * (clearing permissions that were never set, closing a connection that just went away).
   */
  readonly missing: CtlError | 'ok';
  /** Exit code for any other failed answer; rabbitmqctl's default for those is 70. */
  readonly code?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** One request to the API, failing the command with rabbitmqctl's text and exit code where the answer is not a success. */
async function send(ctx: CommandContext, method: string, apiPath: string, expect: Expect): Promise<HttpAnswer> {
  const a = await ctx.client.request(method, apiPath, expect.body, expect.headers);
  if (a.status === 404) {
    if (expect.missing !== 'ok') throw expect.missing;
    return a;
  }
  check(a, expect.code ?? EX_SOFTWARE);
  return a;
}

/** The rows of a vhost-scoped collection; rabbitmqctl answers 65 for an unknown vhost. */
async function vhostRows(ctx: CommandContext, apiPath: string): Promise<Row[]> {
  return (await send(ctx, 'GET', apiPath, { missing: noVhost65(ctx.vhost) })).body as Row[];
}

/**
 * rabbitmqctl's "no such user" failure (exit 67). `label` is the name as it is shown: the user commands quote it
 * (`User "bob" does not exist`), the permission commands do not.
 */
const noUser = (label: string): CtlError => fail(EX_NOUSER, `User ${label} does not exist`);

/** The user's record, or the failure rabbitmqctl gives for a missing one. */
async function requireUser(ctx: CommandContext, user: string, label: string): Promise<Row> {
  const u = await userExists(ctx, user);
  if (u === undefined) throw noUser(label);
  return u;
}

/** The permission commands fail with 69 for an unknown vhost (the list commands use 65). */
async function requireVhost(ctx: CommandContext): Promise<void> {
  if (!(await vhostExists(ctx, ctx.vhost))) throw fail(EX_UNAVAILABLE, `Virtual host ${ctx.vhost} does not exist`);
}

/** A JSON command argument (a policy definition, limits); rabbitmqctl's answer to one that does not parse. */
function jsonArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw fail(EX_UNAVAILABLE, 'JSON decoding error. Reason: badarg');
  }
}

/** A value rabbitmqctl's validation refuses (exit 69). */
const invalid = (reason: string): CtlError => fail(EX_UNAVAILABLE, `Validation failed\n\n${reason}\n`);

/** A command as written here: maxArgs defaults to minArgs, and a run that ends without throwing exits 0. */
interface CommandSpec extends Omit<Command, 'maxArgs' | 'run'> {
  readonly maxArgs?: number;
  run(ctx: CommandContext): Promise<void>;
}

function cmd(c: CommandSpec): Command {
  return {
    maxArgs: c.minArgs,
    ...c,
    async run(ctx) {
      await c.run(ctx);
      return 0;
    },
  };
}

const USERS = 'Users';
const ACCESS = 'Access Control';
const VHOSTS = 'Virtual hosts';
const POLICIES = 'Policies';
const QUEUES = 'Queues';
const OPS = 'Operations';
const DEFS = 'Definitions';

const addUser = cmd({
  name: 'add_user',
  usage: 'add_user <username> <password>',
  description: 'Creates a new user in the internal database. This user will have no permissions for any virtual hosts by default.',
  group: USERS,
  minArgs: 2,
  async run(ctx) {
    const [user, password] = ctx.args as [string, string];
    info(ctx.out, `Adding user "${user}" ...`);
    if ((await userExists(ctx, user)) !== undefined) throw fail(EX_SOFTWARE, `User "${user}" already exists`);
    check(await ctx.client.request('PUT', `/api/users/${seg(user)}`, { password, tags: '' }));
    info(ctx.out, "Done. Don't forget to grant the user permissions to some virtual hosts! See 'rabbitmqctl help set_permissions' to learn more.");
  },
});

const deleteUser = cmd({
  name: 'delete_user',
  usage: 'delete_user <username>',
  description: 'Removes a user from the internal database. Has no effect on users provided by external backends such as LDAP',
  group: USERS,
  minArgs: 1,
  async run(ctx) {
    const [user] = ctx.args as [string];
    info(ctx.out, `Deleting user "${user}" ...`);
    await send(ctx, 'DELETE', `/api/users/${seg(user)}`, { missing: noUser(`"${user}"`) });
  },
});

const changePassword = cmd({
  name: 'change_password',
  usage: 'change_password <username> <password>',
  description: 'Changes the user password',
  group: USERS,
  minArgs: 2,
  async run(ctx) {
    const [user, password] = ctx.args as [string, string];
    info(ctx.out, `Changing password for user "${user}" ...`);
    const u = await requireUser(ctx, user, `"${user}"`);
    check(await ctx.client.request('PUT', `/api/users/${seg(user)}`, { password, tags: u['tags'] ?? '' }));
  },
});

const setUserTags = cmd({
  name: 'set_user_tags',
  usage: 'set_user_tags <username> <tag> [...]',
  description: 'Sets user tags',
  group: USERS,
  minArgs: 1,
  maxArgs: Number.POSITIVE_INFINITY,
  async run(ctx) {
    const [user, ...tags] = ctx.args as [string, ...string[]];
    info(ctx.out, `Setting tags for user "${user}" to [${tags.join(', ')}] ...`);
    await requireUser(ctx, user, `"${user}"`);
    // Without a password or hash the API keeps the user's password: only the tags change.
    check(await ctx.client.request('PUT', `/api/users/${seg(user)}`, { tags: tags.join(',') }));
  },
});

const addVhost = cmd({
  name: 'add_vhost',
  usage: 'add_vhost <vhost> [--description <description> --tags "<tag1>,<tag2>,<...>" --default-queue-type <quorum|classic|stream>]',
  description: 'Creates a virtual host',
  group: VHOSTS,
  minArgs: 1,
  options: ['description', 'tags', 'default-queue-type'],
  async run(ctx) {
    const [vhost] = ctx.args as [string];
    info(ctx.out, `Adding vhost "${vhost}" ...`);
    const body: Row = {};
    const d = ctx.options.get('description');
    if (typeof d === 'string') body['description'] = d;
    const t = ctx.options.get('tags');
    if (typeof t === 'string') body['tags'] = t;
    const q = ctx.options.get('default-queue-type');
    if (typeof q === 'string') body['default_queue_type'] = q;
    const existed = await vhostExists(ctx, vhost);
    check(await ctx.client.request('PUT', `/api/vhosts/${seg(vhost)}`, body));
    // The HTTP API grants the creating user full permissions on a new vhost; rabbitmqctl add_vhost grants none.
    if (!existed) await ctx.client.request('DELETE', `/api/permissions/${seg(vhost)}/${seg(ctx.client.user)}`);
  },
});

const deleteVhost = cmd({
  name: 'delete_vhost',
  usage: 'delete_vhost <vhost>',
  description: 'Deletes a virtual host',
  group: VHOSTS,
  minArgs: 1,
  async run(ctx) {
    const [vhost] = ctx.args as [string];
    info(ctx.out, `Deleting vhost "${vhost}" ...`);
    await send(ctx, 'DELETE', `/api/vhosts/${seg(vhost)}`, { missing: noVhost65(vhost) });
  },
});

const setPermissions = cmd({
  name: 'set_permissions',
  usage: 'set_permissions [--vhost <vhost>] <username> <conf> <write> <read>',
  description: 'Sets user permissions for a vhost',
  group: ACCESS,
  minArgs: 4,
  async run(ctx) {
    const [user, configure, write, read] = ctx.args as [string, string, string, string];
    info(ctx.out, `Setting permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
    await requireVhost(ctx);
    await requireUser(ctx, user, user);
    check(await ctx.client.request('PUT', `/api/permissions/${seg(ctx.vhost)}/${seg(user)}`, { configure, write, read }));
  },
});

const clearPermissions = cmd({
  name: 'clear_permissions',
  usage: 'clear_permissions [--vhost <vhost>] <username>',
  description: 'Revokes user permissions for a vhost',
  group: ACCESS,
  minArgs: 1,
  async run(ctx) {
    const [user] = ctx.args as [string];
    info(ctx.out, `Clearing permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
    await requireUser(ctx, user, user);
    await requireVhost(ctx);
    await send(ctx, 'DELETE', `/api/permissions/${seg(ctx.vhost)}/${seg(user)}`, { missing: 'ok', code: EX_UNAVAILABLE });
  },
});

const setTopicPermissions = cmd({
  name: 'set_topic_permissions',
  usage: 'set_topic_permissions [--vhost <vhost>] <username> <exchange> <write> <read>',
  description: 'Sets user topic permissions for an exchange',
  group: ACCESS,
  minArgs: 4,
  async run(ctx) {
    const [user, exchange, write, read] = ctx.args as [string, string, string, string];
    info(ctx.out, `Setting topic permissions on "${exchange}" for user "${user}" in vhost "${ctx.vhost}" ...`);
    await requireVhost(ctx);
    await requireUser(ctx, user, user);
    check(await ctx.client.request('PUT', `/api/topic-permissions/${seg(ctx.vhost)}/${seg(user)}`, { exchange, write, read }));
  },
});

const listPermissions = cmd({
  name: 'list_permissions',
  usage: 'list_permissions [--vhost <vhost>] [--no-table-headers]',
  description: 'Lists user permissions in a virtual host',
  group: ACCESS,
  minArgs: 0,
  async run(ctx) {
    info(ctx.out, `Listing permissions for vhost "${ctx.vhost}" ...`);
    emitRows(ctx.out, ['user', 'configure', 'write', 'read'], await vhostRows(ctx, `/api/vhosts/${seg(ctx.vhost)}/permissions`));
  },
});

const listTopicPermissions = cmd({
  name: 'list_topic_permissions',
  usage: 'list_topic_permissions [--vhost <vhost>] [--no-table-headers]',
  description: 'Lists topic permissions in a virtual host',
  group: ACCESS,
  minArgs: 0,
  async run(ctx) {
    info(ctx.out, `Listing topic permissions for vhost "${ctx.vhost}" ...`);
    emitRows(ctx.out, ['user', 'exchange', 'write', 'read'], await vhostRows(ctx, `/api/vhosts/${seg(ctx.vhost)}/topic-permissions`));
  },
});

async function userList(ctx: CommandContext, user: string, what: 'permissions' | 'topic-permissions'): Promise<Row[]> {
  const a = await ctx.client.request('GET', `/api/users/${seg(user)}/${what}`);
  if (a.status === 404 || (a.status < 300 && (await userExists(ctx, user)) === undefined)) {
    throw fail(EX_UNAVAILABLE, `{:no_such_user, ${JSON.stringify(user)}}`);
  }
  check(a, EX_SOFTWARE);
  return a.body as Row[];
}

const listUserPermissions = cmd({
  name: 'list_user_permissions',
  usage: 'list_user_permissions [--no-table-headers] <username>',
  description: 'Lists permissions of a user across all virtual hosts',
  group: ACCESS,
  minArgs: 1,
  async run(ctx) {
    const [user] = ctx.args as [string];
    info(ctx.out, `Listing permissions for user "${user}" ...`);
    emitRows(ctx.out, ['vhost', 'configure', 'write', 'read'], await userList(ctx, user, 'permissions'));
  },
});

const listUserTopicPermissions = cmd({
  name: 'list_user_topic_permissions',
  usage: 'list_user_topic_permissions [--no-table-headers] <username>',
  description: 'Lists user topic permissions',
  group: ACCESS,
  minArgs: 1,
  async run(ctx) {
    const [user] = ctx.args as [string];
    info(ctx.out, `Listing topic permissions for user "${user}" ...`);
    const rows = await userList(ctx, user, 'topic-permissions');
    // rabbitmqctl 3.10 prints this table without its header row, and an empty line when there is nothing.
    emitRowsOrBlankLine({ ...ctx.out, noHeaders: true }, ['vhost', 'exchange', 'write', 'read'], rows);
  },
});

const setPolicy = cmd({
  name: 'set_policy',
  usage: 'set_policy [--vhost <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>',
  description: 'Sets or updates a policy',
  group: POLICIES,
  minArgs: 3,
  options: ['priority', 'apply-to'],
  async run(ctx) {
    const [name, pattern, definition] = ctx.args as [string, string, string];
    const prio = ctx.options.get('priority');
    const priority = typeof prio === 'string' ? prio : '0';
    const applyTo = ctx.options.get('apply-to');
    info(ctx.out, `Setting policy "${name}" for pattern "${pattern}" to "${definition}" with priority "${priority}" for vhost "${ctx.vhost}" ...`);
    if (!(await vhostExists(ctx, ctx.vhost))) throw noVhost65(ctx.vhost);
    const def = jsonArg(definition);
    if (!/^-?\d+$/.test(priority)) throw new UsageError(`Priority must be an integer, got ${priority}`, EX_DATAERR);
    const body: Row = { pattern, definition: def, priority: Number(priority) };
    if (typeof applyTo === 'string') body['apply-to'] = applyTo;
    const a = await ctx.client.request('PUT', `/api/policies/${seg(ctx.vhost)}/${seg(name)}`, body);
    if (a.status >= 300) throw invalid(reasonOf(a));
  },
});

const clearPolicy = cmd({
  name: 'clear_policy',
  usage: 'clear_policy [--vhost <vhost>] <name>',
  description: 'Clears (removes) a policy',
  group: POLICIES,
  minArgs: 1,
  async run(ctx) {
    const [name] = ctx.args as [string];
    info(ctx.out, `Clearing policy "${name}" on vhost "${ctx.vhost}" ...`);
    await send(ctx, 'DELETE', `/api/policies/${seg(ctx.vhost)}/${seg(name)}`, { missing: fail(EX_UNAVAILABLE, 'Parameter does not exist') });
  },
});

const listPolicies = cmd({
  name: 'list_policies',
  usage: 'list_policies [--vhost <vhost>] [--no-table-headers]',
  description: 'Lists all policies in a virtual host',
  group: POLICIES,
  minArgs: 0,
  async run(ctx) {
    info(ctx.out, `Listing policies for vhost "${ctx.vhost}" ...`);
    const rows = (await vhostRows(ctx, `/api/policies/${seg(ctx.vhost)}`)).map((p) => ({ ...p, definition: JSON.stringify(p['definition']) }));
    emitRowsOrBlankLine(ctx.out, ['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority'], rows);
  },
});

const LIMIT_NAMES = ['max-connections', 'max-queues'];

/** Remove one limit of the vhost. */
async function clearLimit(ctx: CommandContext, name: string): Promise<void> {
  check(await ctx.client.request('DELETE', `/api/vhost-limits/${seg(ctx.vhost)}/${seg(name)}`));
}

/** The vhost's limits as the API has them: `{}` when none. */
async function vhostLimits(ctx: CommandContext): Promise<Row> {
  const first = (await vhostRows(ctx, `/api/vhost-limits/${seg(ctx.vhost)}`))[0];
  return (first?.['value'] as Row | undefined) ?? {};
}

const setVhostLimits = cmd({
  name: 'set_vhost_limits',
  usage: 'set_vhost_limits [--vhost <vhost>] <definition>',
  description: 'Sets virtual host limits',
  group: VHOSTS,
  minArgs: 1,
  async run(ctx) {
    const [definition] = ctx.args as [string];
    info(ctx.out, `Setting vhost limits to "${definition}" for vhost "${ctx.vhost}" ...`);
    const def = jsonArg(definition);
    if (def === null || typeof def !== 'object' || Array.isArray(def)) throw invalid('limits must be a JSON object');
    const entries = Object.entries(def as Row);
    const unknown = entries.filter(([k]) => !LIMIT_NAMES.includes(k));
    if (unknown.length > 0) {
      const terms = unknown.map(([k, v]) => `{<<${JSON.stringify(k)}>>,${tableValue(v)}}`).join(',');
      throw invalid(`Unrecognised terms [${terms}] in limits`);
    }
    const current = await vhostLimits(ctx);
    // rabbitmqctl replaces the whole limits object: limits missing from the new one are cleared.
    for (const k of Object.keys(current)) {
      if (!(k in (def as Row))) await clearLimit(ctx, k);
    }
    for (const [k, v] of entries) {
      const a = await ctx.client.request('PUT', `/api/vhost-limits/${seg(ctx.vhost)}/${seg(k)}`, { value: v });
      if (a.status >= 300) throw invalid(reasonOf(a));
    }
  },
});

const clearVhostLimits = cmd({
  name: 'clear_vhost_limits',
  usage: 'clear_vhost_limits [--vhost <vhost>]',
  description: 'Clears virtual host limits',
  group: VHOSTS,
  minArgs: 0,
  async run(ctx) {
    info(ctx.out, `Clearing vhost "${ctx.vhost}" limits ...`);
    for (const k of Object.keys(await vhostLimits(ctx))) await clearLimit(ctx, k);
  },
});

const listVhostLimits = cmd({
  name: 'list_vhost_limits',
  usage: 'list_vhost_limits [--vhost <vhost>] [--global] [--no-table-headers]',
  description: 'Displays configured virtual host limits',
  group: VHOSTS,
  minArgs: 0,
  options: ['global'],
  async run(ctx) {
    if (ctx.options.has('global')) {
      info(ctx.out, 'Listing limits for all vhosts ...');
      const rows = ((await ctx.client.get('/api/vhost-limits')) as Row[]).map((r) => ({ vhost: r['vhost'], limits: JSON.stringify(r['value']) }));
      emitRowsOrBlankLine(ctx.out, ['vhost', 'limits'], rows);
      return;
    }
    info(ctx.out, `Listing limits for vhost "${ctx.vhost}" ...`);
    const limits = await vhostLimits(ctx);
    const text = Object.keys(limits).length === 0 ? '' : JSON.stringify(limits);
    if (ctx.out.formatter === 'json') {
      ctx.out.stdout(`${JSON.stringify({ node: await ctx.node(), result: 'ok', value: text === '' ? '[]' : text })}\n`);
    } else ctx.out.stdout(`${text}\n`);
  },
});

const purgeQueue = cmd({
  name: 'purge_queue',
  usage: 'purge_queue [--vhost <vhost>] <queue>',
  description: 'Purges a queue (removes all messages in it)',
  group: QUEUES,
  minArgs: 1,
  async run(ctx) {
    const [queue] = ctx.args as [string];
    info(ctx.out, `Purging queue '${queue}' in vhost '${ctx.vhost}' ...`);
    await send(ctx, 'DELETE', `/api/queues/${seg(ctx.vhost)}/${seg(queue)}/contents`, { missing: fail(EX_UNAVAILABLE, 'not_found'), code: EX_UNAVAILABLE });
  },
});

const deleteQueue = cmd({
  name: 'delete_queue',
  usage: 'delete_queue [--vhost <vhost>] <queue_name> [--if-empty|-e] [--if-unused|-u]',
  description: 'Deletes a queue',
  group: QUEUES,
  minArgs: 1,
  options: ['if-empty', 'if-unused'],
  async run(ctx) {
    const [queue] = ctx.args as [string];
    const ifEmpty = ctx.options.has('if-empty');
    const ifUnused = ctx.options.has('if-unused');
    const cond = ifEmpty && ifUnused ? ' if queue is empty and if queue is unused' : ifEmpty ? ' if queue is empty' : ifUnused ? ' if queue is unused' : '';
    info(ctx.out, `Deleting queue '${queue}' on vhost '${ctx.vhost}'${cond} ...`);
    const path = `/api/queues/${seg(ctx.vhost)}/${seg(queue)}`;
    const notFound = fail(EX_USAGE, 'Queue not found');
    const q = (await send(ctx, 'GET', path, { missing: notFound })).body as Row;
    if (ifEmpty && Number(q['messages'] ?? 0) > 0) throw fail(EX_USAGE, 'Queue is not empty');
    if (ifUnused && Number(q['consumers'] ?? 0) > 0) throw fail(EX_USAGE, 'Queue is in use');
    const query = [ifEmpty ? 'if-empty=true' : '', ifUnused ? 'if-unused=true' : ''].filter((s) => s !== '').join('&');
    await send(ctx, 'DELETE', query === '' ? path : `${path}?${query}`, { missing: notFound, code: EX_USAGE });
    info(ctx.out, `Queue was successfully deleted with ${String(q['messages'] ?? 0)} ready messages`);
  },
});

const closeConnection = cmd({
  name: 'close_connection',
  usage: 'close_connection <connection pid> <explanation>',
  description: 'Instructs the broker to close the connection associated with the Erlang process id',
  group: OPS,
  minArgs: 2,
  help: '<connection pid>\n\tthe pid column of list_connections (warrenctl also takes the connection name)\n',
  async run(ctx) {
    const [pid, reason] = ctx.args as [string, string];
    info(ctx.out, `Closing connection ${pid}, reason: ${reason}...`);
    const target = (await connectionRows(ctx)).find((c) => c['pid'] === pid || c['name'] === pid);
    // rabbitmqctl closes nothing and succeeds for a pid that is no (longer a) connection.
    if (target === undefined) return;
    await send(ctx, 'DELETE', `/api/connections/${seg(String(target['name']))}`, { missing: 'ok', headers: { 'x-reason': reason } });
  },
});

const exportDefinitions = cmd({
  name: 'export_definitions',
  usage: 'export_definitions <file_path | "-"> [--format <json | erlang>]',
  description: 'Exports definitions in JSON or compressed Erlang Term Format.',
  group: DEFS,
  minArgs: 1,
  options: ['format'],
  async run(ctx) {
    const [file] = ctx.args as [string];
    const format = ctx.options.get('format') ?? 'json';
    if (format !== 'json') throw new UsageError(`Format ${String(format)} is not supported (warrenctl writes JSON only)`);
    const defs = await ctx.client.get('/api/definitions');
    if (file === '-') {
      ctx.out.stdout(`${JSON.stringify(defs)}\n`);
      return;
    }
    info(ctx.out, `Exporting definitions in JSON to a file at "${file}" ...`);
    try {
      await writeFile(path.resolve(ctx.cwd, file), JSON.stringify(defs));
    } catch (err) {
      throw fail(EX_DATAERR, `could not write to ${file}: ${(err as Error).message}`);
    }
  },
});

const importDefinitions = cmd({
  name: 'import_definitions',
  usage: 'import_definitions <file_path | "-"> [--format <json | erlang>] [--skip-if-unchanged] [--timeout <timeout>]',
  description: 'Imports definitions in JSON or compressed Erlang Term Format.',
  group: DEFS,
  minArgs: 1,
  options: ['format', 'skip-if-unchanged'],
  async run(ctx) {
    const [file] = ctx.args as [string];
    let text: string;
    if (file === '-') {
      info(ctx.out, 'Importing definitions in JSON from standard input ...');
      text = await ctx.readStdin();
    } else {
      const full = path.resolve(ctx.cwd, file);
      if (!existsSync(full)) throw new UsageError(`Bad argument: File ${file} does not exist`, EX_DATAERR);
      info(ctx.out, `Importing definitions in JSON from a file at "${file}" ...`);
      text = await readFile(full, 'utf8');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw fail(EX_DATAERR, `Failed to decode definitions: not valid JSON`);
    }
    const a = await ctx.client.request('POST', '/api/definitions', body);
    if (a.status >= 300) throw fail(EX_DATAERR, reasonOf(a));
    info(ctx.out, 'Successfully started definition import. This process is asynchronous and can take some time.');
  },
});

const awaitStartup = cmd({
  name: 'await_startup',
  usage: 'await_startup [--timeout <timeout>]',
  description: 'Waits for the RabbitMQ application to start on the target node',
  group: 'Nodes',
  minArgs: 0,
  async run(ctx) {
    const deadline = Date.now() + ctx.timeoutSeconds * 1000;
    for (;;) {
      try {
        await ctx.client.get('/api/overview');
        return;
      } catch (err) {
        if (!(err instanceof CtlError) || err.code !== EX_UNAVAILABLE || Date.now() >= deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  },
});

/** Every command warrenctl knows, by name. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    ...LIST_COMMANDS,
    addUser, deleteUser, changePassword, setUserTags,
    addVhost, deleteVhost,
    setPermissions, clearPermissions, setTopicPermissions, listPermissions, listTopicPermissions,
    listUserPermissions, listUserTopicPermissions,
    setPolicy, clearPolicy, listPolicies,
    setVhostLimits, clearVhostLimits, listVhostLimits,
    purgeQueue, deleteQueue, closeConnection,
    exportDefinitions, importDefinitions,
    statusCommand, clusterStatusCommand, awaitStartup,
  ].map((c) => [c.name, c]),
);
