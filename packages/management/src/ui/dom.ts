/** Small DOM helpers: elements from data (text only, never HTML strings), forms, notices and formatting. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** Create an element; `on*` attributes are listeners, `true` sets a boolean attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

/** A labelled form field (label, then the control), for `form.panel` grids. */
export function field(label: string, control: HTMLElement): Node[] {
  const id = `f-${Math.random().toString(36).slice(2)}`;
  control.id = id;
  return [h('label', { for: id }, label), control];
}

/** A form's values by control name. */
export function values(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of Array.from(form.elements)) {
    const c = el as HTMLInputElement;
    if (c.name === '') continue;
    out[c.name] = c.type === 'checkbox' ? String(c.checked) : c.value;
  }
  return out;
}

/** Show a notice at the top of `where` (replacing the last). */
export function notice(where: HTMLElement, text: string, ok: boolean): void {
  where.querySelector(':scope > .msg')?.remove();
  where.prepend(h('div', { class: `msg ${ok ? 'ok' : 'error'}`, role: ok ? 'status' : 'alert' }, text));
}

/** Run an action from a form or button: shows its success or error as a notice. */
export async function act(where: HTMLElement, what: () => Promise<unknown>, success: string): Promise<boolean> {
  try {
    await what();
    notice(where, success, true);
    return true;
  } catch (err) {
    notice(where, (err as Error).message, false);
    return false;
  }
}

export function fmtNum(n: unknown): string {
  return typeof n === 'number' ? n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 1 : 0 }) : '';
}

export function fmtRate(n: unknown): string {
  return typeof n === 'number' ? `${n.toLocaleString('en-US', { maximumFractionDigits: 1 })}/s` : '';
}

export function fmtBytes(n: unknown): string {
  if (typeof n !== 'number') return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toLocaleString('en-US', { maximumFractionDigits: 1 })} ${units[i]}`;
}

/** A dotted path of an object. */
export function pick(o: unknown, path: string): unknown {
  let v = o;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

/** Parse a JSON object typed into a textarea ('' = {}). */
export function jsonObject(text: string, what: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what}: not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what}: must be a JSON object`);
  return v as Record<string, unknown>;
}
