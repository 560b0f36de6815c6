/**
 * A live, server-paged list: the page, its size, the name filter and the sort go to the API as page/page_size/name/
 * sort/sort_reverse (the server filters, sorts and pages; the browser renders one page), and the answer arrives on
 * the page's event stream whenever it changes.
 */
import { h, pick } from './dom.js';

/** One column of a list. */
export interface Column {
  /** Dotted path in the item (also the sort key unless `sort` says otherwise). */
  key: string;
  label: string;
  /** Server sort column; false: not sortable. */
  sort?: string | false;
  num?: boolean;
  render?: (item: Record<string, unknown>) => Node | string;
}

/** A view the page's stream feeds: the API path it watches and what to do with the answer. */
export interface LiveView {
  path(): string;
  update(body: unknown, status: number): void;
  /** Set by the page: the view's path changed, re-subscribe. */
  onChange: () => void;
  readonly element: HTMLElement;
}

interface PageEnvelope {
  items: Record<string, unknown>[];
  page: number;
  page_count: number;
  filtered_count: number;
  total_count: number;
}

export interface ListOptions {
  /** The API list path (without query). */
  base: string;
  columns: Column[];
  /** Fields to ask for (`columns=`); default: every column's key plus `extra`. */
  extra?: string[];
  sort?: string;
  pageSize?: number;
  /** A cell after the columns (row actions). */
  actions?: (item: Record<string, unknown>) => Node | null;
  /** Name filter label; false: no filter. */
  filter?: string | false;
  /** A label for the table (tests and screen readers find it by this). */
  label: string;
}

/** Build a live list view. */
export function liveList(o: ListOptions): LiveView {
  let page = 1;
  let name = '';
  let sort = o.sort ?? '';
  let reverse = false;
  const pageSize = o.pageSize ?? 100;
  const tbody = h('tbody');
  const headRow = h('tr');
  const table = h('table', { 'aria-label': o.label, 'data-list': o.label }, h('thead', {}, headRow), tbody);
  const info = h('span', { class: 'muted count' });
  const prev = h('button', { type: 'button', onclick: () => go(page - 1) }, '‹ Prev');
  const next = h('button', { type: 'button', onclick: () => go(page + 1) }, 'Next ›');
  const filterInput = h('input', { type: 'text', placeholder: o.filter === false ? '' : (o.filter ?? 'Filter by name'), 'aria-label': 'filter' });
  let debounce: number | undefined;
  filterInput.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      name = filterInput.value;
      page = 1;
      view.onChange();
    }, 250);
  });
  const bar = h('div', { class: 'bar' }, o.filter === false ? null : filterInput, prev, next, info);
  const element = h('div', { class: 'list' }, bar, table);

  const drawHead = (): void => {
    headRow.replaceChildren(
      ...o.columns.map((c) => {
        const key = c.sort === false ? undefined : (c.sort ?? c.key);
        const th = h('th', { class: `${c.num === true ? 'num ' : ''}${key !== undefined ? 'sortable' : ''}`, 'data-col': c.key }, c.label);
        if (key !== undefined) {
          if (key === sort) th.classList.add('sorted', ...(reverse ? ['reverse'] : []));
          th.addEventListener('click', () => {
            if (sort === key) reverse = !reverse;
            else {
              sort = key;
              reverse = c.num === true;
            }
            page = 1;
            drawHead();
            view.onChange();
          });
        }
        return th;
      }),
      ...(o.actions !== undefined ? [h('th', {}, '')] : []),
    );
  };
  drawHead();

  const go = (p: number): void => {
    page = Math.max(1, p);
    view.onChange();
  };

  const fields = [...new Set([...o.columns.map((c) => c.key), ...(o.extra ?? [])])];
  const view: LiveView = {
    element,
    onChange: () => {},
    path() {
      const q = new URLSearchParams({ page: String(page), page_size: String(pageSize), columns: fields.join(',') });
      if (name !== '') q.set('name', name);
      if (sort !== '') q.set('sort', sort);
      if (reverse) q.set('sort_reverse', 'true');
      return `${o.base}?${q.toString()}`;
    },
    update(body, status) {
      if (status >= 400) {
        tbody.replaceChildren(h('tr', {}, h('td', { colspan: o.columns.length + 1, class: 'msg error' }, `${status}: ${String((body as { reason?: string } | null)?.reason ?? '')}`)));
        return;
      }
      const env = body as PageEnvelope;
      tbody.replaceChildren(
        ...env.items.map((item) =>
          h(
            'tr',
            { 'data-name': String(item['name'] ?? item['client_id'] ?? item['topic'] ?? '') },
            ...o.columns.map((c) => {
              const v = c.render !== undefined ? c.render(item) : pick(item, c.key);
              return h('td', c.num === true ? { class: 'num' } : {}, v instanceof Node ? v : v === undefined || v === null ? '' : String(v));
            }),
            ...(o.actions !== undefined ? [h('td', {}, o.actions(item))] : []),
          ),
        ),
      );
      if (env.items.length === 0) tbody.append(h('tr', {}, h('td', { colspan: o.columns.length + 1, class: 'muted' }, 'Nothing to show.')));
      info.textContent = `page ${env.page} of ${Math.max(1, env.page_count)} · ${env.filtered_count.toLocaleString('en-US')} of ${env.total_count.toLocaleString('en-US')}`;
      prev.disabled = env.page <= 1;
      next.disabled = env.page >= env.page_count;
      // What this table shows now (the load check waits on it).
      table.dataset['sort'] = `${sort}${reverse ? ':reverse' : ''}`;
      table.dataset['page'] = String(env.page);
      table.dataset['rendered'] = String(performance.now());
    },
  };
  return view;
}

/** A view of one API object (not a list). */
export function liveObject(path: string, render: (body: unknown, status: number) => void, element: HTMLElement = h('div')): LiveView {
  return { element, onChange: () => {}, path: () => path, update: render };
}
