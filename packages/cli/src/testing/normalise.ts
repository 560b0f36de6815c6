/**
 * What differs between rabbitmqctl's and warrenctl's answers by nature, removed before they are compared: node names,
 * Erlang pids, client ports, and row order (RabbitMQ lists in table order, Warren sorted by name).
 */
import type { Answer } from './script.js';

/** Steps whose output is compared by shape in their own tests, not line by line. */
export const NOT_LINE_BY_LINE = new Set(['status', 'status-json', 'help-list_queues', 'unknown-command']);

/** Normalise one answer; `node` is the broker's node name. */
export function normalise(a: Answer, node: string, step: string): Answer {
  const fix = (s: string): string => {
    // rabbitmqctl sometimes echoes the node's log (`\n19:07:42.272 [warning] Failed to change password ...`).
    let t = s.replace(/\n?\d\d:\d\d:\d\d\.\d+ \[\w+\] [^\n]*\n/g, '').replaceAll(node, 'NODE').replaceAll('warrenctl', 'rabbitmqctl');
    t = t.replace(/<NODE\.\d+\.\d+\.\d+>/g, '<PID>');
    // Warren has no amq.rabbitmq.trace exchange (no firehose tracer): a known difference, not the CLI's.
    t = t.replace(/^amq\.rabbitmq\.trace\t.*\n/m, '');
    if (step.startsWith('list_connections')) t = t.replace(/\t\d{2,5}\t/g, '\tPORT\t');
    return sortRows(t);
  };
  return { stdout: fix(a.stdout), stderr: fix(a.stderr), code: a.code };
}

/** Sort the data lines (tab-separated or JSON object lines) of a listing, keeping headings in place. */
function sortRows(text: string): string {
  const lines = text.split('\n');
  const isRow = (l: string): boolean => l.includes('\t') || /^,?\{/.test(l) || /^"/.test(l);
  const rows = lines.filter(isRow);
  if (rows.length < 2) return text;
  // The header row of a table stays first: it is the first row-like line when it names columns.
  const sorted = rows.map((l) => l.replace(/^,/, '')).sort();
  const header = lines.find(isRow);
  const headerIsNames = header !== undefined && /^[a-z_"-]+(\t[a-z_-]+|","[a-z_-]+)*"?$/.test(header);
  const body = headerIsNames ? [header!, ...sorted.filter((l) => l !== header)] : sorted;
  let i = 0;
  return lines.map((l) => (isRow(l) ? body[i++]! : l)).join('\n');
}
