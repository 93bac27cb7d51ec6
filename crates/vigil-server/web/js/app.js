// Vigil's web app: sign-in, the shell (navigation, account, error banner), hash routes
// and keyboard shortcuts. Each page is a module with render(root, ctx, params).

import { api, setCsrf, whenUnauthenticated, isAbort } from './api.js';
import { h, replace, badge } from './dom.js';
import * as chat from './chat.js';
import * as sessions from './sessions.js';
import * as promptbooks from './promptbooks.js';
import * as incidents from './incidents.js';
import * as hunt from './hunt.js';
import * as plugins from './plugins.js';
import * as admin from './admin.js';

const RANK = { reader: 0, analyst: 1, admin: 2 };

const PAGES = [
  { route: 'chat', label: 'Chat', key: 'c', module: chat },
  { route: 'sessions', label: 'Sessions', key: 's', module: sessions },
  { route: 'promptbooks', label: 'Promptbooks', key: 'p', module: promptbooks },
  { route: 'incidents', label: 'Incidents', key: 'i', module: incidents },
  { route: 'hunt', label: 'Hunting', key: 'h', module: hunt },
  { route: 'plugins', label: 'Plugins', key: 'l', module: plugins },
  { route: 'admin', label: 'Admin', key: 'a', module: admin, admin: true },
];

const app = document.getElementById('app');
let me = null;
let current = null; // {controller}
let shell = null; // {main, banner, links}

// --- Errors ------------------------------------------------------------------------

function showError(err) {
  if (isAbort(err) || !shell) return;
  const message = err && err.message ? err.message : String(err);
  const code = err && err.code ? err.code : '';
  const close = h('button', { type: 'button', class: 'banner-close', 'aria-label': 'Dismiss' }, '×');
  const item = h('div', { class: 'banner-item', role: 'alert', dataset: { code } },
    h('span', { class: 'banner-text' }, message), code ? h('code', { class: 'banner-code' }, code) : null, close);
  close.addEventListener('click', () => item.remove());
  shell.banner.append(item);
  while (shell.banner.childElementCount > 3) shell.banner.firstElementChild.remove();
}

window.addEventListener('unhandledrejection', (event) => {
  if (isAbort(event.reason)) {
    event.preventDefault();
    return;
  }
  showError(event.reason);
});

// --- Sign-in -------------------------------------------------------------------------

function renderLogin(message) {
  shell = null;
  if (current) current.controller.abort();
  current = null;
  const user = h('input', { type: 'text', id: 'login-user', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { type: 'password', id: 'login-password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'login-error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { id: 'login-form', class: 'login-card' },
    h('div', { class: 'brand brand-large' }, h('img', { src: '/favicon.svg', alt: '', width: '36', height: '36' }), h('span', null, 'Vigil')),
    h('p', { class: 'muted' }, 'Security copilot. Sign in with your Vigil account.'),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'User name'), user),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Password'), password),
    error,
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      const reply = await api.post('/api/login', { username: user.value.trim(), password: password.value });
      setCsrf(reply.csrf);
      me = { user: reply.user, role: reply.role };
      renderShell();
    } catch (err) {
      error.textContent = err.code === 'bad_login' ? 'Wrong user name or password.' : err.message;
      submit.disabled = false;
      password.select();
    }
  });
  document.title = 'Sign in · Vigil';
  replace(app, h('main', { class: 'login-page' }, form));
  user.focus();
}

whenUnauthenticated(() => {
  if (me) renderLogin('Your session ended. Sign in again.');
  me = null;
});

async function logout() {
  try {
    await api.post('/api/logout', {});
  } catch {
    // Signing out locally is what matters; the server forgets the session on its own.
  }
  me = null;
  setCsrf(null);
  history.replaceState(null, '', '#/chat');
  renderLogin('Signed out.');
}

// --- Shell and routing ---------------------------------------------------------------

function renderShell() {
  const links = new Map();
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    h('ul', null, PAGES.filter((p) => !p.admin || me.role === 'admin').map((p) => {
      const a = h('a', { href: `#/${p.route}`, dataset: { route: p.route } },
        h('span', { class: 'nav-label' }, p.label),
        h('kbd', { class: 'nav-key', title: `g then ${p.key}` }, `g ${p.key}`));
      links.set(p.route, a);
      return h('li', null, a);
    })));
  const signOut = h('button', { type: 'button', class: 'small', id: 'logout' }, 'Sign out');
  signOut.addEventListener('click', logout);
  const help = h('button', { type: 'button', class: 'small', title: 'Keyboard shortcuts (?)' }, '?');
  help.addEventListener('click', toggleHelp);
  const banner = h('div', { class: 'banner', 'aria-live': 'assertive' });
  const main = h('main', { class: 'content', id: 'main', tabindex: '-1' });
  replace(app,
    h('a', { href: '#main', class: 'skip-link' }, 'Skip to content'),
    h('div', { class: 'shell' },
      h('header', { class: 'topbar' },
        h('a', { href: '#/chat', class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: '24', height: '24' }), h('span', null, 'Vigil')),
        h('div', { class: 'whoami' },
          h('span', { class: 'user-name' }, me.user),
          badge(me.role, 'role'),
          help,
          signOut)),
      nav,
      h('div', { class: 'main-column' }, banner, main)));
  shell = { main, banner, links };
  route();
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { page: parts[0] || 'chat', id: parts.slice(1).join('/') || null, query: new URLSearchParams(search) };
}

function route() {
  if (!shell) return;
  if (current) current.controller.abort();
  const { page, id, query } = parseHash();
  let target = PAGES.find((p) => p.route === page && (!p.admin || me.role === 'admin'));
  if (!target) {
    history.replaceState(null, '', '#/chat');
    target = PAGES[0];
  }
  for (const [name, a] of shell.links) {
    if (name === target.route) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  replace(shell.banner);
  const controller = new AbortController();
  current = { controller };
  const ctx = {
    me,
    canAsk: RANK[me.role] >= RANK.analyst,
    isAdmin: me.role === 'admin',
    signal: controller.signal,
    showError,
    navigate: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
  };
  document.title = `${target.label} · Vigil`;
  const root = h('div', { class: `page page-${target.route}` });
  replace(shell.main, root);
  try {
    target.module.render(root, ctx, { id, query });
  } catch (err) {
    showError(err);
  }
}

window.addEventListener('hashchange', route);

// --- Keyboard ------------------------------------------------------------------------

let helpDialog = null;

function toggleHelp() {
  if (helpDialog) {
    helpDialog.close();
    return;
  }
  const rows = [
    ['/', 'Focus the prompt, query or first field of the page'],
    ['Enter', 'Send the prompt (Shift+Enter for a new line)'],
    ['Ctrl+Enter', 'Run the query or promptbook'],
    ['Ctrl+Space', 'Complete in the KQL editor (Tab or Enter accepts)'],
    ...PAGES.filter((p) => !p.admin || (me && me.role === 'admin')).map((p) => [`g ${p.key}`, `Go to ${p.label}`]),
    ['Esc', 'Close lists and this help'],
    ['?', 'Show this help'],
  ];
  const close = h('button', { type: 'button', class: 'primary' }, 'Close');
  helpDialog = h('dialog', { class: 'help-dialog', 'aria-label': 'Keyboard shortcuts' },
    h('h2', null, 'Keyboard shortcuts'),
    h('table', { class: 'shortcut-table' }, h('tbody', null, rows.map(([k, d]) =>
      h('tr', null, h('td', null, h('kbd', null, k)), h('td', null, d))))),
    h('form', { method: 'dialog' }, close));
  helpDialog.addEventListener('close', () => {
    helpDialog.remove();
    helpDialog = null;
  });
  document.body.append(helpDialog);
  helpDialog.showModal();
  close.focus();
}

function typing(target) {
  return target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

let pendingG = 0;
document.addEventListener('keydown', (event) => {
  if (!shell || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target)) {
    if (event.key === 'Escape') event.target.blur();
    return;
  }
  if (event.key === '/') {
    const input = shell.main.querySelector('[data-primary-input]:not([disabled])');
    if (input) {
      event.preventDefault();
      input.focus();
    }
    return;
  }
  if (event.key === '?') {
    event.preventDefault();
    toggleHelp();
    return;
  }
  if (event.key === 'g') {
    pendingG = Date.now();
    return;
  }
  if (pendingG && Date.now() - pendingG < 1200) {
    pendingG = 0;
    const page = PAGES.find((p) => p.key === event.key && (!p.admin || me.role === 'admin'));
    if (page) {
      event.preventDefault();
      location.hash = `#/${page.route}`;
    }
  }
});

// --- Start ---------------------------------------------------------------------------

async function start() {
  try {
    const reply = await api.get('/api/me');
    setCsrf(reply.csrf);
    me = { user: reply.user, role: reply.role };
    renderShell();
  } catch (err) {
    renderLogin(err.status === 401 ? '' : err.message);
  }
}

start();
