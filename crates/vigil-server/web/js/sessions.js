// The sessions page: your sessions and those others shared, newest first; open one to
// read or continue it, share your own with the team.

import { api, isAbort, seg } from './api.js';
import { h, replace, relativeTime, pageHeader, shortTime } from './dom.js';
import { dataTable } from './table.js';

function shareToggle(session, ctx) {
  const box = h('input', {
    type: 'checkbox',
    class: 'share-toggle',
    checked: Boolean(session.shared),
    'aria-label': `Share session ${session.title || session.id}`,
  });
  box.addEventListener('change', async () => {
    box.disabled = true;
    try {
      await api.post(`/api/sessions/${seg(session.id)}/share`, { shared: box.checked });
      session.shared = box.checked;
    } catch (err) {
      box.checked = !box.checked;
      ctx.showError(err);
    } finally {
      box.disabled = false;
    }
  });
  return h('label', { class: 'switch' }, box, h('span', null, 'Shared'));
}

export function render(root, ctx) {
  const body = h('div', { class: 'page-body' }, h('p', { class: 'loading' }, 'Loading sessions…'));
  replace(root, pageHeader('Sessions', 'Your sessions and the ones your team shared.',
    h('a', { href: '#/chat', class: 'button primary' }, 'New chat')), body);

  api.get('/api/sessions', { signal: ctx.signal }).then(({ sessions }) => {
    const list = [...(sessions || [])].sort((a, b) => String(b.updated).localeCompare(String(a.updated)));
    const columns = [
      {
        label: 'Title',
        value: (s) => s.title || s.id,
        render: (s) => h('a', { href: `#/chat/${seg(s.id)}`, class: 'session-link' }, s.title || '(untitled)'),
      },
      { label: 'Owner', value: (s) => s.owner, render: (s) => (s.owner === ctx.me.user ? h('span', null, s.owner, h('span', { class: 'muted' }, ' (you)')) : s.owner) },
      { label: 'Updated', value: (s) => s.updated, render: (s) => h('time', { datetime: s.updated, title: shortTime(s.updated) }, relativeTime(s.updated)) },
      { label: 'Created', value: (s) => s.created, render: (s) => h('time', { datetime: s.created }, shortTime(s.created)) },
      { label: 'Turns', value: (s) => s.turns, numeric: true },
      {
        label: 'Shared',
        value: (s) => (s.shared ? 'shared' : ''),
        render: (s) => (s.owner === ctx.me.user ? shareToggle(s, ctx) : (s.shared ? 'shared with you' : '')),
      },
      { label: 'Id', value: (s) => s.id, render: (s) => h('code', null, s.id) },
    ];
    replace(body, dataTable(columns, list, {
      className: 'sessions-table',
      empty: 'No sessions yet: ask something on the Chat page.',
      rowKey: (s) => s.id,
    }));
  }).catch((err) => {
    if (isAbort(err)) return;
    replace(body);
    ctx.showError(err);
  });
}
