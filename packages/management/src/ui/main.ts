/**
 * Warren's management UI: login with the broker's users, a hash router over the pages, and one live event stream
 * for whatever page is on screen.
 */
import { api, ApiError, clearCredentials, credentials, Live, setCredentials, whenUnauthorised } from './api.js';
import { field, h } from './dom.js';
import { PAGES, type PageContext } from './pages.js';

const live = new Live();
const main = document.getElementById('main')!;
const top = document.getElementById('top')!;
const nav = document.getElementById('nav')!;
let me: { name: string; tags: string[] } | undefined;

const NAV: Array<[string, string, boolean]> = [
  ['', 'Overview', false],
  ['connections', 'Connections', false],
  ['channels', 'Channels', false],
  ['exchanges', 'Exchanges', false],
  ['queues', 'Queues', false],
  ['mqtt', 'MQTT', false],
  ['tail', 'Live tail', false],
  ['users', 'Users', true],
  ['vhosts', 'Virtual hosts', true],
  ['policies', 'Policies', false],
  ['definitions', 'Definitions', true],
];

function showLogin(message?: string, username = ''): void {
  live.stop();
  me = undefined;
  top.hidden = true;
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, value: username });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password' });
  const form = h(
    'form',
    { class: 'panel', id: 'login' },
    ...field('Username', user),
    ...field('Password', password),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Log in')),
  );
  const box = h('div', { class: 'login' }, h('h1', {}, 'Warren management'), message !== undefined ? h('div', { class: 'msg error', role: 'alert' }, message) : null, form);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const auth = setCredentials(user.value, password.value);
    void start(auth).catch((err: unknown) => {
      clearCredentials();
      showLogin(err instanceof ApiError && err.status === 401 ? 'Login failed: wrong credentials, or the user has no management tag.' : (err as Error).message, user.value);
    });
  });
  main.replaceChildren(box);
  (username === '' ? user : password).focus();
}

async function start(auth: string): Promise<void> {
  me = await api<{ name: string; tags: string[] }>('GET', '/api/whoami', undefined, auth);
  top.hidden = false;
  document.getElementById('who')!.textContent = `${me.name} (${me.tags.join(', ') || 'no tags'})`;
  route();
}

function route(): void {
  if (me === undefined) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const [name = '', ...rest] = hash.split('/');
  const params = rest.map((s) => decodeURIComponent(s));
  const admin = me.tags.includes('administrator');
  nav.replaceChildren(
    ...NAV.filter(([, , adminOnly]) => admin || !adminOnly).map(([k, label]) =>
      h('a', { href: `#/${k}`, class: k === name || (name === 'queue' && k === 'queues') || (name === 'exchange' && k === 'exchanges') ? 'active' : '' }, label),
    ),
  );
  const page = PAGES[name] ?? PAGES['']!;
  live.stop();
  const ctx: PageContext = { live, params, admin, user: me.name };
  main.replaceChildren();
  page(main, ctx);
}

whenUnauthorised(() => {
  clearCredentials();
  showLogin('Your session ended: log in again.');
});
document.getElementById('logout')!.addEventListener('click', () => {
  clearCredentials();
  location.hash = '';
  showLogin();
});
window.addEventListener('hashchange', route);

const saved = credentials();
if (saved === undefined) showLogin();
else
  void start(saved).catch(() => {
    clearCredentials();
    showLogin();
  });
