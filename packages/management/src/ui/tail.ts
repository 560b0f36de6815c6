/**
 * The live tail: pick an exchange and a binding key (or an MQTT topic filter) and watch the messages routed there.
 * The server binds a private queue for this page and removes it when the stream closes: on leaving the page, on
 * Stop, and while the tab is hidden (the tail restarts when it shows again).
 */
import { stream, type Live } from './api.js';
import { field, h, notice, values } from './dom.js';

/** Messages kept on screen. */
const KEEP = 500;

export function tailPage(
  main: HTMLElement,
  live: Live,
  title: (main: HTMLElement, text: string, live: Live) => void,
  vhostSelect: () => HTMLSelectElement,
): void {
  title(main, 'Live tail', live);
  const form = h('form', { class: 'panel', id: 'tail-form' },
    ...field('Virtual host', vhostSelect()),
    ...field('Exchange', h('input', { type: 'text', name: 'exchange', value: 'amq.topic' })),
    ...field('Match', h('select', { name: 'mode' }, h('option', { value: 'key' }, 'AMQP binding key'), h('option', { value: 'topic' }, 'MQTT topic filter'))),
    ...field('Pattern', h('input', { type: 'text', name: 'pattern', value: '#' })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit', id: 'tail-start' }, 'Start'), ' ', h('button', { type: 'button', id: 'tail-stop' }, 'Stop')));
  const state = h('p', { class: 'muted', id: 'tail-state' }, 'Not running.');
  const list = h('ul', { id: 'tail-messages' });
  const counts = h('span', { class: 'muted', id: 'tail-counts' });
  main.append(form, h('div', { class: 'bar' }, state, counts), h('div', { class: 'tail' }, list));
  let controller: AbortController | undefined;
  let query: string | undefined;
  let received = 0;
  let dropped = 0;

  const stop = (why: string): void => {
    controller?.abort();
    controller = undefined;
    state.textContent = why;
  };
  const start = (): void => {
    if (query === undefined || document.hidden) return;
    stop('Starting…');
    const c = new AbortController();
    controller = c;
    void stream(`/api/ui/tail?${query}`, c.signal, (e) => {
      if (e.event === 'ready') {
        const r = e.data as { exchange: string; binding_key: string; queue: string };
        state.textContent = `Tailing ${r.exchange === '' ? '(default)' : r.exchange} with binding key ${r.binding_key} (queue ${r.queue}).`;
        state.dataset['ready'] = 'true';
      } else if (e.event === 'messages') {
        const b = e.data as { messages: Array<Record<string, unknown>>; dropped: number };
        received += b.messages.length;
        dropped = b.dropped;
        counts.textContent = `${received} received${dropped > 0 ? `, ${dropped} dropped (the page fell behind)` : ''}`;
        for (const m of b.messages) {
          list.prepend(h('li', {},
            h('span', { class: 'rk' }, String(m['routing_key'])),
            h('span', { class: 'muted' }, `${new Date(Number(m['at'])).toLocaleTimeString()} · ${String(m['exchange']) || '(default)'} · ${String(m['payload_bytes'])} B `),
            h('pre', { class: 'payload' }, m['payload_encoding'] === 'base64' ? `(base64) ${String(m['payload'])}` : String(m['payload']))));
        }
        while (list.childElementCount > KEEP) list.lastElementChild?.remove();
      } else if (e.event === 'cancelled') {
        stop('Stopped: the tail queue was deleted.');
      }
    }).then(
      () => {
        if (controller === c) stop('Stream ended.');
      },
      (err: unknown) => {
        if (controller === c) {
          controller = undefined;
          state.textContent = 'Not running.';
          notice(main, (err as Error).message, false);
        }
      },
    );
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = values(form);
    const q = new URLSearchParams({ vhost: v['vhost'] ?? '/', exchange: v['exchange'] ?? '' });
    q.set(v['mode'] === 'topic' ? 'topic' : 'key', v['pattern'] ?? '#');
    query = q.toString();
    received = 0;
    list.replaceChildren();
    counts.textContent = '';
    start();
  });
  document.getElementById('tail-stop')!.addEventListener('click', () => {
    query = undefined;
    stop('Stopped.');
  });
  const onVisibility = (): void => {
    if (document.hidden) {
      if (controller !== undefined) stop('Paused while the tab is hidden.');
    } else start();
  };
  document.addEventListener('visibilitychange', onVisibility);
  window.addEventListener('hashchange', () => {
    query = undefined;
    stop('Stopped.');
    document.removeEventListener('visibilitychange', onVisibility);
  }, { once: true });
}
