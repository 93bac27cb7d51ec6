// Incidents: the queue with severity and status filters, and one incident's page: its
// alerts on a timeline, the devices, users, addresses and techniques involved, the
// alerts and evidence tables, and (for analysts) its status and classification.

import { api, isAbort, seg } from './api.js';
import { h, replace, badge, pageHeader, shortTime, plural, empty, field, text } from './dom.js';
import { resultTable } from './table.js';
import { incidentTimeline } from './chart.js';

const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'];
const STATUSES = ['New', 'Active', 'Closed'];
const CLASSIFICATIONS = ['TruePositive', 'BenignPositive', 'FalsePositive', 'Undetermined'];

function select(name, options, current, { any = null, label } = {}) {
  const el = h('select', { name, 'aria-label': label || name },
    any !== null ? h('option', { value: '' }, any) : null,
    options.map((o) => {
      const [value, shown] = Array.isArray(o) ? o : [o, o];
      return h('option', { value, selected: value === current }, shown);
    }));
  return el;
}

function incidentLink(number) {
  return h('a', { href: `#/incidents/${seg(number)}`, class: 'incident-link' }, `#${text(number)}`);
}

// --- The queue -----------------------------------------------------------------------

function renderQueue(root, ctx, query) {
  const severity = query.get('severity') || '';
  const status = query.get('status') || '';
  const severitySelect = select('severity', SEVERITIES, severity, { any: 'Any severity', label: 'Severity' });
  const statusSelect = select('status', [...STATUSES, ['Open', 'Open (not closed)']], status, { any: 'Any status', label: 'Status' });
  const apply = () => {
    const q = new URLSearchParams();
    if (severitySelect.value) q.set('severity', severitySelect.value);
    if (statusSelect.value) q.set('status', statusSelect.value);
    const suffix = q.toString();
    ctx.navigate(`#/incidents${suffix ? `?${suffix}` : ''}`);
  };
  severitySelect.addEventListener('change', apply);
  statusSelect.addEventListener('change', apply);

  const summary = h('div', { class: 'severity-summary' });
  const body = h('div', { class: 'page-body' }, h('p', { class: 'loading' }, 'Loading incidents…'));
  replace(root,
    pageHeader('Incidents', 'Alerts correlated into incidents, latest activity first.'),
    h('div', { class: 'filters', role: 'group', 'aria-label': 'Filters' },
      field('Severity', severitySelect), field('Status', statusSelect), summary),
    body);

  const q = new URLSearchParams();
  if (severity) q.set('severity', severity);
  if (status) q.set('status', status);
  const path = `/api/incidents${q.toString() ? `?${q}` : ''}`;
  api.get(path, { signal: ctx.signal }).then((reply) => {
    const table = reply.incidents || { columns: [], rows: [] };
    const sevIndex = table.columns.indexOf('Severity');
    if (sevIndex >= 0) {
      const counts = new Map();
      for (const row of table.rows) counts.set(row[sevIndex], (counts.get(row[sevIndex]) || 0) + 1);
      replace(summary, SEVERITIES.filter((s) => counts.has(s)).map((s) =>
        h('span', { class: 'summary-item' }, badge(s, 'severity'), ` ${counts.get(s)}`)));
    }
    replace(body, resultTable(table, {
      title: '',
      className: 'incidents-table',
      empty: 'No incidents match these filters.',
      rowKey: (row) => row[table.columns.indexOf('IncidentNumber')],
      renderers: {
        IncidentNumber: (v) => incidentLink(v),
        Title: (v, row) => h('a', { href: `#/incidents/${seg(row[table.columns.indexOf('IncidentNumber')])}` }, text(v)),
        Severity: (v) => badge(v, 'severity'),
        Status: (v) => badge(v, 'status'),
      },
    }));
  }).catch((err) => {
    if (isAbort(err)) return;
    replace(body);
    ctx.showError(err);
  });
}

// --- One incident --------------------------------------------------------------------

// A list cell may be a JSON array, a JSON array written as text, or comma-separated text.
function listOf(value) {
  if (Array.isArray(value)) return value.map(text).filter(Boolean);
  if (typeof value !== 'string' || !value.trim()) return [];
  const s = value.trim();
  if (s.startsWith('[')) {
    try {
      const parsed = JSON.parse(s);
      if (Array.isArray(parsed)) return parsed.map(text).filter(Boolean);
    } catch {
      // Not JSON: split below.
    }
  }
  return s.split(/\s*[,;]\s*/).filter(Boolean);
}

function timelineOf(incident) {
  const alerts = incident.alerts;
  if (!alerts || !alerts.rows || !alerts.rows.length) return null;
  const col = (name) => alerts.columns.indexOf(name);
  const [iTime, iTitle, iSev, iTactics, iTech, iId] = ['Timestamp', 'Title', 'Severity', 'Tactics', 'AttackTechniques', 'AlertId'].map(col);
  const order = incident.tactics || [];
  const marks = [];
  for (const row of alerts.rows) {
    const time = Date.parse(row[iTime]);
    if (!Number.isFinite(time)) continue;
    const tactics = iTactics >= 0 ? listOf(row[iTactics]) : [];
    const techniques = iTech >= 0 ? listOf(row[iTech]) : [];
    marks.push({
      time,
      title: iTitle >= 0 ? text(row[iTitle]) : 'Alert',
      severity: iSev >= 0 ? text(row[iSev]) : '',
      lane: tactics[0] || 'Alerts',
      detail: [iId >= 0 ? `Alert ${text(row[iId])}` : '', tactics.length ? `Tactics: ${tactics.join(', ')}` : '',
        techniques.length ? `Techniques: ${techniques.join(', ')}` : ''].filter(Boolean).join('\n'),
    });
  }
  if (!marks.length) return null;
  // Lanes in kill-chain order when the incident gives one, else in order of appearance.
  const rank = (lane) => {
    const i = order.indexOf(lane);
    return i < 0 ? order.length : i;
  };
  const firstSeen = new Map();
  for (const m of [...marks].sort((a, b) => a.time - b.time)) if (!firstSeen.has(m.lane)) firstSeen.set(m.lane, firstSeen.size);
  marks.sort((a, b) => rank(a.lane) - rank(b.lane) || firstSeen.get(a.lane) - firstSeen.get(b.lane) || a.time - b.time);
  return incidentTimeline(marks, { title: `Alert timeline · ${plural(marks.length, 'alert')}` });
}

function entityGroup(label, values, kind) {
  return h('div', { class: ['entity-group', `entity-${kind}`] },
    h('h3', null, label, h('span', { class: 'count' }, String(values.length))),
    values.length
      ? h('ul', { class: 'entity-list' }, values.map((v) => h('li', { class: 'entity-chip' }, text(v))))
      : h('p', { class: 'muted small' }, 'None'));
}

function statusForm(incident, ctx, onSaved) {
  const status = select('status', STATUSES, incident.status, { label: 'Status' });
  status.id = 'incident-status';
  const classification = select('classification', CLASSIFICATIONS.map((c) => [c, c.replace(/([a-z])([A-Z])/g, '$1 $2')]),
    incident.classification, { any: 'Not classified', label: 'Classification' });
  classification.id = 'incident-classification';
  const reason = h('input', { type: 'text', name: 'reason', placeholder: 'e.g. confirmed activity' });
  const comment = h('textarea', { name: 'comment', rows: '2', placeholder: 'What you found or did' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const note = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const form = h('form', { class: 'card status-form', 'aria-label': 'Status and classification' },
    h('h2', null, 'Triage'),
    field('Status', status), field('Classification', classification),
    field('Reason', reason), field('Comment', comment),
    h('div', { class: 'form-actions' }, save, note));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {};
    if (status.value !== incident.status) body.status = status.value;
    if (classification.value && classification.value !== incident.classification) body.classification = classification.value;
    if (comment.value.trim()) body.comment = comment.value.trim();
    // A reason explains a change; on its own it changes nothing.
    if (!Object.keys(body).length) {
      note.textContent = 'Nothing changed: pick a status or classification, or write a comment.';
      return;
    }
    if (reason.value.trim()) body.reason = reason.value.trim();
    save.disabled = true;
    try {
      const updated = await api.patch(`/api/incidents/${seg(incident.number)}`, body);
      onSaved(updated, 'Saved.');
    } catch (err) {
      ctx.showError(err);
      save.disabled = false;
    }
  });
  return form;
}

function renderIncident(root, ctx, incident, message) {
  const n = incident.number;
  const timeline = timelineOf(incident);
  const report = h('a', { href: incident.report_html || `/api/incidents/${seg(n)}/report`, class: 'button', target: '_blank', rel: 'noopener' }, 'Open report');
  const ask = ctx.canAsk
    ? h('a', { href: `#/chat?prompt=${encodeURIComponent(`Summarize incident ${n}`)}`, class: 'button' }, 'Ask in chat')
    : null;
  const head = h('header', { class: 'page-header incident-header' },
    h('div', { class: 'page-title' },
      h('h1', null, h('span', { class: 'incident-number' }, `#${n}`), ' ', incident.title || ''),
      h('div', { class: 'incident-badges' },
        badge(incident.severity, 'severity'),
        h('span', { class: 'incident-status-badge' }, badge(incident.status, 'status')),
        incident.classification ? badge(incident.classification, 'class') : h('span', { class: 'muted small' }, 'not classified'),
        h('span', { class: 'muted small' },
          incident.first ? `First ${shortTime(incident.first)}` : '',
          incident.last ? ` · last ${shortTime(incident.last)}` : ''))),
    h('div', { class: 'page-actions' }, h('a', { href: '#/incidents', class: 'button' }, 'Queue'), ask, report));

  const entities = h('section', { class: 'card entities', 'aria-label': 'Entities' },
    h('h2', null, 'Entities'),
    h('div', { class: 'entity-grid' },
      entityGroup('Devices', incident.devices || [], 'device'),
      entityGroup('Users', incident.users || [], 'user'),
      entityGroup('IP addresses', incident.ips || [], 'ip'),
      entityGroup('Tactics', incident.tactics || [], 'tactic'),
      entityGroup('Techniques', incident.techniques || [], 'technique')));

  const side = ctx.canAsk
    ? statusForm(incident, ctx, (updated, note) => renderIncident(root, ctx, updated, note))
    : h('section', { class: 'card' }, h('h2', null, 'Triage'), h('p', { class: 'muted' }, 'Your role can read incidents but not change them.'));

  replace(root,
    head,
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('div', { class: 'incident-layout' },
      h('div', { class: 'incident-main' },
        h('section', { class: 'card timeline-card' }, timeline || empty('No alerts with times to draw.')),
        entities),
      side),
    incident.alerts ? resultTable(incident.alerts, {
      title: `Alerts (${(incident.alerts.rows || []).length})`,
      className: 'alerts-table',
      renderers: { Severity: (v) => badge(v, 'severity') },
    }) : empty('No alerts recorded for this incident.'),
    incident.evidence ? resultTable(incident.evidence, { title: incident.evidence.title || 'Evidence', className: 'incident-evidence' }) : null,
    queriesView(incident.queries));
}

// The queries this page was read with, when the server says.
function queriesView(queries) {
  const list = (queries || []).filter((q) => q && q.query);
  if (!list.length) return null;
  return h('details', { class: 'card evidence-details' },
    h('summary', null, `How this page was read · ${plural(list.length, 'query', 'queries')}`),
    list.map((q) => h('div', { class: 'evidence' },
      h('div', { class: 'evidence-head' }, `${plural(q.rows || 0, 'row')}${(q.tables || []).length ? ` from ${q.tables.join(', ')}` : ''}`),
      h('pre', { class: 'kql' }, h('code', null, q.query)))));
}

function renderDetail(root, ctx, number) {
  replace(root, h('p', { class: 'loading' }, `Loading incident ${number}…`));
  api.get(`/api/incidents/${seg(number)}`, { signal: ctx.signal })
    .then((incident) => renderIncident(root, ctx, incident))
    .catch((err) => {
      if (isAbort(err)) return;
      replace(root, pageHeader(`Incident ${number}`), h('a', { href: '#/incidents' }, 'Back to the queue'));
      ctx.showError(err);
    });
}

export function render(root, ctx, params) {
  if (params.id) renderDetail(root, ctx, params.id);
  else renderQueue(root, ctx, params.query);
}
