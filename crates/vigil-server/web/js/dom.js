// Small helpers for building the page out of elements and text nodes. Nothing here
// parses HTML: every value a user or the lake supplies ends up as a text node or an
// attribute value, so it can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Appends children (strings, numbers, nodes, arrays of them; null and false skipped).
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
}

function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    } else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) {
        el.addEventListener(event, handler);
      }
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === 'value' && 'value' in el) {
      el.value = value;
    } else if (key === 'checked' || key === 'disabled' || key === 'selected') {
      el[key] = Boolean(value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

/** An HTML element: h('button', {class: 'primary', on: {click}}, 'Run'). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** An SVG element, with the same calling convention as h(). */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** Replaces everything inside `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A cell value as display text: null is empty, objects are JSON. */
export function text(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** True when `value` is text in the ISO 8601 date-time shape the API sends. */
export function isIsoTime(value) {
  return typeof value === 'string' && ISO_TIME.test(value);
}

/** An ISO time as "2024-05-01 10:12:33 UTC" (full precision stays in the title). */
export function shortTime(value) {
  if (!isIsoTime(value)) return text(value);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** "3 minutes ago" style text for a recent ISO time, else the short time. */
export function relativeTime(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return text(value);
  const seconds = Math.round((Date.now() - d.getTime()) / 1000);
  if (seconds < 0 || seconds > 7 * 86400) return shortTime(value);
  if (seconds < 60) return 'just now';
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [name, size] of units) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${name}${n === 1 ? '' : 's'} ago`;
  }
  return shortTime(value);
}

/** "1 row" / "3 rows". */
export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** A badge for a severity, status or role; its class carries the colour. */
export function badge(value, kind = 'plain') {
  const label = text(value) || '—';
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return h('span', { class: `badge badge-${kind} badge-${kind}-${slug}` }, label);
}

/** A button that shows a short "working" state while `action` runs. */
export function busyButton(label, action, props = {}) {
  const button = h('button', { type: 'button', ...props }, label);
  button.addEventListener('click', async (event) => {
    if (button.disabled) return;
    button.disabled = true;
    button.classList.add('busy');
    try {
      await action(event);
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
    }
  });
  return button;
}

/** An empty-state message. */
export function empty(message) {
  return h('p', { class: 'empty' }, message);
}

/** A labelled form field wrapping `control`. */
export function field(label, control, hint) {
  return h('label', { class: 'field' },
    h('span', { class: 'field-label' }, label),
    control,
    hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/** A page heading with optional actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h('header', { class: 'page-header' },
    h('div', { class: 'page-title' },
      h('h1', null, title),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}
