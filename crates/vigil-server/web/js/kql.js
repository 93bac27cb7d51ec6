// The KQL editor of the hunting page: a plain textarea with a highlighted copy of its
// text drawn behind it (same font, same padding, scrolled together), and a completion
// list of table names, operators, the columns of the table the query reads and KQL
// functions. Tab or Enter accepts, the arrows move, Escape closes, Ctrl+Space opens.

import { h, replace } from './dom.js';

const OPERATORS = [
  'where', 'project', 'project-away', 'project-keep', 'project-rename', 'project-reorder',
  'extend', 'summarize', 'sort', 'order', 'take', 'limit', 'top', 'count', 'distinct', 'join',
  'union', 'render', 'mv-expand', 'mv-apply', 'parse', 'evaluate', 'make-series', 'lookup',
  'as', 'getschema', 'search', 'sample', 'serialize', 'print', 'range', 'invoke', 'facet',
];
const WORDS = [
  'by', 'on', 'kind', 'with', 'and', 'or', 'not', 'in', 'in~', 'has', 'has_any', 'has_all',
  'has_cs', 'contains', 'contains_cs', 'startswith', 'endswith', 'matches', 'regex',
  'between', 'asc', 'desc', 'nulls', 'first', 'last', 'let', 'datatable', 'externaldata',
  'true', 'false', 'inner', 'innerunique', 'leftouter', 'rightouter', 'fullouter',
  'leftanti', 'rightanti', 'leftsemi', 'rightsemi', 'step', 'from', 'to', 'materialize',
  'dynamic', 'datetime', 'timespan', 'string', 'long', 'int', 'real', 'bool', 'typeof',
];
const FUNCTIONS = [
  'ago', 'now', 'bin', 'floor', 'count', 'countif', 'dcount', 'dcountif', 'sum', 'sumif',
  'avg', 'avgif', 'min', 'max', 'make_set', 'make_list', 'make_bag', 'arg_max', 'arg_min',
  'percentile', 'percentiles', 'stdev', 'any', 'take_any', 'tostring', 'toint', 'tolong',
  'todouble', 'toreal', 'tobool', 'todatetime', 'totimespan', 'tolower', 'toupper', 'strlen',
  'substring', 'strcat', 'strcat_delim', 'split', 'extract', 'extract_all', 'parse_json',
  'parse_url', 'parse_path', 'array_length', 'isempty', 'isnotempty', 'isnull', 'isnotnull',
  'iff', 'iif', 'case', 'coalesce', 'format_datetime', 'format_timespan', 'datetime_diff',
  'datetime_add', 'startofday', 'startofweek', 'endofday', 'dayofweek', 'hourofday',
  'base64_decode_tostring', 'base64_encode_tostring', 'pack', 'pack_array', 'bag_pack',
  'trim', 'trim_start', 'trim_end', 'replace_string', 'replace_regex', 'reverse', 'indexof',
  'countof', 'ipv4_is_private', 'ipv4_is_in_range', 'ipv4_compare', 'url_decode',
  'hash_sha256', 'round', 'abs', 'log10', 'sqrt', 'exp', 'pow', 'row_number', 'prev', 'next',
];
const CHARTS = ['timechart', 'barchart', 'columnchart', 'piechart', 'linechart', 'areachart', 'scatterchart', 'table'];

const KEYWORDS = new Set([...OPERATORS, ...WORDS, ...CHARTS].map((w) => w.toLowerCase()));
// Keywords that a parenthesis may follow without making them a function call.
const NOT_CALLS = new Set(['in', 'in~', 'has_any', 'has_all', 'datatable', 'externaldata', 'join',
  'union', 'lookup', 'with', 'on', 'by', 'and', 'or', 'kind', 'where', 'extend', 'project',
  'summarize', 'print', 'range', 'step', 'from', 'to', 'let', 'as', 'evaluate', 'invoke']);
const HYPHEN_HEADS = new Set(['project', 'mv', 'make', 'top', 'parse']);

// --- Tokens ----------------------------------------------------------------------------

const TOKEN = [
  ['comment', /\/\/[^\n]*/y],
  ['string', /@"[^"]*(?:""[^"]*)*"?|@'[^']*(?:''[^']*)*'?/y],
  ['string', /"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/y],
  ['number', /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|ticks?|ms|d|h|m|s)?(?![A-Za-z_])/y],
  ['word', /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*/y],
  ['pipe', /\|/y],
  ['operator', /==|!=|=~|!~|<=|>=|\.\.|[=<>+\-*/%!~]/y],
  ['space', /\s+/y],
  ['punct', /[()[\]{},;:.]/y],
];

/** Splits KQL into tokens: {kind, text, start}. Unknown characters are 'other'. */
export function tokenize(source) {
  const out = [];
  let at = 0;
  while (at < source.length) {
    let matched = null;
    for (const [kind, re] of TOKEN) {
      re.lastIndex = at;
      const m = re.exec(source);
      if (m && m[0].length) {
        matched = { kind, text: m[0], start: at };
        break;
      }
    }
    if (!matched) matched = { kind: 'other', text: source[at], start: at };
    // A hyphenated word is one token only when it is an operator (project-away);
    // otherwise "a-b" is a subtraction.
    if (matched.kind === 'word' && matched.text.includes('-') && !KEYWORDS.has(matched.text.toLowerCase())) {
      matched.text = matched.text.slice(0, matched.text.indexOf('-'));
    }
    out.push(matched);
    at += matched.text.length;
  }
  return out;
}

// The class a word is drawn with.
function wordClass(tokens, i, tables, columns) {
  const word = tokens[i].text;
  let j = i + 1;
  while (j < tokens.length && tokens[j].kind === 'space') j++;
  const lower = word.toLowerCase();
  if (tokens[j] && tokens[j].text === '(' && !NOT_CALLS.has(lower)) return 'tok-function';
  if (KEYWORDS.has(lower)) return 'tok-keyword';
  if (tables.has(word)) return 'tok-table';
  if (columns.has(word)) return 'tok-column';
  return 'tok-name';
}

/** The highlighted copy of `source`, as spans. */
export function highlight(source, tables = new Set(), columns = new Set()) {
  const tokens = tokenize(source);
  return tokens.map((t, i) => {
    switch (t.kind) {
      case 'word': return h('span', { class: wordClass(tokens, i, tables, columns) }, t.text);
      case 'comment': return h('span', { class: 'tok-comment' }, t.text);
      case 'string': return h('span', { class: 'tok-string' }, t.text);
      case 'number': return h('span', { class: 'tok-number' }, t.text);
      case 'pipe': return h('span', { class: 'tok-pipe' }, t.text);
      case 'operator': return h('span', { class: 'tok-operator' }, t.text);
      default: return t.text;
    }
  });
}

// --- Completion --------------------------------------------------------------------

// The table a query reads: the first word of its last statement, when it names a table.
export function sourceTable(source, tableByName) {
  const statements = source.split(';');
  for (let s = statements.length - 1; s >= 0; s--) {
    const tokens = tokenize(statements[s]).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
    if (!tokens.length) continue;
    if (tokens[0].kind === 'word' && tableByName.has(tokens[0].text)) return tableByName.get(tokens[0].text);
    const any = tokens.find((t) => t.kind === 'word' && tableByName.has(t.text));
    if (any) return tableByName.get(any.text);
  }
  return null;
}

// True when a string token has its closing quote.
function isClosed(literal) {
  const body = literal.startsWith('@') ? literal.slice(1) : literal;
  return body.length >= 2 && body.endsWith(body[0]);
}

// Names a query makes with `Name = …` (extend, summarize, project).
function madeNames(source) {
  const out = new Set();
  const re = /(?:^|[\s,(])([A-Za-z_][A-Za-z0-9_]*)\s*=(?![=~])/g;
  let m;
  while ((m = re.exec(source))) if (!KEYWORDS.has(m[1].toLowerCase())) out.add(m[1]);
  return out;
}

/**
 * What to suggest at `caret`: {start, word, items: [{label, kind, detail, insert}]}, or
 * null when nothing fits (inside a string or comment, or after a number).
 */
export function suggest(source, caret, tables, { force = false } = {}) {
  const before = source.slice(0, caret);
  const tokens = tokenize(before);
  const last = tokens[tokens.length - 1];
  if (last && last.kind === 'comment') return null;
  if (last && last.kind === 'string' && !isClosed(last.text)) return null;
  if (last && last.kind === 'number') return null;
  const m = /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]*)?$/.exec(before);
  let word = m ? m[0] : '';
  if (word.includes('-') && !HYPHEN_HEADS.has(word.slice(0, word.indexOf('-')).toLowerCase())) {
    word = word.slice(word.indexOf('-') + 1);
  }
  if (!word && !force) return null;
  const start = caret - word.length;

  // The tokens of the current statement and pipe segment, before the word.
  const context = tokenize(before.slice(0, start)).filter((t) => t.kind !== 'space' && t.kind !== 'comment');
  let statementStart = 0;
  context.forEach((t, i) => { if (t.text === ';') statementStart = i + 1; });
  const statement = context.slice(statementStart);
  let segmentStart = -1;
  statement.forEach((t, i) => { if (t.kind === 'pipe') segmentStart = i; });
  const segment = segmentStart < 0 ? null : statement.slice(segmentStart + 1);

  const tableByName = new Map(tables.map((t) => [t.name, t]));
  const tableItems = () => tables.map((t) => ({ label: t.name, kind: 'table', detail: t.about || '', insert: t.name }));
  const keywordItems = (list) => list.map((k) => ({ label: k, kind: 'keyword', detail: '', insert: k }));
  const functionItems = () => FUNCTIONS.map((f) => ({ label: `${f}()`, kind: 'function', detail: '', insert: f, call: true }));

  let items;
  if (segment === null) {
    // Before the first pipe: a table name starts the query (or `let`, `print`, …).
    if (statement.length === 0) items = [...tableItems(), ...keywordItems(['let', 'print', 'range', 'union', 'datatable', 'search'])];
    else if (statement[0].text === 'let') items = [...tableItems(), ...functionItems()];
    else items = [];
  } else if (segment.length === 0) {
    items = keywordItems(OPERATORS);
  } else {
    const op = segment[0].text.toLowerCase();
    const source_ = sourceTable(source, tableByName);
    const columns = (source_ ? source_.columns : []).map((c) => ({
      label: c.name, kind: 'column', detail: c.type || '', insert: c.name,
    }));
    const made = [...madeNames(before)].filter((n) => !columns.some((c) => c.label === n))
      .map((n) => ({ label: n, kind: 'column', detail: 'computed', insert: n }));
    const previous = segment[segment.length - 1];
    if (op === 'render') {
      items = segment.length === 1 ? keywordItems(CHARTS) : keywordItems(['with', 'title', 'xcolumn', 'ycolumns', 'kind']);
    } else if (['join', 'union', 'lookup'].includes(op) && (previous.text === '(' || previous.kind === 'word' || previous.text === '=')) {
      items = [...tableItems(), ...keywordItems(['kind', 'on', 'inner', 'leftouter', 'leftanti', 'innerunique']), ...columns];
    } else if (['sort', 'order'].includes(op) && segment.length === 1) {
      items = keywordItems(['by']);
    } else {
      items = [...columns, ...made, ...functionItems(), ...keywordItems(WORDS)];
    }
  }

  const lower = word.toLowerCase();
  const prefixed = [];
  const containing = [];
  for (const item of items) {
    const l = item.label.toLowerCase();
    if (l.startsWith(lower)) prefixed.push(item);
    else if (lower.length >= 2 && l.includes(lower)) containing.push(item);
  }
  const rank = (a, b) => Number(!a.label.startsWith(word)) - Number(!b.label.startsWith(word))
    || a.label.length - b.label.length || a.label.localeCompare(b.label);
  const ranked = [...prefixed.sort(rank), ...containing.sort(rank)];
  const seen = new Set();
  const unique = ranked.filter((i) => (seen.has(i.label) ? false : seen.add(i.label)));
  // Nothing to offer when the one match is what was typed already.
  if (!unique.length || (unique.length === 1 && unique[0].insert === word)) return null;
  return { start, word, items: unique.slice(0, 12) };
}

// --- The editor ------------------------------------------------------------------------

let editorCount = 0;

/**
 * A KQL editor. options: {value, onRun(text), label}. Returns {element, textarea,
 * value(), setValue(text), setTables(tables), focus()}.
 */
export function kqlEditor(options = {}) {
  const id = `kql-${++editorCount}`;
  let tables = [];
  let tableNames = new Set();
  let columnNames = new Set();
  let open = null; // {start, word, items, active}
  let accepting = false;

  const code = h('code');
  const backdrop = h('pre', { class: 'kql-backdrop', 'aria-hidden': 'true' }, code);
  const textarea = h('textarea', {
    class: 'kql-input',
    id: `${id}-input`,
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    wrap: 'off',
    rows: '6',
    'aria-label': options.label || 'KQL query',
    'aria-autocomplete': 'list',
    'aria-controls': `${id}-list`,
    'aria-expanded': 'false',
    'data-primary-input': true,
  });
  const list = h('ul', { class: 'completion', id: `${id}-list`, role: 'listbox', hidden: true });
  const measure = h('span', { class: 'kql-measure', 'aria-hidden': 'true' }, 'MMMMMMMMMM');
  const element = h('div', { class: 'kql-editor' }, backdrop, textarea, list, measure);

  function draw() {
    const source = textarea.value;
    // The trailing space keeps a final empty line as tall as the textarea's.
    replace(code, highlight(source, tableNames, columnNames), '\n ');
    const lines = source.split('\n').length;
    textarea.rows = Math.max(6, Math.min(24, lines + 1));
    syncScroll();
  }

  function syncScroll() {
    backdrop.scrollTop = textarea.scrollTop;
    backdrop.scrollLeft = textarea.scrollLeft;
  }

  function updateColumns() {
    const byName = new Map(tables.map((t) => [t.name, t]));
    const table = sourceTable(textarea.value, byName);
    columnNames = new Set(table ? table.columns.map((c) => c.name) : []);
  }

  function close() {
    open = null;
    list.hidden = true;
    textarea.setAttribute('aria-expanded', 'false');
    textarea.removeAttribute('aria-activedescendant');
  }

  function position() {
    const style = getComputedStyle(textarea);
    const charWidth = measure.getBoundingClientRect().width / 10;
    const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
    const before = textarea.value.slice(0, open.start);
    const line = before.split('\n').length - 1;
    const column = before.length - before.lastIndexOf('\n') - 1;
    const left = parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth) + column * charWidth - textarea.scrollLeft;
    const top = parseFloat(style.paddingTop) + parseFloat(style.borderTopWidth) + (line + 1) * lineHeight - textarea.scrollTop;
    list.style.left = `${Math.max(0, Math.min(left, textarea.clientWidth - 260))}px`;
    list.style.top = `${top + 2}px`;
  }

  function drawList() {
    replace(list, open.items.map((item, i) => {
      const li = h('li', {
        id: `${id}-opt-${i}`,
        role: 'option',
        class: ['completion-item', i === open.active ? 'active' : null],
        'aria-selected': i === open.active ? 'true' : 'false',
        dataset: { kind: item.kind },
      },
      h('span', { class: 'completion-kind' }, item.kind.slice(0, 1)),
      h('span', { class: 'completion-label' }, item.label),
      item.detail ? h('span', { class: 'completion-detail' }, item.detail) : null);
      // mousedown, not click: the textarea keeps its focus and caret.
      li.addEventListener('mousedown', (event) => {
        event.preventDefault();
        open.active = i;
        accept();
      });
      return li;
    }));
    textarea.setAttribute('aria-activedescendant', `${id}-opt-${open.active}`);
    const active = list.children[open.active];
    if (active) active.scrollIntoView({ block: 'nearest' });
  }

  function refresh(force = false) {
    if (textarea.selectionStart !== textarea.selectionEnd) {
      close();
      return;
    }
    const found = suggest(textarea.value, textarea.selectionStart, tables, { force });
    if (!found) {
      close();
      return;
    }
    open = { ...found, active: 0 };
    list.hidden = false;
    textarea.setAttribute('aria-expanded', 'true');
    drawList();
    position();
  }

  function insertText(start, end, insert) {
    textarea.focus();
    textarea.setSelectionRange(start, end);
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    const done = document.execCommand && document.execCommand('insertText', false, insert);
    if (!done) {
      textarea.setRangeText(insert, start, end, 'end');
      textarea.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }

  function accept() {
    if (!open) return;
    const item = open.items[open.active];
    const start = open.start;
    const end = textarea.selectionStart;
    const nextChar = textarea.value[end];
    close();
    // The insertion fires an input event; the list stays closed for it.
    accepting = true;
    try {
      if (item.call && nextChar !== '(') {
        insertText(start, end, `${item.insert}()`);
        const caret = start + item.insert.length + 1;
        textarea.setSelectionRange(caret, caret);
      } else {
        insertText(start, end, item.insert);
      }
    } finally {
      accepting = false;
    }
  }

  textarea.addEventListener('input', () => {
    updateColumns();
    draw();
    if (!accepting) refresh();
  });
  textarea.addEventListener('scroll', () => {
    syncScroll();
    if (open) position();
  });
  textarea.addEventListener('blur', close);
  textarea.addEventListener('click', close);
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      close();
      if (options.onRun) options.onRun(textarea.value);
      return;
    }
    if (event.key === ' ' && event.ctrlKey) {
      event.preventDefault();
      refresh(true);
      return;
    }
    if (!open) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const n = open.items.length;
      open.active = (open.active + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
      drawList();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      accept();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'Home' || event.key === 'End') {
      close();
    }
  });

  textarea.value = options.value || '';
  draw();

  return {
    element,
    textarea,
    value: () => textarea.value,
    setValue(value) {
      textarea.value = value;
      updateColumns();
      draw();
      close();
    },
    setTables(list_) {
      tables = list_ || [];
      tableNames = new Set(tables.map((t) => t.name));
      updateColumns();
      draw();
    },
    focus: () => textarea.focus(),
  };
}
