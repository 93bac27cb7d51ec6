// The hunting page: write KQL against the lake's tables (with highlighting and
// completion), run it with Ctrl+Enter, read the rows as a table and, when the query
// asks for one or the rows are a series over time, as a chart.

import { api, isAbort } from './api.js';
import { h, replace, plural, pageHeader, empty } from './dom.js';
import { kqlEditor } from './kql.js';
import { resultTable } from './table.js';
import { chartForResult } from './chart.js';

const LAST_QUERY = 'vigil.hunt.query';

const SAMPLES = [
  ['Process launches per day', 'DeviceProcessEvents\n| summarize count() by bin(Timestamp, 1d)\n| render timechart'],
  ['Encoded PowerShell', 'DeviceProcessEvents\n| where FileName =~ "powershell.exe" and ProcessCommandLine has "-enc"\n| project Timestamp, DeviceName, AccountName, ProcessCommandLine\n| sort by Timestamp desc\n| take 50'],
  ['Failed logons by account', 'DeviceLogonEvents\n| where ActionType == "LogonFailed"\n| summarize Failures = count() by AccountName\n| sort by Failures desc\n| take 20\n| render barchart'],
  ['Network connections by port', 'DeviceNetworkEvents\n| summarize Connections = count() by tostring(RemotePort)\n| top 10 by Connections\n| render piechart'],
  ['Alerts by severity', 'AlertInfo\n| summarize Alerts = count() by Severity\n| render columnchart'],
];

function schemaPanel(editor) {
  const filter = h('input', { type: 'search', placeholder: 'Find a table or column', 'aria-label': 'Find a table or column' });
  const list = h('ul', { class: 'schema-list' });
  const panel = h('aside', { class: 'schema card', 'aria-label': 'Tables' },
    h('h2', null, 'Tables'), filter, list);
  let tables = [];

  const insert = (name) => {
    const ta = editor.textarea;
    const start = ta.selectionStart;
    ta.focus();
    ta.setSelectionRange(start, ta.selectionEnd);
    if (!document.execCommand('insertText', false, name)) {
      ta.setRangeText(name, start, ta.selectionEnd, 'end');
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    }
  };

  function draw() {
    const q = filter.value.trim().toLowerCase();
    const shown = tables.filter((t) => !q || t.name.toLowerCase().includes(q)
      || t.columns.some((c) => c.name.toLowerCase().includes(q)));
    replace(list, shown.length ? shown.map((t) => {
      const columns = q && !t.name.toLowerCase().includes(q)
        ? t.columns.filter((c) => c.name.toLowerCase().includes(q))
        : t.columns;
      const add = h('button', { type: 'button', class: 'link-button', title: `Insert ${t.name}` }, 'insert');
      add.addEventListener('click', () => insert(t.name));
      return h('li', null,
        h('details', { open: Boolean(q) && columns.length < 12 },
          h('summary', { title: t.about || '' }, h('span', { class: 'schema-table' }, t.name), ' ', add),
          t.about ? h('p', { class: 'muted small' }, t.about) : null,
          h('ul', { class: 'schema-columns' }, columns.map((c) => {
            const col = h('button', { type: 'button', class: 'link-button schema-column', title: c.description || '' }, c.name);
            col.addEventListener('click', () => insert(c.name));
            return h('li', null, col, h('span', { class: 'muted small' }, ` ${c.type}`));
          }))));
    }) : h('li', null, empty('No table matches.')));
  }
  filter.addEventListener('input', draw);
  return {
    panel,
    setTables(list_) {
      tables = list_;
      draw();
    },
  };
}

export function render(root, ctx) {
  const results = h('section', { class: 'hunt-results', 'aria-live': 'polite' });
  const status = h('span', { class: 'run-status muted', 'aria-live': 'polite' });
  let running = false;

  const editor = kqlEditor({
    value: sessionStorage.getItem(LAST_QUERY) || '',
    onRun: () => run(),
    label: 'KQL query',
  });
  editor.textarea.placeholder = 'DeviceProcessEvents | where Timestamp > ago(1d) | take 10';
  editor.textarea.disabled = !ctx.canAsk;

  const runButton = h('button', { type: 'button', class: 'primary', id: 'run-query', disabled: !ctx.canAsk }, 'Run');
  runButton.addEventListener('click', () => run());
  const samples = h('select', { 'aria-label': 'Sample queries' },
    h('option', { value: '' }, 'Sample queries…'),
    SAMPLES.map(([label], i) => h('option', { value: String(i) }, label)));
  samples.addEventListener('change', () => {
    if (samples.value === '') return;
    editor.setValue(SAMPLES[Number(samples.value)][1]);
    samples.value = '';
    editor.focus();
  });

  const schema = schemaPanel(editor);
  replace(root,
    pageHeader('Hunting', 'KQL over the lake: the Defender XDR and Sentinel tables, as in advanced hunting.'),
    h('div', { class: 'hunt-layout' },
      h('div', { class: 'hunt-main' },
        h('div', { class: 'card editor-card' },
          editor.element,
          h('div', { class: 'editor-bar' },
            runButton,
            samples,
            h('span', { class: 'muted small hint' }, h('kbd', null, 'Ctrl'), '+', h('kbd', null, 'Enter'), ' runs · ',
              h('kbd', null, 'Ctrl'), '+', h('kbd', null, 'Space'), ' completes · ', h('kbd', null, 'Tab'), ' accepts'),
            status),
          ctx.canAsk ? null : h('p', { class: 'muted' }, 'Your role can read incidents and sessions but not run queries.')),
        results),
      schema.panel));

  api.get('/api/tables', { signal: ctx.signal }).then(({ tables }) => {
    const list = (tables || []).map((t) => ({ ...t, columns: t.columns || [] }))
      .sort((a, b) => a.name.localeCompare(b.name));
    editor.setTables(list);
    schema.setTables(list);
  }).catch((err) => {
    if (!isAbort(err)) ctx.showError(err);
  });

  async function run() {
    const query = editor.value().trim();
    if (!query || running || !ctx.canAsk) return;
    sessionStorage.setItem(LAST_QUERY, editor.value());
    running = true;
    runButton.disabled = true;
    status.textContent = 'Running…';
    results.classList.add('stale');
    const started = performance.now();
    try {
      const reply = await api.post('/api/query', { query }, { signal: ctx.signal });
      const ms = Math.round(performance.now() - started);
      showResult(reply, ms);
      status.textContent = '';
    } catch (err) {
      if (isAbort(err)) return;
      status.textContent = '';
      if (err.code === 'bad_query') {
        replace(results, h('div', { class: 'query-error', role: 'alert' },
          h('strong', null, 'The query has a problem'),
          h('pre', null, err.message)));
      } else {
        replace(results);
        ctx.showError(err);
      }
    } finally {
      running = false;
      runButton.disabled = !ctx.canAsk;
      results.classList.remove('stale');
    }
  }

  function showResult(reply, ms) {
    const rows = reply.rows || [];
    const evidence = reply.evidence || [];
    const read = [...new Set(evidence.flatMap((e) => e.tables || []))];
    const sources = evidence.reduce((n, e) => n + (e.source_count || 0), 0);
    let chart = null;
    try {
      chart = chartForResult(reply);
    } catch (err) {
      // A chart that cannot be drawn must not hide the rows.
      chart = h('p', { class: 'muted' }, `The chart could not be drawn: ${err.message}`);
    }
    replace(results,
      h('p', { class: 'result-meta' },
        h('strong', { class: 'row-count' }, plural(rows.length, 'row')),
        typeof reply.millis === 'number' ? ` in ${reply.millis} ms (${ms} ms with the round trip)` : ` in ${ms} ms`,
        read.length ? ` · read ${read.join(', ')}` : '',
        sources ? ` · ${plural(sources, 'source record')}` : '',
        reply.render && reply.render.kind ? ` · render ${reply.render.kind}` : ''),
      chart ? h('div', { class: 'card chart-card' }, chart) : null,
      resultTable(reply, { title: '', className: 'query-table', empty: 'The query returned no rows.' }),
      evidence.some((e) => (e.sources || []).length) ? h('details', { class: 'card evidence-details' },
        h('summary', null, 'Where the rows came from'),
        evidence.map((e) => h('p', { class: 'small' },
          `${plural(e.rows || 0, 'row')} from ${(e.tables || []).join(', ') || 'the query'}: `,
          (e.sources || []).map((s, i) => [i ? ', ' : '', h('code', null, s)]),
          e.source_count > (e.sources || []).length ? ` and ${e.source_count - e.sources.length} more` : ''))) : null);
  }

  if (ctx.canAsk) editor.focus();
}
