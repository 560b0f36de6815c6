/**
 * The command line as rabbitmqctl reads it: options may come before or after the command name, `--name value` and
 * `--name=value` both work, short options take their value as the next word, and `--` ends the options. A small
 * hand-written parser rather than a framework: rabbitmqctl's conventions (options anywhere, per-command switches,
 * exit code 64 with its own wording) are easier to match exactly than to bend a framework into.
 */

/** How an option is written and whether it takes a value. */
export interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  /** True for switches (`-q`), false for options with a value (`-p /`). */
  readonly flag: boolean;
}

/** The parsed command line. */
export interface ParsedArgs {
  readonly positional: string[];
  /** Options by long name: `true` for switches, the (last) value otherwise. */
  readonly options: Map<string, string | true>;
  /** Options the specs do not know, as written. */
  readonly unknown: string[];
}

/** Thrown for an option that needs a value and has none. */
export class ArgsError extends Error {}

/** Parse `argv` with the given option specs. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.flatMap((s) => (s.short === undefined ? [] : [[s.short, s] as const])));
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      // rabbitmqctl (Elixir's OptionParser) takes --no_table_headers and --no-table-headers alike.
      const name = (eq === -1 ? word.slice(2) : word.slice(2, eq)).replaceAll('_', '-');
      const spec = byLong.get(name);
      if (spec === undefined) {
        unknown.push(word);
        continue;
      }
      if (spec.flag) options.set(spec.long, true);
      else if (eq !== -1) options.set(spec.long, word.slice(eq + 1));
      else {
        const value = argv[++i];
        if (value === undefined) throw new ArgsError(`option --${name} requires a value`);
        options.set(spec.long, value);
      }
      continue;
    }
    if (word.startsWith('-') && word.length > 1 && !/^-\d/.test(word)) {
      const spec = byShort.get(word.slice(1));
      if (spec === undefined) {
        unknown.push(word);
        continue;
      }
      if (spec.flag) options.set(spec.long, true);
      else {
        const value = argv[++i];
        if (value === undefined) throw new ArgsError(`option ${word} requires a value`);
        options.set(spec.long, value);
      }
      continue;
    }
    positional.push(word);
  }
  return { positional, options, unknown };
}
