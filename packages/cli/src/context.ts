/** What every command gets: the parsed command line, the API client, the output, and how to report usage errors. */
import type { ManagementClient } from './client.js';
import type { Output } from './output.js';

/** One run of one command. */
export interface CommandContext {
  /** The command's positional arguments (after the command name). */
  readonly args: readonly string[];
  /** Options by long name. */
  readonly options: ReadonlyMap<string, string | true>;
  /** -p/--vhost, default "/". */
  readonly vhost: string;
  /** The node name the API reports (for pids and JSON answers); fetched on first use. */
  node(): Promise<string>;
  readonly client: ManagementClient;
  readonly out: Output;
  /** rabbitmqctl's --timeout in seconds (default 60). */
  readonly timeoutSeconds: number;
  /** Reads standard input whole (import_definitions -). */
  readonly readStdin: () => Promise<string>;
  /** The working directory relative file paths are read from and written to. */
  readonly cwd: string;
}

/** A rabbitmqctl command warrenctl implements. */
export interface Command {
  readonly name: string;
  /** The usage line after `rabbitmqctl [--node <node>] [--longnames] [--quiet] `. */
  readonly usage: string;
  readonly description: string;
  /** The help section it is listed under. */
  readonly group: string;
  readonly minArgs: number;
  /** Infinity for column lists and tags. */
  readonly maxArgs: number;
  /** Info keys the command accepts as column arguments (list commands). */
  readonly columns?: readonly string[];
  /** Longer help: argument descriptions. */
  readonly help?: string;
  /** Command-specific options (long names) beyond the general ones. */
  readonly options?: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}
