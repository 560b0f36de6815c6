/**
 * rabbitmqctl's output formats: informational lines ("Listing queues for vhost / ..."), the tab-separated table with a
 * header row (the default), `--formatter json` (one object per line between `[` and `]`) and `--formatter csv` (every
 * field quoted). Values in tables are written the way rabbitmqctl writes Erlang terms: lists as `[a, b]`, argument
 * tables as `[{"x-max-length",10}]`, booleans as true/false.
 */

/** Where the command's text goes, and the switches that shape it. */
export interface Output {
  readonly formatter: 'table' | 'json' | 'csv';
  /** -q: no informational lines. */
  readonly quiet: boolean;
  /** -s: no informational lines and no table header row. */
  readonly silent: boolean;
  /** --no-table-headers. */
  readonly noHeaders: boolean;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Print an informational line unless -q/-s or a machine formatter asks for data only. */
export function info(out: Output, line: string): void {
  if (out.quiet || out.silent || out.formatter !== 'table') return;
  out.stdout(`${line}\n`);
}

/** A value as rabbitmqctl's table formatter writes it. */
export function tableValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tableValue).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return `[${entries.map(([k, x]) => `{${JSON.stringify(k)},${erlangTerm(x)}}`).join(',')}]`;
  }
  return String(v);
}

/** A value inside an argument table: strings quoted (`"classic"`), tables nested. */
function erlangTerm(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(erlangTerm).join(',')}]`;
  if (v !== null && typeof v === 'object') return tableValue(v);
  return tableValue(v);
}

/** Print rows in the chosen format with the given columns. */
export function emitRows(out: Output, columns: readonly string[], rows: readonly Record<string, unknown>[]): void {
  if (out.formatter === 'json') {
    const lines = rows.map((r, i) => `${i === 0 ? '' : ','}${JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null])))}`);
    out.stdout(`[\n${lines.map((l) => `${l}\n`).join('')}]\n`);
    return;
  }
  if (out.formatter === 'csv') {
    const q = (s: string): string => `"${s.replaceAll('"', '""')}"`;
    let text = out.noHeaders || out.silent ? '' : `${columns.map(q).join(',')}\n`;
    for (const r of rows) text += `${columns.map((c) => q(tableValue(r[c]))).join(',')}\n`;
    out.stdout(text);
    return;
  }
  let text = out.noHeaders || out.silent || rows.length === 0 ? '' : `${columns.join('\t')}\n`;
  for (const r of rows) text += `${columns.map((c) => tableValue(r[c])).join('\t')}\n`;
  out.stdout(text);
}

/**
 * {@link emitRows}, except that an empty table is one empty line: what rabbitmqctl 3.10 prints for policies, vhost
 * limits and user topic permissions when there are none.
 */
export function emitRowsOrBlankLine(out: Output, columns: readonly string[], rows: readonly Record<string, unknown>[]): void {
  if (out.formatter === 'table' && rows.length === 0) out.stdout('\n');
  else emitRows(out, columns, rows);
}
