// The data table used everywhere rows are shown: click a header to sort (again to
// reverse), type in the filter box to keep rows whose text contains what was typed.
// Large results are shown a page at a time.

import { h, replace, text, isIsoTime, shortTime, plural } from './dom.js';

const PAGE = 200;

// Values compare as numbers when both are numbers, else as text with digits compared
// numerically; empty values sort last either way.
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

function compare(a, b) {
  const emptyA = a === null || a === undefined || a === '';
  const emptyB = b === null || b === undefined || b === '';
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(text(a), text(b));
}

// A JSON array written as text (as `tostring(Extra.tactics)` gives) reads better as a list.
function listText(value) {
  if (typeof value !== 'string' || !value.startsWith('[') || !value.endsWith(']')) return null;
  try {
    const list = JSON.parse(value);
    if (Array.isArray(list) && list.every((v) => typeof v !== 'object' || v === null)) {
      return list.map(text).join(', ');
    }
  } catch {
    // Not JSON after all: shown as it is.
  }
  return null;
}

/** How a cell value is shown by default. */
export function formatCell(value) {
  if (value === null || value === undefined) return h('span', { class: 'null' }, '');
  // No thousands separators: ids, ports and process ids are copied as they are.
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toLocaleString('en', { maximumFractionDigits: 6, useGrouping: false });
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (isIsoTime(value)) return h('time', { datetime: value, title: value }, shortTime(value));
  const list = listText(value);
  if (list !== null) return list;
  return text(value);
}

/**
 * A sortable, filterable table.
 *
 * columns: [{ label, value: (row) => any, render?: (row) => Node|string, numeric?, wide? }]
 * options: { title, filter (default true), empty, className, rowKey }
 * Returns the wrapper element; `wrapper.setRows(rows)` replaces the rows later.
 */
export function dataTable(columns, rows, options = {}) {
  const state = { rows, sortBy: -1, descending: false, query: '', shown: PAGE };
  const tbody = h('tbody');
  const count = h('span', { class: 'table-count', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'link-button table-more' }, 'Show more rows');
  const filter = options.filter === false ? null : h('input', {
    type: 'search',
    class: 'table-filter',
    placeholder: 'Filter rows',
    'aria-label': `Filter ${options.title || 'rows'}`,
  });

  const headers = columns.map((col, i) => {
    const button = h('button', { type: 'button', class: 'sort' }, col.label,
      h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    button.addEventListener('click', () => {
      if (state.sortBy === i) state.descending = !state.descending;
      else {
        state.sortBy = i;
        state.descending = false;
      }
      state.shown = PAGE;
      draw();
    });
    return h('th', { scope: 'col', class: col.numeric ? 'num' : null }, button);
  });

  const searchText = (row) => columns.map((c) => text(c.value(row))).join('\u0000').toLowerCase();

  function visibleRows() {
    let out = state.rows;
    const q = state.query.trim().toLowerCase();
    if (q) out = out.filter((row) => searchText(row).includes(q));
    if (state.sortBy >= 0) {
      const col = columns[state.sortBy];
      const sign = state.descending ? -1 : 1;
      out = out
        .map((row, index) => ({ row, index, key: col.value(row) }))
        .sort((a, b) => compare(a.key, b.key) * sign || a.index - b.index)
        .map((x) => x.row);
    }
    return out;
  }

  function draw() {
    headers.forEach((th, i) => {
      const sorted = state.sortBy === i;
      th.setAttribute('aria-sort', sorted ? (state.descending ? 'descending' : 'ascending') : 'none');
      th.querySelector('.sort-mark').textContent = sorted ? (state.descending ? '▼' : '▲') : '';
    });
    const rowsNow = visibleRows();
    const page = rowsNow.slice(0, state.shown);
    replace(tbody, page.map((row) => {
      const tr = h('tr', null, columns.map((col) => {
        const content = col.render ? col.render(row) : formatCell(col.value(row));
        return h('td', { class: [col.numeric ? 'num' : null, col.wide ? 'wide' : null] }, content);
      }));
      if (options.rowKey) tr.dataset.key = String(options.rowKey(row));
      return tr;
    }));
    if (rowsNow.length === 0) {
      tbody.append(h('tr', { class: 'empty-row' },
        h('td', { colspan: String(Math.max(1, columns.length)) },
          state.rows.length ? 'No rows match the filter.' : (options.empty || 'No rows.'))));
    }
    const total = state.rows.length;
    count.textContent = rowsNow.length === total
      ? plural(total, 'row')
      : `${rowsNow.length.toLocaleString('en')} of ${plural(total, 'row')}`;
    more.hidden = rowsNow.length <= state.shown;
    more.textContent = `Show ${Math.min(PAGE, rowsNow.length - state.shown)} more of ${rowsNow.length - state.shown} hidden`;
  }

  if (filter) {
    filter.addEventListener('input', () => {
      state.query = filter.value;
      state.shown = PAGE;
      draw();
    });
  }
  more.addEventListener('click', () => {
    state.shown += PAGE;
    draw();
  });

  const table = h('table', { class: 'data-table' }, h('thead', null, h('tr', null, headers)), tbody);
  const wrapper = h('section', { class: ['table-block', options.className] },
    h('div', { class: 'table-toolbar' },
      options.title ? h('h3', { class: 'table-title' }, options.title) : null,
      count,
      filter),
    h('div', { class: 'table-scroll' }, table),
    more);
  wrapper.setRows = (newRows) => {
    state.rows = newRows;
    state.shown = PAGE;
    draw();
  };
  draw();
  return wrapper;
}

/**
 * A table for a ResultTable-shaped value ({title, columns, rows}) or a query result
 * ({columns, rows, types}). `renderers` maps a column name to (value, row) => Node.
 */
export function resultTable(result, options = {}) {
  const names = result.columns || [];
  const types = result.types || [];
  const renderers = options.renderers || {};
  const columns = names.map((name, i) => {
    const numeric = ['long', 'int', 'real', 'decimal'].includes(types[i])
      || (!types.length && (result.rows || []).some((r) => typeof r[i] === 'number'));
    const render = renderers[name];
    // Long text (titles, command lines) gets room to be read instead of a narrow column.
    const sample = (result.rows || []).slice(0, 50).map((r) => text(r[i]));
    const wide = !numeric && sample.length > 0
      && sample.reduce((sum, t) => sum + t.length, 0) / sample.length > 28;
    return {
      label: name,
      numeric,
      wide,
      value: (row) => row[i],
      render: render ? (row) => render(row[i], row) : null,
    };
  });
  return dataTable(columns, result.rows || [], {
    title: options.title ?? result.title,
    ...options,
  });
}
