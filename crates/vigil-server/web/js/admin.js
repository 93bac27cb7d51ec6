// Administration: local accounts (add, remove, make an API token, shown once) and the
// audit log of who asked, ran, changed and signed in.

import { api, isAbort, seg } from './api.js';
import { h, replace, pageHeader, field, badge, shortTime, busyButton, text } from './dom.js';
import { dataTable } from './table.js';

const ROLES = ['reader', 'analyst', 'admin'];

function tokenBox(user, token) {
  const value = h('input', { type: 'text', readonly: true, class: 'mono token-value', value: token, 'aria-label': `API token for ${user}` });
  const copy = h('button', { type: 'button', class: 'small' }, 'Copy');
  copy.addEventListener('click', async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(token);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Select and copy';
    }
  });
  return h('div', { class: 'token-box notice', role: 'status' },
    h('p', null, h('strong', null, `API token for ${user}. `), 'It is shown only this once: keep it somewhere safe. Send it as ', h('code', null, 'Authorization: Bearer …'), '.'),
    h('div', { class: 'inline-form' }, value, copy));
}

function usersSection(ctx) {
  const tokenArea = h('div');
  const tableArea = h('div', null, h('p', { class: 'loading' }, 'Loading accounts…'));

  const load = () => api.get('/api/users', { signal: ctx.signal }).then(({ users }) => {
    const list = users || [];
    const columns = [
      { label: 'Name', value: (u) => u.name, render: (u) => h('span', null, u.name, u.name === ctx.me.user ? h('span', { class: 'muted' }, ' (you)') : null) },
      { label: 'Role', value: (u) => u.role, render: (u) => badge(u.role, 'role') },
      list.some((u) => u.created) ? { label: 'Created', value: (u) => u.created, render: (u) => shortTime(u.created) } : null,
      list.some((u) => u.tokens !== undefined) ? { label: 'Tokens', value: (u) => u.tokens, numeric: true } : null,
      {
        label: 'Actions',
        value: () => '',
        render: (u) => h('span', { class: 'row-actions' },
          busyButton('Make token', async () => {
            try {
              const { token } = await api.post(`/api/users/${seg(u.name)}/tokens`, {});
              replace(tokenArea, tokenBox(u.name, token));
            } catch (err) {
              ctx.showError(err);
            }
          }, { class: 'small' }),
          u.name === ctx.me.user ? null : busyButton('Remove', async () => {
            if (!window.confirm(`Remove the account ${u.name}? Its tokens stop working.`)) return;
            try {
              await api.del(`/api/users/${seg(u.name)}`);
              load();
            } catch (err) {
              ctx.showError(err);
            }
          }, { class: 'small danger' })),
      },
    ].filter(Boolean);
    replace(tableArea, dataTable(columns, list, { className: 'users-table', filter: list.length > 8, rowKey: (u) => u.name }));
  }).catch((err) => {
    if (!isAbort(err)) ctx.showError(err);
  });

  const name = h('input', { type: 'text', name: 'username', required: true, autocomplete: 'off' });
  const role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'analyst' }, r)));
  const password = h('input', { type: 'password', name: 'password', required: true, autocomplete: 'new-password', placeholder: 'a long passphrase' });
  const add = h('button', { type: 'submit', class: 'primary' }, 'Add account');
  const form = h('form', { class: 'add-user inline-fields' },
    field('User name', name), field('Role', role), field('Password', password), add);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    add.disabled = true;
    try {
      await api.post('/api/users', { username: name.value.trim(), role: role.value, password: password.value });
      form.reset();
      load();
    } catch (err) {
      ctx.showError(err);
    } finally {
      add.disabled = false;
    }
  });

  load();
  return h('section', { class: 'card admin-users' },
    h('h2', null, 'Accounts'),
    tableArea,
    tokenArea,
    h('h3', null, 'Add an account'),
    form);
}

// An audit detail is usually a JSON object: shown as key=value pairs.
function detailText(detail) {
  if (detail === null || detail === undefined) return '';
  let value = detail;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return value;
    }
  }
  if (typeof value !== 'object' || Array.isArray(value)) return text(value);
  return Object.entries(value).map(([k, v]) => `${k}=${text(v)}`).join(' · ');
}

function auditSection(ctx) {
  const limit = h('select', { 'aria-label': 'Entries to show' },
    ['100', '200', '500', '1000'].map((n) => h('option', { value: n, selected: n === '200' }, `last ${n}`)));
  const area = h('div', null, h('p', { class: 'loading' }, 'Loading the audit log…'));
  const load = () => api.get(`/api/audit?limit=${seg(limit.value)}`, { signal: ctx.signal }).then(({ entries }) => {
    const columns = [
      { label: 'Id', value: (e) => e.id, numeric: true },
      { label: 'At', value: (e) => e.at, render: (e) => h('time', { datetime: e.at }, shortTime(e.at)) },
      { label: 'Actor', value: (e) => e.actor },
      { label: 'Action', value: (e) => e.action, render: (e) => h('code', null, e.action) },
      { label: 'Detail', value: (e) => detailText(e.detail), render: (e) => h('span', { class: 'audit-detail' }, detailText(e.detail)) },
    ];
    replace(area, dataTable(columns, entries || [], { className: 'audit-table', empty: 'The audit log is empty.' }));
  }).catch((err) => {
    if (!isAbort(err)) ctx.showError(err);
  });
  limit.addEventListener('change', load);
  load();
  return h('section', { class: 'card admin-audit' },
    h('header', { class: 'section-head' }, h('h2', null, 'Audit log'), limit),
    area);
}

export function render(root, ctx) {
  if (!ctx.isAdmin) {
    replace(root, pageHeader('Admin'), h('p', { class: 'muted' }, 'Only admins can manage accounts and read the audit log.'));
    return;
  }
  replace(root,
    pageHeader('Admin', 'Accounts, API tokens and the audit log.'),
    usersSection(ctx),
    auditSection(ctx));
}
