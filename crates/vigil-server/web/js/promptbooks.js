// Promptbooks: the library of saved investigations, a form for a book's inputs, and the
// run itself, every step's prompt with its answer, in a session that chat can continue.

import { api, isAbort, seg } from './api.js';
import { h, replace, pageHeader, plural, empty, field } from './dom.js';
import { renderTurn, normalizeTurn } from './turn.js';

function bookCard(book) {
  return h('li', { class: 'card book-card' },
    h('a', { href: `#/promptbooks/${seg(book.name)}`, class: 'card-link' },
      h('h2', null, book.name)),
    h('p', null, book.description || ''),
    h('p', { class: 'muted small' },
      `${plural((book.prompts || []).length, 'step')} · `,
      (book.inputs || []).length
        ? `inputs: ${book.inputs.map((i) => i.name + (i.required ? '' : ' (optional)')).join(', ')}`
        : 'no inputs'));
}

function renderLibrary(root, ctx, books) {
  replace(root,
    pageHeader('Promptbooks', 'Saved investigations: a series of prompts run in one session, each step seeing the earlier results.'),
    books.length
      ? h('ul', { class: 'card-grid' }, books.map(bookCard))
      : empty('No promptbooks are installed.'));
}

// Highlights the <Input> placeholders of a step's prompt.
function stepText(prompt) {
  const parts = [];
  const re = /<([^<>]+)>/g;
  let last = 0;
  let m;
  while ((m = re.exec(prompt))) {
    if (m.index > last) parts.push(prompt.slice(last, m.index));
    parts.push(h('span', { class: 'placeholder' }, `<${m[1]}>`));
    last = m.index + m[0].length;
  }
  parts.push(prompt.slice(last));
  return parts;
}

function renderBook(root, ctx, book) {
  const controls = new Map();
  const fields = (book.inputs || []).map((input) => {
    const control = h('input', {
      type: 'text',
      name: input.name,
      required: input.required !== false,
      'aria-required': input.required !== false ? 'true' : 'false',
      autocomplete: 'off',
      'data-primary-input': controls.size === 0 ? true : null,
    });
    controls.set(input.name, control);
    const label = h('span', null, input.name,
      input.required !== false
        ? h('span', { class: 'required', title: 'required' }, ' *')
        : h('span', { class: 'muted' }, ' (optional)'));
    return field(label, control, input.description);
  });
  const runButton = h('button', { type: 'submit', class: 'primary' }, 'Run promptbook');
  const form = h('form', { class: 'card run-form', 'aria-label': `Inputs of ${book.name}` },
    h('h2', null, 'Inputs'),
    fields.length ? fields : h('p', { class: 'muted' }, 'This promptbook takes no inputs.'),
    h('div', { class: 'form-actions' },
      runButton,
      h('span', { class: 'muted small' }, h('kbd', null, 'Ctrl'), '+', h('kbd', null, 'Enter'), ' runs')));
  if (!ctx.canAsk) {
    runButton.disabled = true;
    form.append(h('p', { class: 'muted' }, 'Your role can read promptbooks but not run them.'));
  }

  const steps = h('ol', { class: 'pb-steps' }, (book.prompts || []).map((p) =>
    h('li', null, h('span', { class: 'step-prompt' }, stepText(p.prompt)),
      p.skill ? h('span', { class: 'muted small' }, ' · runs ', h('code', null, p.skill)) : null)));

  const results = h('section', { class: 'promptbook-run', 'aria-live': 'polite' });

  replace(root,
    pageHeader(book.name, book.description, h('a', { href: '#/promptbooks', class: 'button' }, 'All promptbooks')),
    h('div', { class: 'pb-layout' },
      form,
      h('section', { class: 'card' }, h('h2', null, 'Steps'), steps)),
    results);

  async function run() {
    const inputs = {};
    for (const [name, control] of controls) {
      if (control.value.trim()) inputs[name] = control.value.trim();
    }
    runButton.disabled = true;
    const started = performance.now();
    replace(results, h('p', { class: 'loading' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      ` Running ${plural((book.prompts || []).length, 'step')}…`));
    try {
      const reply = await api.post(`/api/promptbooks/${seg(book.name)}/run`, { inputs }, { signal: ctx.signal });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const turns = (reply.turns || []).map((t) => normalizeTurn(t, reply.session));
      replace(results,
        h('header', { class: 'run-header' },
          h('h2', null, 'Run'),
          h('p', { class: 'muted' }, `${plural(turns.length, 'step')} answered in ${seconds} s · `,
            h('a', { href: `#/chat/${seg(reply.session)}`, class: 'session-link' }, `Open session ${reply.session} in chat`))),
        turns.map((turn, i) => h('div', { class: 'pb-step-result' },
          h('p', { class: 'step-label muted small' }, `Step ${i + 1} of ${turns.length}`),
          renderTurn(turn, { canAsk: false, showError: ctx.showError }))));
    } catch (err) {
      if (isAbort(err)) return;
      replace(results, h('p', { class: 'error-text' }, `The promptbook did not run: ${err.message}`));
      ctx.showError(err);
    } finally {
      runButton.disabled = !ctx.canAsk;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (ctx.canAsk && form.reportValidity()) run();
  });
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const first = controls.values().next().value;
  if (first) first.focus();
}

export function render(root, ctx, params) {
  replace(root, h('p', { class: 'loading' }, 'Loading promptbooks…'));
  api.get('/api/promptbooks', { signal: ctx.signal }).then(({ promptbooks }) => {
    const books = promptbooks || [];
    if (!params.id) {
      renderLibrary(root, ctx, books);
      return;
    }
    const book = books.find((b) => b.name === params.id);
    if (!book) {
      replace(root, pageHeader('Promptbooks'), empty(`There is no promptbook named "${params.id}".`),
        h('a', { href: '#/promptbooks' }, 'All promptbooks'));
      return;
    }
    renderBook(root, ctx, book);
  }).catch((err) => {
    if (isAbort(err)) return;
    replace(root, pageHeader('Promptbooks'));
    ctx.showError(err);
  });
}
