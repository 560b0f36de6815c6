/** The pages: each builds its DOM into `main` and tells the live stream what it shows. */
import { api, enc, type Live } from './api.js';
import { lineChart, pointsOf, ratesOf } from './chart.js';
import { act, field, fmtBytes, fmtNum, fmtRate, h, jsonObject, notice, pick, values } from './dom.js';
import { liveList, liveObject, type LiveView } from './list.js';
import { tailPage } from './tail.js';

export interface PageContext {
  live: Live;
  params: string[];
  admin: boolean;
  user: string;
}
export type Page = (main: HTMLElement, ctx: PageContext) => void;

/** Feed `views` from the page's stream, re-subscribing when one of them changes its query. */
export function watchViews(live: Live, views: LiveView[]): void {
  const subscribe = (): void => {
    const byPath = new Map(views.map((v) => [v.path(), v]));
    live.watch([...byPath.keys()], (path, body, status) => byPath.get(path)?.update(body, status));
  };
  for (const v of views) v.onChange = subscribe;
  subscribe();
}

function title(main: HTMLElement, text: string, live: Live): void {
  const status = h('span', { class: 'live', id: 'live-status' });
  live.onStatus((on, error) => {
    status.className = `live${on ? ' on' : ''}`;
    status.textContent = on ? 'live' : error !== undefined ? `offline: ${error}` : 'paused';
  });
  main.append(h('h1', {}, text, ' ', status));
}

/** A legend colour swatch (styled through the CSSOM: the Content-Security-Policy forbids style attributes). */
function swatch(color: string): HTMLElement {
  const i = h('i');
  i.style.background = color;
  return i;
}

const vhostLink = (v: unknown): string => String(v);
const queueLink = (item: Record<string, unknown>): Node =>
  h('a', { href: `#/queue/${enc(String(item['vhost']))}/${enc(String(item['name']))}` }, String(item['name']));
const exchangeLink = (item: Record<string, unknown>): Node =>
  h('a', { href: `#/exchange/${enc(String(item['vhost']))}/${enc(String(item['name']))}` }, item['name'] === '' ? '(AMQP default)' : String(item['name']));
const rateOf = (path: string) => (item: Record<string, unknown>) => fmtRate(pick(item, path) ?? 0);

/** A vhost <select> filled from the API. */
function vhostSelect(name = 'vhost'): HTMLSelectElement {
  const sel = h('select', { name });
  void api<Array<{ name: string }>>('GET', '/api/vhosts?columns=name').then((vs) => {
    sel.replaceChildren(...vs.map((v) => h('option', { value: v.name }, v.name)));
  }, () => sel.replaceChildren(h('option', { value: '/' }, '/')));
  return sel;
}

function confirmButton(label: string, question: string, run: () => Promise<unknown>, where: () => HTMLElement, done: string): HTMLButtonElement {
  return h('button', {
    type: 'button',
    class: 'danger',
    onclick: () => {
      if (!confirm(question)) return;
      void act(where(), run, done);
    },
  }, label);
}

// ---- overview -------------------------------------------------------------------------------------------------

const overview: Page = (main, { live }) => {
  title(main, 'Overview', live);
  const cards = h('div', { class: 'cards' });
  const charts = h('div', { class: 'charts' });
  const node = h('div');
  const listeners = h('div');
  const cluster = h('div');
  main.append(cards, charts, h('h2', {}, 'Node'), node, h('h2', {}, 'Cluster'), cluster, h('h2', {}, 'Listeners'), listeners);
  const SPAN = 10 * 60_000;
  const ov = liveObject(`/api/overview?lengths_age=600&lengths_incr=5&msg_rates_age=600&msg_rates_incr=5`, (b) => {
    const o = b as Record<string, any>;
    const t = o['object_totals'] ?? {};
    const q = o['queue_totals'] ?? {};
    const m = o['message_stats'] ?? {};
    const card = (k: string, v: string, id: string): Node => h('div', { class: 'card', 'data-stat': id }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k));
    cards.replaceChildren(
      card('Connections', fmtNum(t.connections), 'connections'),
      card('Channels', fmtNum(t.channels), 'channels'),
      card('Exchanges', fmtNum(t.exchanges), 'exchanges'),
      card('Queues', fmtNum(t.queues), 'queues'),
      card('Consumers', fmtNum(t.consumers), 'consumers'),
      card('Messages', fmtNum(q.messages ?? 0), 'messages'),
      card('Ready', fmtNum(q.messages_ready ?? 0), 'messages_ready'),
      card('Unacked', fmtNum(q.messages_unacknowledged ?? 0), 'messages_unacknowledged'),
      card('Publish', fmtRate(m.publish_details?.rate ?? 0), 'publish_rate'),
      card('Deliver', fmtRate((m.deliver_get_details?.rate ?? m.deliver_details?.rate) ?? 0), 'deliver_rate'),
    );
    const now = Date.now();
    const chart = (name: string, unit: string, series: Array<{ label: string; color: string; points: Array<{ t: number; v: number }> }>): Node =>
      h('div', { class: 'chart', 'data-chart': name }, h('strong', {}, name), lineChart(series, SPAN, now, unit),
        h('div', { class: 'legend' }, ...series.map((s) => h('span', {}, swatch(s.color), s.label))));
    charts.replaceChildren(
      chart('Queued messages (last 10 min)', '', [
        { label: 'Total', color: 'var(--chart1)', points: pointsOf(q.messages_details?.samples) },
        { label: 'Ready', color: 'var(--chart2)', points: pointsOf(q.messages_ready_details?.samples) },
        { label: 'Unacked', color: 'var(--chart3)', points: pointsOf(q.messages_unacknowledged_details?.samples) },
      ]),
      chart('Message rates (last 10 min)', '/s', [
        { label: 'Publish', color: 'var(--chart1)', points: ratesOf(m.publish_details?.samples) },
        { label: 'Deliver', color: 'var(--chart2)', points: ratesOf(m.deliver_details?.samples) },
        { label: 'Ack', color: 'var(--chart3)', points: ratesOf(m.ack_details?.samples) },
      ]),
    );
    listeners.replaceChildren(
      h('table', { 'aria-label': 'listeners' }, h('thead', {}, h('tr', {}, h('th', {}, 'Protocol'), h('th', {}, 'Address'), h('th', { class: 'num' }, 'Port'))),
        h('tbody', {}, ...((o['listeners'] ?? []) as Array<Record<string, unknown>>).map((l) =>
          h('tr', {}, h('td', {}, String(l['protocol'])), h('td', {}, String(l['ip_address'])), h('td', { class: 'num' }, String(l['port'])))))),
    );
  });
  const nodes = liveObject('/api/nodes', (b, status) => {
    if (status >= 400) {
      node.replaceChildren(h('p', { class: 'muted' }, 'Node details need the monitoring tag.'));
      return;
    }
    const n = (b as Array<Record<string, any>>)[0] ?? {};
    const pct = (used: number, limit: number): string => (limit > 0 ? ` of ${fmtBytes(limit)}` : '');
    node.replaceChildren(
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'v' }, fmtBytes(n.mem_used)), h('div', { class: 'k' }, `Memory${pct(n.mem_used, n.mem_limit)} (high watermark)`),
          n.mem_alarm ? h('span', { class: 'pill alarm' }, 'memory alarm') : null),
        h('div', { class: 'card' }, h('div', { class: 'v' }, fmtBytes(n.disk_free)), h('div', { class: 'k' }, `Disk free (limit ${fmtBytes(n.disk_free_limit)})`),
          n.disk_free_alarm ? h('span', { class: 'pill alarm' }, 'disk alarm') : null),
        h('div', { class: 'card' }, h('div', { class: 'v' }, `${fmtNum(n.fd_used)} / ${fmtNum(n.fd_total)}`), h('div', { class: 'k' }, 'File descriptors')),
        h('div', { class: 'card' }, h('div', { class: 'v' }, `${fmtNum(Math.round((n.uptime ?? 0) / 60000))} min`), h('div', { class: 'k' }, `Uptime of ${n.name ?? ''}`)),
        h('div', { class: 'card', 'data-stat': 'alarms' }, h('div', { class: 'v' }, n.mem_alarm || n.disk_free_alarm ? 'Alarm' : 'None'), h('div', { class: 'k' }, 'Resource alarms')),
      ),
    );
  });
  // Members, leader, in-sync replicas and replication lag (a single node shows itself as the only member).
  const clusterView = liveObject('/api/cluster', (b, status) => {
    if (status >= 400) {
      cluster.replaceChildren(h('p', { class: 'muted' }, 'Cluster details need the monitoring tag.'));
      return;
    }
    const c = b as Record<string, any>;
    const members = (c['members'] ?? []) as Array<Record<string, any>>;
    const cell = (v: unknown): Node => h('td', { class: 'num' }, v === undefined ? '' : fmtNum(Number(v)));
    cluster.replaceChildren(
      h('p', {}, `Leader ${c['leader']?.node ?? '(none)'}, epoch ${String(c['epoch'] ?? '')}; in-sync replicas: ${((c['isr'] ?? []) as string[]).join(', ')}`),
      h('table', { 'aria-label': 'cluster members' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Member'), h('th', {}, 'Host'), h('th', {}, 'Role'), h('th', {}, 'In sync'), h('th', {}, 'Link'),
          h('th', { class: 'num' }, 'Lag (changes)'), h('th', { class: 'num' }, 'Lag (bytes)'))),
        h('tbody', {}, ...members.map((m) =>
          h('tr', { 'data-member': String(m['node']) }, h('td', {}, String(m['node'])), h('td', {}, String(m['host'] ?? '')),
            h('td', {}, m['leader'] ? 'leader' : 'follower'), h('td', {}, m['inSync'] ? 'yes' : 'no'), h('td', {}, String(m['state'] ?? '')),
            cell(m['lagChanges']), cell(m['lagBytes']))))),
    );
  });
  watchViews(live, [ov, nodes, clusterView]);
};

// ---- connections, channels --------------------------------------------------------------------------------------

const connections: Page = (main, { live }) => {
  title(main, 'Connections', live);
  const list = liveList({
    label: 'connections',
    base: '/api/connections',
    sort: 'name',
    extra: ['client_properties', 'user_provided_name'],
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'protocol', label: 'Protocol' },
      {
        key: 'client_properties.client_id', label: 'Client', sort: false,
        render: (c) => {
          const p = (c['client_properties'] ?? {}) as Record<string, unknown>;
          const id = p['client_id'] !== undefined ? `client id ${String(p['client_id'])}` : String(p['product'] ?? '');
          return h('details', {}, h('summary', {}, id || '—'), h('pre', {}, JSON.stringify(p, null, 1)));
        },
      },
      { key: 'user', label: 'User' },
      { key: 'vhost', label: 'Vhost', render: (c) => vhostLink(c['vhost']) },
      { key: 'channels', label: 'Channels', num: true },
      { key: 'recv_oct_details.rate', label: 'From client', num: true, render: (c) => fmtRate(pick(c, 'recv_oct_details.rate') ?? 0).replace('/s', ' B/s') },
      { key: 'send_oct_details.rate', label: 'To client', num: true, render: (c) => fmtRate(pick(c, 'send_oct_details.rate') ?? 0).replace('/s', ' B/s') },
      { key: 'recv_cnt', label: 'Frames in', num: true },
      { key: 'send_cnt', label: 'Frames out', num: true },
    ],
    actions: (c) =>
      confirmButton('Close', `Close connection ${String(c['name'])}?`, () => api('DELETE', `/api/connections/${enc(String(c['name']))}`), () => main, `Closed ${String(c['name'])}.`),
  });
  main.append(list.element);
  watchViews(live, [list]);
};

const channels: Page = (main, { live }) => {
  title(main, 'Channels', live);
  const list = liveList({
    label: 'channels',
    base: '/api/channels',
    sort: 'name',
    columns: [
      { key: 'name', label: 'Channel' },
      { key: 'user', label: 'User' },
      { key: 'vhost', label: 'Vhost' },
      { key: 'confirm', label: 'Mode', sort: false, render: (c) => (c['confirm'] === true ? 'confirm' : '') },
      { key: 'prefetch_count', label: 'Prefetch', num: true },
      { key: 'consumer_count', label: 'Consumers', num: true },
      { key: 'messages_unacknowledged', label: 'Unacked', num: true },
      { key: 'message_stats.publish_details.rate', label: 'Publish', num: true, render: rateOf('message_stats.publish_details.rate') },
      { key: 'message_stats.deliver_get_details.rate', label: 'Deliver/get', num: true, render: rateOf('message_stats.deliver_get_details.rate') },
      { key: 'message_stats.ack_details.rate', label: 'Ack', num: true, render: rateOf('message_stats.ack_details.rate') },
    ],
  });
  main.append(list.element);
  watchViews(live, [list]);
};

// ---- exchanges ----------------------------------------------------------------------------------------------------

function argumentsArea(name = 'arguments'): HTMLTextAreaElement {
  return h('textarea', { name, placeholder: '{"x-max-length": 1000}' });
}

const exchanges: Page = (main, { live }) => {
  title(main, 'Exchanges', live);
  const list = liveList({
    label: 'exchanges',
    base: '/api/exchanges',
    sort: 'name',
    extra: ['auto_delete', 'internal'],
    columns: [
      { key: 'vhost', label: 'Vhost' },
      { key: 'name', label: 'Name', render: exchangeLink },
      { key: 'type', label: 'Type' },
      { key: 'durable', label: 'Features', sort: false, render: (x) => [x['durable'] ? 'D' : '', x['auto_delete'] ? 'AD' : '', x['internal'] ? 'I' : ''].filter(Boolean).join(' ') },
      { key: 'message_stats.publish_in_details.rate', label: 'In', num: true, render: rateOf('message_stats.publish_in_details.rate') },
      { key: 'message_stats.publish_out_details.rate', label: 'Out', num: true, render: rateOf('message_stats.publish_out_details.rate') },
    ],
    actions: (x) =>
      x['name'] === '' || String(x['name']).startsWith('amq.')
        ? null
        : confirmButton('Delete', `Delete exchange ${String(x['name'])}?`, () => api('DELETE', `/api/exchanges/${enc(String(x['vhost']))}/${enc(String(x['name']))}`), () => main, `Deleted exchange ${String(x['name'])}.`),
  });
  const form = h('form', { class: 'panel', id: 'declare-exchange' },
    ...field('Virtual host', vhostSelect()),
    ...field('Name', h('input', { type: 'text', name: 'name', required: true })),
    ...field('Type', h('select', { name: 'type' }, ...['direct', 'fanout', 'topic', 'headers'].map((t) => h('option', { value: t }, t)))),
    ...field('Durable', h('input', { type: 'checkbox', name: 'durable', checked: true })),
    ...field('Auto delete', h('input', { type: 'checkbox', name: 'auto_delete' })),
    ...field('Internal', h('input', { type: 'checkbox', name: 'internal' })),
    ...field('Arguments (JSON)', argumentsArea()),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Add exchange')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    void act(main, () => api('PUT', `/api/exchanges/${enc(v['vhost']!)}/${enc(v['name']!)}`, {
      type: v['type'], durable: v['durable'] === 'true', auto_delete: v['auto_delete'] === 'true', internal: v['internal'] === 'true', arguments: jsonObject(v['arguments']!, 'arguments'),
    }), `Declared exchange ${v['name']}.`);
  });
  main.append(list.element, h('h2', {}, 'Add an exchange'), form);
  watchViews(live, [list]);
};

function publishForm(vhost: string, exchange: string, fixedKey?: string): HTMLFormElement {
  const form = h('form', { class: 'panel', id: 'publish' },
    ...field('Routing key', h('input', { type: 'text', name: 'routing_key', value: fixedKey ?? '', ...(fixedKey !== undefined ? { readonly: true } : {}) })),
    ...field('Delivery mode', h('select', { name: 'delivery_mode' }, h('option', { value: '1' }, '1 - non-persistent'), h('option', { value: '2' }, '2 - persistent'))),
    ...field('Headers (JSON)', h('textarea', { name: 'headers', placeholder: '{"source": "ui"}' })),
    ...field('Properties (JSON)', h('textarea', { name: 'properties', placeholder: '{"content_type": "text/plain"}' })),
    ...field('Payload', h('textarea', { name: 'payload' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Publish message')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    void act(form, async () => {
      const props = { ...jsonObject(v['properties']!, 'properties'), delivery_mode: Number(v['delivery_mode']) };
      const headers = jsonObject(v['headers']!, 'headers');
      if (Object.keys(headers).length > 0) (props as Record<string, unknown>)['headers'] = headers;
      const r = await api<{ routed: boolean }>('POST', `/api/exchanges/${enc(vhost)}/${enc(exchange === '' ? 'amq.default' : exchange)}/publish`, {
        routing_key: v['routing_key'], payload: v['payload'], payload_encoding: 'string', properties: props,
      });
      if (!r.routed) throw new Error('Message published, but not routed.');
    }, 'Message published.');
  });
  return form;
}

function bindingsTable(label: string, rows: Array<Record<string, unknown>>, vhost: string, reload: () => void, where: HTMLElement): HTMLElement {
  return h('table', { 'aria-label': label },
    h('thead', {}, h('tr', {}, h('th', {}, 'Source'), h('th', {}, 'Destination'), h('th', {}, 'Routing key'), h('th', {}, 'Arguments'), h('th', {}, ''))),
    h('tbody', {}, ...rows.map((b) => h('tr', {},
      h('td', {}, b['source'] === '' ? '(AMQP default)' : String(b['source'])),
      h('td', {}, `${String(b['destination_type'])} ${String(b['destination'])}`),
      h('td', {}, String(b['routing_key'])),
      h('td', {}, JSON.stringify(b['arguments'] ?? {})),
      h('td', {}, b['source'] === '' ? '' : h('button', {
        type: 'button', class: 'danger',
        onclick: () => void act(where, () => api('DELETE', `/api/bindings/${enc(vhost)}/e/${enc(String(b['source']))}/${b['destination_type'] === 'queue' ? 'q' : 'e'}/${enc(String(b['destination']))}/${enc(String(b['properties_key']))}`), 'Unbound.').then(reload),
      }, 'Unbind')),
    ))));
}

function bindForm(vhost: string, fixed: { source?: string; queue?: string }): HTMLFormElement {
  const form = h('form', { class: 'panel', id: 'bind' },
    ...(fixed.source === undefined ? field('From exchange', h('input', { type: 'text', name: 'source', required: true })) : []),
    ...(fixed.queue === undefined
      ? [...field('To', h('select', { name: 'dtype' }, h('option', { value: 'q' }, 'queue'), h('option', { value: 'e' }, 'exchange'))), ...field('Destination', h('input', { type: 'text', name: 'destination', required: true }))]
      : []),
    ...field('Routing key', h('input', { type: 'text', name: 'routing_key' })),
    ...field('Arguments (JSON)', argumentsArea()),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Bind')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    const source = fixed.source ?? v['source']!;
    const dtype = fixed.queue !== undefined ? 'q' : v['dtype']!;
    const dest = fixed.queue ?? v['destination']!;
    void act(form, () => api('POST', `/api/bindings/${enc(vhost)}/e/${enc(source)}/${dtype}/${enc(dest)}`, { routing_key: v['routing_key'], arguments: jsonObject(v['arguments']!, 'arguments') }), 'Bound.');
  });
  return form;
}

const exchange: Page = (main, { live, params }) => {
  const [vhost = '/', name = ''] = params;
  title(main, `Exchange ${name === '' ? '(AMQP default)' : name} in ${vhost}`, live);
  const summary = h('div');
  const bindings = h('div');
  const base = `/api/exchanges/${enc(vhost)}/${enc(name === '' ? 'amq.default' : name)}`;
  main.append(summary, h('h2', {}, 'Bindings from this exchange'), bindings);
  if (name !== '') main.append(h('h2', {}, 'Add a binding'), bindForm(vhost, { source: name }));
  main.append(h('h2', {}, 'Publish a message'), publishForm(vhost, name));
  if (name !== '' && !name.startsWith('amq.')) {
    main.append(confirmButton('Delete this exchange', `Delete exchange ${name}?`, async () => {
      await api('DELETE', base);
      location.hash = '#/exchanges';
    }, () => main, 'Deleted.'));
  }
  watchViews(live, [
    liveObject(base, (b, status) => {
      if (status >= 400) return void summary.replaceChildren(h('div', { class: 'msg error' }, `${status}: not found`));
      const x = b as Record<string, unknown>;
      summary.replaceChildren(h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'v' }, String(x['type'])), h('div', { class: 'k' }, 'Type')),
        h('div', { class: 'card' }, h('div', { class: 'v' }, fmtRate(pick(x, 'message_stats.publish_in_details.rate') ?? 0)), h('div', { class: 'k' }, 'Publish in')),
        h('div', { class: 'card' }, h('div', { class: 'v' }, fmtRate(pick(x, 'message_stats.publish_out_details.rate') ?? 0)), h('div', { class: 'k' }, 'Publish out')),
      ), h('pre', {}, JSON.stringify({ durable: x['durable'], auto_delete: x['auto_delete'], internal: x['internal'], arguments: x['arguments'] }, null, 1)));
    }),
    liveObject(`${base}/bindings/source`, (b, status) => {
      if (status < 400) bindings.replaceChildren(bindingsTable('bindings', b as Array<Record<string, unknown>>, vhost, () => {}, main));
    }),
  ]);
};

// ---- queues -------------------------------------------------------------------------------------------------------

const queues: Page = (main, { live }) => {
  title(main, 'Queues', live);
  const list = liveList({
    label: 'queues',
    base: '/api/queues',
    sort: 'name',
    extra: ['auto_delete', 'exclusive', 'arguments'],
    columns: [
      { key: 'vhost', label: 'Vhost' },
      { key: 'name', label: 'Name', render: queueLink },
      { key: 'type', label: 'Type' },
      { key: 'state', label: 'State' },
      { key: 'consumers', label: 'Consumers', num: true },
      { key: 'messages_ready', label: 'Ready', num: true, render: (q) => fmtNum(q['messages_ready']) },
      { key: 'messages_unacknowledged', label: 'Unacked', num: true, render: (q) => fmtNum(q['messages_unacknowledged']) },
      { key: 'messages', label: 'Total', num: true, render: (q) => fmtNum(q['messages']) },
      { key: 'message_stats.publish_details.rate', label: 'Incoming', num: true, render: rateOf('message_stats.publish_details.rate') },
      { key: 'message_stats.deliver_get_details.rate', label: 'Deliver/get', num: true, render: rateOf('message_stats.deliver_get_details.rate') },
      { key: 'message_stats.ack_details.rate', label: 'Ack', num: true, render: rateOf('message_stats.ack_details.rate') },
    ],
    actions: (q) =>
      confirmButton('Delete', `Delete queue ${String(q['name'])}?`, () => api('DELETE', `/api/queues/${enc(String(q['vhost']))}/${enc(String(q['name']))}`), () => main, `Deleted queue ${String(q['name'])}.`),
  });
  const form = h('form', { class: 'panel', id: 'declare-queue' },
    ...field('Virtual host', vhostSelect()),
    ...field('Type', h('select', { name: 'type' }, ...['classic', 'quorum', 'stream'].map((t) => h('option', { value: t }, t)))),
    ...field('Name', h('input', { type: 'text', name: 'name', required: true })),
    ...field('Durable', h('input', { type: 'checkbox', name: 'durable', checked: true })),
    ...field('Auto delete', h('input', { type: 'checkbox', name: 'auto_delete' })),
    ...field('Arguments (JSON)', argumentsArea()),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Add queue')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    void act(main, () => {
      const args = jsonObject(v['arguments']!, 'arguments');
      if (v['type'] !== 'classic') args['x-queue-type'] = v['type'];
      return api('PUT', `/api/queues/${enc(v['vhost']!)}/${enc(v['name']!)}`, { durable: v['durable'] === 'true', auto_delete: v['auto_delete'] === 'true', arguments: args });
    }, `Declared queue ${v['name']}.`);
  });
  main.append(list.element, h('h2', {}, 'Add a queue'), form);
  watchViews(live, [list]);
};

const queue: Page = (main, { live, params }) => {
  const [vhost = '/', name = ''] = params;
  const base = `/api/queues/${enc(vhost)}/${enc(name)}`;
  title(main, `Queue ${name} in ${vhost}`, live);
  const summary = h('div', { id: 'queue-summary' });
  const consumers = h('div');
  const bindings = h('div');
  const got = h('div', { id: 'got' });
  const getForm = h('form', { class: 'panel', id: 'get' },
    ...field('Ack mode', h('select', { name: 'ackmode' }, h('option', { value: 'ack_requeue_true' }, 'Nack, requeue'), h('option', { value: 'ack_requeue_false' }, 'Ack, remove'), h('option', { value: 'reject_requeue_false' }, 'Reject, no requeue'))),
    ...field('Messages', h('input', { type: 'number', name: 'count', value: 1, min: 1 })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Get messages')));
  getForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(getForm);
    void api<Array<Record<string, unknown>>>('POST', `${base}/get`, { count: Number(v['count']), ackmode: v['ackmode'], encoding: 'auto', truncate: 50000 }).then(
      (msgs) => got.replaceChildren(msgs.length === 0 ? h('p', { class: 'muted' }, 'Queue is empty.') : h('div', {}, ...msgs.map((m, i) =>
        h('div', { class: 'panel' }, h('strong', {}, `Message ${i + 1}`), ` routing key ${String(m['routing_key'])} · exchange ${String(m['exchange']) || '(default)'} · ${String(m['payload_bytes'])} bytes${m['redelivered'] ? ' · redelivered' : ''}`,
          h('pre', { class: 'payload' }, String(m['payload'])), h('pre', {}, JSON.stringify(m['properties'], null, 1)))))),
      (err: unknown) => notice(getForm, (err as Error).message, false),
    );
  });
  main.append(summary,
    h('div', { class: 'bar' },
      confirmButton('Purge messages', `Purge every message of ${name}?`, () => api('DELETE', `${base}/contents`), () => main, 'Queue purged.'),
      confirmButton('Delete queue', `Delete queue ${name}?`, async () => {
        await api('DELETE', base);
        location.hash = '#/queues';
      }, () => main, 'Queue deleted.')),
    h('h2', {}, 'Consumers'), consumers, h('h2', {}, 'Bindings'), bindings, h('h2', {}, 'Add a binding'), bindForm(vhost, { queue: name }),
    h('h2', {}, 'Publish a message'), publishForm(vhost, '', name), h('h2', {}, 'Get messages'), getForm, got);
  watchViews(live, [
    liveObject(base, (b, status) => {
      if (status >= 400) return void summary.replaceChildren(h('div', { class: 'msg error' }, `${status}: queue not found`));
      const q = b as Record<string, any>;
      const card = (k: string, v: string, id: string): Node => h('div', { class: 'card', 'data-stat': id }, h('div', { class: 'v' }, v), h('div', { class: 'k' }, k));
      summary.replaceChildren(h('div', { class: 'cards' },
        card('Type', String(q.type ?? 'classic'), 'type'), card('State', String(q.state ?? ''), 'state'),
        card('Ready', fmtNum(q.messages_ready), 'messages_ready'), card('Unacked', fmtNum(q.messages_unacknowledged), 'messages_unacknowledged'),
        card('Total', fmtNum(q.messages), 'messages'), card('Bytes', fmtBytes(q.message_bytes ?? 0), 'message_bytes'),
        card('Publish', fmtRate(q.message_stats?.publish_details?.rate ?? 0), 'publish_rate'),
        card('Deliver/get', fmtRate(q.message_stats?.deliver_get_details?.rate ?? 0), 'deliver_rate'),
        card('Consumers', fmtNum(q.consumers), 'consumers')),
        h('pre', {}, JSON.stringify({ durable: q.durable, auto_delete: q.auto_delete, exclusive: q.exclusive, arguments: q.arguments, policy: q.policy ?? null }, null, 1)));
      const cs = (q.consumer_details ?? []) as Array<Record<string, unknown>>;
      consumers.replaceChildren(cs.length === 0 ? h('p', { class: 'muted' }, 'No consumers.') : h('table', { 'aria-label': 'consumers' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Tag'), h('th', {}, 'Ack required'), h('th', {}, 'Exclusive'), h('th', { class: 'num' }, 'Prefetch'))),
        h('tbody', {}, ...cs.map((c) => h('tr', {}, h('td', {}, String(c['consumer_tag'])), h('td', {}, String(c['ack_required'])), h('td', {}, String(c['exclusive'])), h('td', { class: 'num' }, String(c['prefetch_count'])))))));
    }),
    liveObject(`${base}/bindings`, (b, status) => {
      if (status < 400) bindings.replaceChildren(bindingsTable('bindings', b as Array<Record<string, unknown>>, vhost, () => {}, main));
    }),
  ]);
};

// ---- users, vhosts, policies, definitions ------------------------------------------------------------------------

const users: Page = (main, { live }) => {
  title(main, 'Users and permissions', live);
  const list = liveList({
    label: 'users', base: '/api/users', sort: 'name', filter: false,
    columns: [{ key: 'name', label: 'Name' }, { key: 'tags', label: 'Tags', sort: false, render: (u) => (u['tags'] as string[]).join(', ') }],
    actions: (u) => confirmButton('Delete', `Delete user ${String(u['name'])}?`, () => api('DELETE', `/api/users/${enc(String(u['name']))}`), () => main, `Deleted user ${String(u['name'])}.`),
  });
  const perms = liveList({
    label: 'permissions', base: '/api/permissions', filter: false,
    columns: [{ key: 'user', label: 'User' }, { key: 'vhost', label: 'Vhost' }, { key: 'configure', label: 'Configure' }, { key: 'write', label: 'Write' }, { key: 'read', label: 'Read' }],
    actions: (p) => confirmButton('Clear', `Clear ${String(p['user'])}'s permissions on ${String(p['vhost'])}?`, () => api('DELETE', `/api/permissions/${enc(String(p['vhost']))}/${enc(String(p['user']))}`), () => main, 'Permissions cleared.'),
  });
  const add = h('form', { class: 'panel', id: 'add-user' },
    ...field('Username', h('input', { type: 'text', name: 'name', required: true })),
    ...field('Password', h('input', { type: 'password', name: 'password', autocomplete: 'new-password' })),
    ...field('Tags', h('input', { type: 'text', name: 'tags', placeholder: 'administrator, monitoring, policymaker, management' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Add user')));
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(add);
    void act(main, () => api('PUT', `/api/users/${enc(v['name']!)}`, { password: v['password'], tags: v['tags'] }), `Added user ${v['name']}.`);
  });
  const perm = h('form', { class: 'panel', id: 'set-permission' },
    ...field('User', h('input', { type: 'text', name: 'user', required: true })),
    ...field('Virtual host', vhostSelect()),
    ...field('Configure', h('input', { type: 'text', name: 'configure', value: '.*' })),
    ...field('Write', h('input', { type: 'text', name: 'write', value: '.*' })),
    ...field('Read', h('input', { type: 'text', name: 'read', value: '.*' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Set permission')));
  perm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(perm);
    void act(main, () => api('PUT', `/api/permissions/${enc(v['vhost']!)}/${enc(v['user']!)}`, { configure: v['configure'], write: v['write'], read: v['read'] }), 'Permission set.');
  });
  main.append(list.element, h('h2', {}, 'Add a user'), add, h('h2', {}, 'Permissions'), perms.element, h('h2', {}, 'Set a permission'), perm);
  watchViews(live, [list, perms]);
};

const vhosts: Page = (main, { live }) => {
  title(main, 'Virtual hosts and limits', live);
  const list = liveList({
    label: 'vhosts', base: '/api/vhosts', sort: 'name',
    columns: [
      { key: 'name', label: 'Name' },
      { key: 'messages', label: 'Messages', num: true },
      { key: 'message_stats.publish_details.rate', label: 'Publish', num: true, render: rateOf('message_stats.publish_details.rate') },
    ],
    actions: (v) => (v['name'] === '/' ? null : confirmButton('Delete', `Delete vhost ${String(v['name'])} and everything in it?`, () => api('DELETE', `/api/vhosts/${enc(String(v['name']))}`), () => main, `Deleted vhost ${String(v['name'])}.`)),
  });
  const limits = h('div');
  const add = h('form', { class: 'panel', id: 'add-vhost' },
    ...field('Name', h('input', { type: 'text', name: 'name', required: true })),
    ...field('Description', h('input', { type: 'text', name: 'description' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Add virtual host')));
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(add);
    void act(main, () => api('PUT', `/api/vhosts/${enc(v['name']!)}`, { description: v['description'] }), `Added vhost ${v['name']}.`);
  });
  const lim = h('form', { class: 'panel', id: 'set-limit' },
    ...field('Virtual host', vhostSelect()),
    ...field('Limit', h('select', { name: 'limit' }, h('option', { value: 'max-connections' }, 'max-connections'), h('option', { value: 'max-queues' }, 'max-queues'))),
    ...field('Value', h('input', { type: 'number', name: 'value', value: 100 })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Set limit')));
  lim.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(lim);
    void act(main, () => api('PUT', `/api/vhost-limits/${enc(v['vhost']!)}/${enc(v['limit']!)}`, { value: Number(v['value']) }), 'Limit set.');
  });
  main.append(list.element, h('h2', {}, 'Add a virtual host'), add, h('h2', {}, 'Limits'), limits, lim);
  watchViews(live, [list, liveObject('/api/vhost-limits', (b, status) => {
    if (status >= 400) return;
    const rows = b as Array<{ vhost: string; value: Record<string, number> }>;
    limits.replaceChildren(rows.length === 0 ? h('p', { class: 'muted' }, 'No limits set.') : h('table', { 'aria-label': 'limits' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Vhost'), h('th', {}, 'Limit'), h('th', { class: 'num' }, 'Value'), h('th', {}, ''))),
      h('tbody', {}, ...rows.flatMap((r) => Object.entries(r.value).map(([k, v]) => h('tr', {}, h('td', {}, r.vhost), h('td', {}, k), h('td', { class: 'num' }, String(v)),
        h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => void act(main, () => api('DELETE', `/api/vhost-limits/${enc(r.vhost)}/${enc(k)}`), 'Limit cleared.') }, 'Clear'))))))));
  })]);
};

const policies: Page = (main, { live }) => {
  title(main, 'Policies', live);
  const list = liveList({
    label: 'policies', base: '/api/policies', filter: false,
    columns: [
      { key: 'vhost', label: 'Vhost' }, { key: 'name', label: 'Name' }, { key: 'pattern', label: 'Pattern' }, { key: 'apply-to', label: 'Apply to' },
      { key: 'priority', label: 'Priority', num: true }, { key: 'definition', label: 'Definition', sort: false, render: (p) => JSON.stringify(p['definition']) },
    ],
    actions: (p) => confirmButton('Delete', `Delete policy ${String(p['name'])}?`, () => api('DELETE', `/api/policies/${enc(String(p['vhost']))}/${enc(String(p['name']))}`), () => main, 'Policy deleted.'),
  });
  const add = h('form', { class: 'panel', id: 'add-policy' },
    ...field('Virtual host', vhostSelect()),
    ...field('Name', h('input', { type: 'text', name: 'name', required: true })),
    ...field('Pattern', h('input', { type: 'text', name: 'pattern', value: '^' })),
    ...field('Apply to', h('select', { name: 'apply-to' }, ...['all', 'queues', 'exchanges'].map((t) => h('option', { value: t }, t)))),
    ...field('Priority', h('input', { type: 'number', name: 'priority', value: 0 })),
    ...field('Definition (JSON)', h('textarea', { name: 'definition', placeholder: '{"max-length": 1000}' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Add policy')));
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(add);
    void act(main, () => api('PUT', `/api/policies/${enc(v['vhost']!)}/${enc(v['name']!)}`, { pattern: v['pattern'], 'apply-to': v['apply-to'], priority: Number(v['priority']), definition: jsonObject(v['definition']!, 'definition') }), `Policy ${v['name']} set.`);
  });
  main.append(list.element, h('h2', {}, 'Add or update a policy'), add);
  watchViews(live, [list]);
};

const definitions: Page = (main, { live }) => {
  title(main, 'Definitions', live);
  const download = h('button', { type: 'button', class: 'primary', id: 'download' }, 'Download broker definitions');
  download.addEventListener('click', () => {
    void act(main, async () => {
      const defs = await api('GET', '/api/definitions');
      const url = URL.createObjectURL(new Blob([JSON.stringify(defs, null, 2)], { type: 'application/json' }));
      const a = h('a', { href: url, download: `warren-definitions-${new Date().toISOString().slice(0, 10)}.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }, 'Definitions downloaded.');
  });
  const file = h('input', { type: 'file', name: 'file', accept: 'application/json,.json' });
  const upload = h('form', { class: 'panel', id: 'upload' }, ...field('Definitions file', file),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Upload definitions')));
  upload.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = file.files?.[0];
    if (f === undefined) return notice(main, 'Choose a file first.', false);
    void act(main, async () => api('POST', '/api/definitions', JSON.parse(await f.text()) as unknown), `Imported ${f.name}.`);
  });
  main.append(h('h2', {}, 'Export'), h('p', {}, 'Users, vhosts, permissions, policies, parameters, exchanges, queues and bindings as one JSON file (RabbitMQ\'s format).'), download,
    h('h2', {}, 'Import'), h('p', {}, 'Merges a definitions file (from Warren or RabbitMQ) into the broker.'), upload);
  live.stop();
};

// ---- MQTT ---------------------------------------------------------------------------------------------------------

const mqtt: Page = (main, { live }) => {
  title(main, 'MQTT', live);
  const sessions = liveList({
    label: 'mqtt sessions', base: '/api/ui/mqtt/sessions', sort: 'client_id', filter: 'Filter by client id', extra: ['expiry'],
    columns: [
      { key: 'client_id', label: 'Client id' },
      { key: 'vhost', label: 'Vhost' },
      { key: 'user', label: 'User' },
      { key: 'connected', label: 'State', render: (s) => h('span', { class: `pill${s['connected'] ? ' on' : ''}` }, s['connected'] ? 'connected' : 'offline') },
      { key: 'clean_session', label: 'Session', render: (s) => (s['clean_session'] ? 'clean' : `persistent, expires ${fmtNum(s['expiry'])} s after disconnect`) },
      { key: 'subscriptions', label: 'Subscriptions', sort: false, render: (s) => h('span', {}, ...(s['subscriptions'] as Array<{ filter: string; qos: number }>).map((x) => h('span', { class: 'pill' }, `${x.filter} (QoS ${x.qos})`))) },
      { key: 'messages', label: 'Queued', num: true },
      { key: 'messages_unacknowledged', label: 'In flight', num: true },
    ],
  });
  const retained = liveList({
    label: 'retained messages', base: '/api/ui/mqtt/retained', sort: 'topic', filter: 'Filter by topic',
    extra: ['payload_encoding'],
    columns: [
      { key: 'topic', label: 'Topic' }, { key: 'vhost', label: 'Vhost' }, { key: 'qos', label: 'QoS', num: true },
      { key: 'payload_bytes', label: 'Bytes', num: true }, { key: 'content_type', label: 'Content type', sort: false },
      { key: 'payload', label: 'Payload', sort: false, render: (m) => (m['payload_encoding'] === 'base64' ? `(base64) ${String(m['payload'])}` : String(m['payload'])) },
    ],
  });
  main.append(h('h2', {}, 'Sessions'), sessions.element, h('h2', {}, 'Retained messages'), retained.element);
  watchViews(live, [sessions, retained]);
};

export const PAGES: Record<string, Page> = {
  '': overview,
  connections,
  channels,
  exchanges,
  exchange,
  queues,
  queue,
  users,
  vhosts,
  policies,
  definitions,
  mqtt,
  tail: (main, ctx) => tailPage(main, ctx.live, title, vhostSelect),
};
