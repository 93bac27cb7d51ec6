// A small Markdown renderer for Vigil's answers. It never produces HTML text: it reads the
// Markdown and builds elements and text nodes, so whatever the lake or a language model
// put in an answer is shown as text. It knows what answers use: headings, paragraphs,
// bold, italics, code spans and fenced code, lists, block quotes, tables, rules and
// links (http, https and relative links only).

import { h } from './dom.js';

const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s*([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^(\s*)[-*+]\s+(.*)$/;
const NUMBERED = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s*>\s?(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

/** True when `href` is safe to follow: http(s) or a link within Vigil. */
export function safeHref(href) {
  const value = href.trim();
  if (/^https?:\/\//i.test(value)) return true;
  // Relative: a path, a fragment or a query, but nothing with a scheme (javascript:, data:).
  return /^[/#?]/.test(value) && !value.startsWith('//');
}

// Inline patterns, tried at each position; the earliest match wins.
const INLINE = [
  { kind: 'escape', re: /\\([\\`*_{}[\]()#+\-.!|>~<])/ },
  { kind: 'code', re: /(`+)([\s\S]*?[^`])\1(?!`)/ },
  { kind: 'link', re: /\[([^\]\n]+)\]\(([^)\s]+)\)/ },
  { kind: 'strong', re: /\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__(?![A-Za-z0-9])/ },
  { kind: 'em', re: /\*(?=[^\s*])([^*]*?[^\s*])\*|(?<![A-Za-z0-9_])_(?=[^\s_])([^_]*?[^\s_])_(?![A-Za-z0-9_])/ },
];

/** Inline Markdown as an array of nodes. */
export function inline(source) {
  const out = [];
  let rest = source;
  while (rest.length) {
    let best = null;
    for (const pattern of INLINE) {
      const m = pattern.re.exec(rest);
      if (m && (best === null || m.index < best.m.index)) best = { kind: pattern.kind, m };
    }
    if (!best) {
      out.push(rest);
      break;
    }
    const { kind, m } = best;
    if (m.index > 0) out.push(rest.slice(0, m.index));
    if (kind === 'escape') {
      out.push(m[1]);
    } else if (kind === 'code') {
      out.push(h('code', null, m[2].replace(/^ (.*) $/, '$1')));
    } else if (kind === 'link') {
      const [, label, href] = m;
      if (safeHref(href)) {
        const external = /^https?:/i.test(href);
        out.push(h('a', {
          href,
          target: external ? '_blank' : null,
          rel: external ? 'noopener noreferrer' : null,
        }, inline(label)));
      } else {
        out.push(...inline(label));
      }
    } else if (kind === 'strong') {
      out.push(h('strong', null, inline(m[1] ?? m[2])));
    } else if (kind === 'em') {
      out.push(h('em', null, inline(m[1] ?? m[2])));
    }
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

// Splits a table row at pipes that are not escaped and not inside a code span.
function tableCells(line) {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (c === '\\' && row[i + 1] === '|') {
      cell += '\\|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

function alignments(ruleLine) {
  return tableCells(ruleLine).map((c) => {
    const left = c.startsWith(':');
    const right = c.endsWith(':');
    if (left && right) return 'center';
    if (right) return 'right';
    return null;
  });
}

function renderTable(header, rule, body) {
  const align = alignments(rule);
  const cellClass = (i) => (align[i] ? `align-${align[i]}` : null);
  const head = h('tr', null, tableCells(header).map((c, i) => h('th', { class: cellClass(i) }, inline(c))));
  const rows = body.map((line) => h('tr', null,
    tableCells(line).map((c, i) => h('td', { class: cellClass(i) }, inline(c.replace(/\\\|/g, '|'))))));
  return h('div', { class: 'md-table-wrap' },
    h('table', { class: 'md-table' }, h('thead', null, head), h('tbody', null, rows)));
}

// Renders a list starting at lines[start]; returns [element, next line index].
function renderList(lines, start) {
  const first = lines[start];
  const ordered = !BULLET.test(first) && NUMBERED.test(first);
  const indent = (ordered ? NUMBERED : BULLET).exec(first)[1].length;
  const list = ordered ? h('ol') : h('ul');
  if (ordered) {
    const n = Number(NUMBERED.exec(first)[2]);
    if (n !== 1) list.setAttribute('start', String(n));
  }
  let i = start;
  let item = null;
  let itemLines = [];
  const flush = () => {
    if (item) {
      item.append(...renderBlocks(itemLines, true));
      list.append(item);
    }
  };
  while (i < lines.length) {
    const line = lines[i];
    const m = (ordered ? NUMBERED : BULLET).exec(line);
    if (m && m[1].length === indent) {
      flush();
      item = h('li');
      itemLines = [ordered ? m[3] : m[2]];
      i++;
      continue;
    }
    const indented = /^\s+\S/.test(line) && line.search(/\S/) > indent;
    if (line.trim() === '') {
      // A blank line ends the list unless the next line continues the item.
      const next = lines[i + 1];
      if (next !== undefined && /^\s+\S/.test(next) && next.search(/\S/) > indent) {
        itemLines.push('');
        i++;
        continue;
      }
      break;
    }
    if (indented) {
      itemLines.push(line.slice(Math.min(line.search(/\S/), indent + 4)));
      i++;
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) break;
    // A lazy continuation of the item's paragraph.
    itemLines.push(line);
    i++;
  }
  flush();
  return [list, i];
}

function isBlockStart(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || BULLET.test(line)
    || NUMBERED.test(line) || QUOTE.test(line)
    || (line.includes('|') && next !== undefined && TABLE_RULE.test(next) && next.includes('-'));
}

function renderBlocks(lines, tight = false) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      const code = h('code', { class: fence[2] ? `lang-${fence[2]}` : null }, body.join('\n'));
      out.push(h('pre', { class: 'md-code' }, code));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      // Answer headings sit inside a page that has its own h1 and h2.
      const level = Math.min(6, heading[1].length + 2);
      out.push(h(`h${level}`, { class: 'md-heading' }, inline(heading[2])));
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push(h('hr'));
      i++;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])
        && lines[i + 1].includes('-')) {
      const header = line;
      const rule = lines[i + 1];
      const body = [];
      i += 2;
      while (i < lines.length && lines[i].trim() !== '' && lines[i].includes('|')) body.push(lines[i++]);
      out.push(renderTable(header, rule, body));
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      const [list, next] = renderList(lines, i);
      out.push(list);
      i = next;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      out.push(h('blockquote', null, renderBlocks(quoted)));
      continue;
    }
    const para = [line.trim()];
    i++;
    while (i < lines.length && lines[i].trim() !== '' && !isBlockStart(lines[i], lines[i + 1])) {
      para.push(lines[i++].trim());
    }
    const content = [];
    para.forEach((p, n) => {
      if (n > 0) content.push(p.endsWith('  ') ? h('br') : ' ');
      content.push(...inline(p));
    });
    if (tight && out.length === 0) out.push(...content);
    else out.push(h('p', null, content));
  }
  return out;
}

/** Markdown text as a <div class="md"> of elements. */
export function renderMarkdown(source) {
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').split('\n');
  return h('div', { class: 'md' }, renderBlocks(lines));
}
