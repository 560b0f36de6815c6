/**
 * warrenctl's entry: parse rabbitmqctl's command line, find the command, run it against the management API, print
 * errors as rabbitmqctl does, and answer the exit code. `run` takes its streams and environment as arguments so tests
 * can call it in-process.
 */
import path from 'node:path';
import { ArgsError, parseArgs, type OptionSpec } from './args.js';
import { ManagementClient } from './client.js';
import { COMMANDS } from './commands.js';
import type { Command, CommandContext } from './context.js';
import { CtlError, EX_SOFTWARE, EX_USAGE, UsageError } from './errors.js';
import type { Output } from './output.js';

/** Streams and environment of one run. */
export interface RunIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly readStdin: () => Promise<string>;
  /** The name usage lines show: `rabbitmqctl` when installed under that name. */
  readonly program: string;
}

const GENERAL: readonly OptionSpec[] = [
  { long: 'node', short: 'n', flag: false },
  { long: 'quiet', short: 'q', flag: true },
  { long: 'silent', short: 's', flag: true },
  { long: 'timeout', short: 't', flag: false },
  { long: 'longnames', short: 'l', flag: true },
  { long: 'erlang-cookie', flag: false },
  { long: 'formatter', flag: false },
  { long: 'no-table-headers', flag: true },
  { long: 'vhost', short: 'p', flag: false },
  { long: 'help', short: '?', flag: true },
  { long: 'host', flag: false },
  { long: 'port', flag: false },
  { long: 'user', flag: false },
  { long: 'password', flag: false },
];

/** Command-specific options (rabbitmqctl's short forms: -e/-u for delete_queue). */
const SPECIFIC: readonly OptionSpec[] = [
  { long: 'priority', flag: false },
  { long: 'apply-to', flag: false },
  { long: 'global', flag: true },
  { long: 'if-empty', short: 'e', flag: true },
  { long: 'if-unused', short: 'u', flag: true },
  { long: 'online', flag: true },
  { long: 'offline', flag: true },
  { long: 'local', flag: true },
  { long: 'format', flag: false },
  { long: 'skip-if-unchanged', flag: true },
  { long: 'description', flag: false },
  { long: 'tags', flag: false },
  { long: 'default-queue-type', flag: false },
  { long: 'unit', flag: false },
];

const bold = (s: string): string => `\u001b[1m${s}\u001b[0m`;
const PREFIX = '[--node <node>] [--longnames] [--quiet]';

const GROUP_ORDER = [
  'Help', 'Nodes', 'Users', 'Access Control', 'Monitoring, observability and health checks', 'Policies', 'Virtual hosts',
  'Definitions', 'Operations', 'Queues',
];

/** The command list rabbitmqctl prints for `--help` and an unknown command. */
function commandList(program: string): string {
  const groups = new Map<string, [string, string][]>([['Help', [['help', 'Displays usage information for a command']]]]);
  for (const c of COMMANDS.values()) {
    const g = groups.get(c.group) ?? [];
    g.push([c.name, c.description]);
    groups.set(c.group, g);
  }
  let text = `${bold('Usage')}\n\n${program} [--node <node>] [--timeout <timeout>] [--longnames] [--quiet] <command> [<command options>]\n\n`;
  text += 'warrenctl speaks to the management HTTP API: --host <host> --port <port> --user <user> --password <password>\n';
  text += '(or WARRENCTL_HOST, WARRENCTL_PORT, WARRENCTL_USER, WARRENCTL_PASSWORD; default localhost:15672 guest/guest).\n\n';
  text += 'Available commands:\n\n';
  for (const name of GROUP_ORDER) {
    const g = groups.get(name);
    if (g === undefined) continue;
    text += `${bold(name)}:\n\n`;
    for (const [n, d] of g.sort((a, b) => a[0].localeCompare(b[0]))) text += `   ${n.padEnd(30)}${d}\n`;
    text += '\n';
  }
  text += `Use '${program} help <command>' to learn more about a specific command\n`;
  return text;
}

function commandHelp(program: string, c: Command): string {
  let text = `\n${bold('Usage')}\n\n${program} ${PREFIX} ${c.usage}\n\n${c.description}.\n\n`;
  if (c.help !== undefined) text += `\n${bold('Arguments and Options')}\n\n${c.help}\n`;
  text += `\n${bold('General Options')}\n\nThe following options are accepted by most or all commands.\n\n` +
    'short            | long          | description\n' +
    '-----------------|---------------|--------------------------------\n' +
    '-?               | --help        | displays command help\n' +
    '-n <node>        | --node <node> | accepted and ignored (warrenctl talks to the management API)\n' +
    '-t               | --timeout <n> | for commands that support it, operation timeout in seconds\n' +
    '-q               | --quiet       | suppress informational messages\n' +
    '-s               | --silent      | suppress informational messages\n' +
    '                                 | and table header row\n' +
    '-p               | --vhost       | for commands that are scoped to a virtual host,\n' +
    '                 |               | virtual host to use\n' +
    '                 | --formatter   | alternative result formatter to use\n' +
    '                                 | if supported: json, table, csv\n' +
    '                 | --host, --port, --user, --password: the management API to talk to\n\n';
  return text;
}

function usageError(program: string, argv: readonly string[], c: Command, message: string): string {
  return `Error (argument validation): ${message}\nArguments given:\n\t${argv.join(' ')}\n\n${bold('Usage')}\n\n${program} ${PREFIX} ${c.usage}\n`;
}

/** Run warrenctl with `argv` (without node and script); resolves to the exit code. */
export async function run(argv: readonly string[], partial: Partial<RunIO> = {}): Promise<number> {
  const io: RunIO = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    program: path.basename(process.argv[1] ?? 'warrenctl').replace(/\.js$/, ''),
    ...partial,
  };
  const program = io.program === 'rabbitmqctl' ? 'rabbitmqctl' : 'warrenctl';
  let parsed;
  try {
    parsed = parseArgs(argv, [...GENERAL, ...SPECIFIC]);
  } catch (err) {
    io.stderr(`Error: ${(err as ArgsError).message}\n`);
    return EX_USAGE;
  }
  const [name, ...args] = parsed.positional;
  if (name === undefined || name === 'help' || (parsed.options.has('help') && name === undefined)) {
    const target = args[0] === undefined ? undefined : COMMANDS.get(args[0]);
    if (name === 'help' && args[0] !== undefined) {
      if (target === undefined) {
        io.stderr(`\nCommand '${args[0]}' not found. \n\n${commandList(program)}`);
        return EX_USAGE;
      }
      io.stdout(commandHelp(program, target));
      return 0;
    }
    io.stdout(commandList(program));
    return name === undefined && !parsed.options.has('help') ? EX_USAGE : 0;
  }
  const command = COMMANDS.get(name);
  if (command === undefined) {
    io.stderr(`\nCommand '${name}' not found. \n\n${commandList(program)}`);
    return EX_USAGE;
  }
  if (parsed.options.has('help')) {
    io.stdout(commandHelp(program, command));
    return 0;
  }
  if (parsed.unknown.length > 0) {
    io.stderr(usageError(program, argv, command, `Invalid options for this command:\n${parsed.unknown.join('\n')}`).replace('Error (argument validation): ', 'Error: '));
    return EX_USAGE;
  }
  if (args.length < command.minArgs) {
    io.stderr(usageError(program, argv, command, 'not enough arguments.'));
    return EX_USAGE;
  }
  if (args.length > command.maxArgs) {
    io.stderr(usageError(program, argv, command, 'too many arguments.'));
    return EX_USAGE;
  }
  const opt = (k: string): string | undefined => {
    const v = parsed.options.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const formatter = opt('formatter') ?? 'table';
  if (formatter !== 'table' && formatter !== 'json' && formatter !== 'csv' && formatter !== 'pretty_table') {
    io.stderr(usageError(program, argv, command, `Formatter ${formatter} is not supported`));
    return EX_USAGE;
  }
  const timeoutSeconds = Number(opt('timeout') ?? 60);
  const port = Number(opt('port') ?? io.env['WARRENCTL_PORT'] ?? io.env['WARREN_MANAGEMENT_PORT'] ?? 15672);
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || !(timeoutSeconds > 0)) {
    io.stderr(usageError(program, argv, command, 'port and timeout must be positive numbers'));
    return EX_USAGE;
  }
  const client = new ManagementClient({
    host: opt('host') ?? io.env['WARRENCTL_HOST'] ?? 'localhost',
    port,
    user: opt('user') ?? io.env['WARRENCTL_USER'] ?? io.env['WARREN_DEFAULT_USER'] ?? 'guest',
    password: opt('password') ?? io.env['WARRENCTL_PASSWORD'] ?? io.env['WARREN_DEFAULT_PASS'] ?? 'guest',
    timeoutMs: timeoutSeconds * 1000,
  });
  const out: Output = {
    formatter: formatter === 'pretty_table' ? 'table' : formatter,
    quiet: parsed.options.has('quiet'),
    silent: parsed.options.has('silent'),
    noHeaders: parsed.options.has('no-table-headers'),
    stdout: io.stdout,
    stderr: io.stderr,
  };
  let nodeName: string | undefined;
  const ctx: CommandContext = {
    args,
    options: parsed.options,
    vhost: opt('vhost') ?? '/',
    async node() {
      nodeName ??= String(((await client.get('/api/overview')) as { node?: unknown }).node ?? 'warren@localhost');
      return nodeName;
    },
    client,
    out,
    timeoutSeconds,
    readStdin: io.readStdin,
    cwd: io.cwd,
  };
  try {
    // rabbitmqctl reaches the node before it prints anything: an unreachable broker (69) or refused credentials show
    // no "Listing ..." line first. await_startup is the command that waits for the broker instead.
    if (command.name !== 'await_startup') await ctx.node();
    return await command.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(usageError(program, argv, command, err.message));
      return err.code;
    }
    if (err instanceof CtlError) {
      io.stderr(`${err.message}\n`);
      return err.code;
    }
    io.stderr(`Error:\n${err instanceof Error ? err.message : String(err)}\n`);
    return EX_SOFTWARE;
  }
}
