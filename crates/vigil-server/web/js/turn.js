// How one turn of a session is shown: the prompt, the answer built from each skill's
// output (lead sentence, sections, facts, evidence tables), follow-up chips, warnings,
// the process log, and the pin and feedback actions. Chat and promptbook runs share it.

import { api, seg } from './api.js';
import { h, replace, plural, shortTime, text, busyButton } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { resultTable } from './table.js';

const MODEL_NOTE = '_The text above was written by a language model and checked against the evidence below._';

/**
 * A turn as the page shows it, from any of the shapes the API uses: the `done` event and
 * JSON reply of /api/ask ({turn, skill_calls}), and stored turns ({seq, calls}).
 */
export function normalizeTurn(raw, session, prompt) {
  return {
    session: raw.session || session || null,
    seq: raw.seq ?? raw.turn ?? null,
    prompt: raw.prompt ?? prompt ?? '',
    answer: raw.answer || '',
    calls: raw.calls || raw.skill_calls || [],
    warnings: raw.warnings || [],
    pending: raw.pending || [],
    prose: raw.prose || null,
    followUps: raw.follow_ups || null,
    at: raw.at || null,
  };
}

// The model's prose: given, or read back from the answer, where it comes first and is
// followed by the note that it was checked.
function proseOf(turn) {
  if (turn.prose) return turn.prose;
  const at = turn.answer.indexOf(MODEL_NOTE);
  return at > 0 ? turn.answer.slice(0, at).trim() : null;
}

function followUpsOf(turn) {
  if (turn.followUps) return turn.followUps;
  const out = [];
  for (const call of turn.calls) {
    for (const f of (call.output && call.output.follow_ups) || []) if (!out.includes(f)) out.push(f);
  }
  return out;
}

function totalMillis(turn) {
  return turn.calls.reduce((sum, c) => sum + (c.millis || 0), 0);
}

function inputsList(inputs) {
  const entries = Object.entries(inputs || {});
  if (!entries.length) return h('span', { class: 'muted' }, 'no inputs');
  return h('span', { class: 'inputs' }, entries.map(([k, v]) =>
    h('span', { class: 'input-pair' }, h('span', { class: 'input-name' }, k), '=', h('code', null, text(v)))));
}

function evidenceLine(evidence) {
  const from = evidence.tables && evidence.tables.length ? ` from ${evidence.tables.join(', ')}` : '';
  const sources = evidence.source_count ? ` · ${plural(evidence.source_count, 'source record')}` : '';
  return `${plural(evidence.rows || 0, 'row')}${from}${sources}`;
}

function evidenceBlock(evidence) {
  const sources = evidence.sources || [];
  const more = (evidence.source_count || 0) - sources.length;
  return h('div', { class: 'evidence' },
    h('div', { class: 'evidence-head' }, evidenceLine(evidence)),
    h('pre', { class: 'kql' }, h('code', null, evidence.query || '')),
    sources.length ? h('div', { class: 'sources' }, 'Source records: ',
      sources.map((s, i) => [i ? ', ' : '', h('code', null, s)]),
      more > 0 ? ` and ${more} more` : '') : null);
}

/** The process log: each step's skill, why it was chosen, its inputs, time and evidence. */
export function processLog(turn) {
  const ms = totalMillis(turn);
  const failed = turn.calls.filter((c) => c.error).length;
  const summary = `Process log · ${plural(turn.calls.length, 'skill call')} · ${ms} ms${failed ? ` · ${failed} failed` : ''}`;
  const steps = turn.calls.map((call, i) => {
    const step = call.step || {};
    const evidence = (call.output && call.output.evidence) || [];
    return h('li', { class: ['log-step', call.error ? 'failed' : 'ok'] },
      h('div', { class: 'log-head' },
        h('span', { class: 'step-no' }, String(i + 1)),
        h('code', { class: 'skill-name' }, step.skill || '?'),
        h('span', { class: 'step-outcome' }, call.error ? 'failed' : 'ran'),
        h('span', { class: 'step-time' }, `${call.millis ?? 0} ms`)),
      step.prompt ? h('div', { class: 'log-row' }, h('span', { class: 'log-label' }, 'Step'), step.prompt) : null,
      h('div', { class: 'log-row' }, h('span', { class: 'log-label' }, 'Why'), step.reason || '—'),
      h('div', { class: 'log-row' }, h('span', { class: 'log-label' }, 'Inputs'), inputsList(step.inputs)),
      call.error ? h('div', { class: 'log-row error-text' }, h('span', { class: 'log-label' }, 'Error'), call.error) : null,
      evidence.length ? h('div', { class: 'log-row' }, h('span', { class: 'log-label' }, 'Evidence'),
        h('div', { class: 'evidence-list' }, evidence.map(evidenceBlock))) : null);
  });
  for (const p of turn.pending) {
    steps.push(h('li', { class: 'log-step pending' },
      h('div', { class: 'log-head' }, h('code', { class: 'skill-name' }, p.skill), h('span', { class: 'step-outcome' }, 'not run: needs confirmation')),
      h('div', { class: 'log-row' }, h('span', { class: 'log-label' }, 'Inputs'), inputsList(p.inputs))));
  }
  return h('details', { class: 'process-log' },
    h('summary', null, summary),
    steps.length ? h('ol', { class: 'log-steps' }, steps) : h('p', { class: 'muted' }, 'No skill ran for this prompt.'));
}

function facts(list) {
  if (!list || !list.length) return null;
  return h('dl', { class: 'facts' }, list.map((f) =>
    h('div', { class: 'fact' }, h('dt', null, f.label), h('dd', null, f.value))));
}

function warningBox(message) {
  return h('div', { class: 'warning', role: 'note' }, h('strong', null, 'Warning: '), message);
}

/** One skill's output: lead answer, sections, facts, tables, evidence summary, warnings. */
export function outputView(output, heading) {
  const evidence = output.evidence || [];
  return h('section', { class: 'call-output' },
    heading ? h('h3', { class: 'call-heading' }, heading) : null,
    h('div', { class: 'lead' }, renderMarkdown(output.answer || '')),
    (output.sections || []).map((s) => h('div', { class: 'answer-section' },
      h('h4', null, s.title), renderMarkdown(s.body))),
    facts(output.facts),
    (output.tables || []).map((t) => resultTable(t, { className: 'evidence-table' })),
    evidence.length ? h('p', { class: 'evidence-summary' }, 'Evidence: ',
      evidence.map((e, i) => [i ? '; ' : '', evidenceLine(e)])) : null,
    (output.warnings || []).map(warningBox));
}

// A step a model asked for that changes things outside Vigil: run only on confirmation.
function pendingView(step, ctx) {
  const result = h('div', { class: 'pending-result' });
  const args = Object.entries(step.inputs || {}).map(([k, v]) => `${k}=${v}`).join(' ');
  return h('div', { class: 'pending' },
    h('p', null, 'Not run: ', h('code', null, step.skill), ' changes things outside Vigil. ',
      args ? ['Inputs: ', h('code', null, args), '. '] : null),
    ctx.canAsk ? busyButton(`Confirm and run ${step.skill}`, async () => {
      try {
        const reply = await api.post(`/api/skills/${seg(step.skill)}`, { inputs: step.inputs || {}, confirm: true });
        replace(result, outputView(reply.output || {}, `Ran ${step.skill}`));
      } catch (err) {
        ctx.showError(err);
      }
    }, { class: 'danger' }) : null,
    result);
}

function pinControl(turn, ctx, state) {
  const wrap = h('span', { class: 'pin-control' });
  const draw = () => {
    if (state.pinned !== null) {
      const pinned = h('button', { type: 'button', class: 'pin pinned', 'aria-pressed': 'true', title: 'Pinned: click to change the note' },
        '★ Pinned', state.pinned ? h('span', { class: 'pin-note' }, ` — ${state.pinned}`) : null);
      pinned.addEventListener('click', openForm);
      replace(wrap, pinned);
    } else {
      const button = h('button', { type: 'button', class: 'pin', 'aria-pressed': 'false', title: 'Pin this answer to your pinboard' }, '☆ Pin');
      button.addEventListener('click', openForm);
      replace(wrap, button);
    }
  };
  function openForm() {
    const note = h('input', { type: 'text', class: 'pin-note-input', placeholder: 'Note (optional)', 'aria-label': 'Pin note', value: state.pinned || '' });
    const save = h('button', { type: 'submit', class: 'primary small' }, 'Save pin');
    const cancel = h('button', { type: 'button', class: 'small' }, 'Cancel');
    const form = h('form', { class: 'inline-form pin-form' }, note, save, cancel);
    cancel.addEventListener('click', draw);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        await api.post(`/api/sessions/${seg(turn.session)}/turns/${turn.seq}/pin`, { note: note.value.trim() });
        state.pinned = note.value.trim();
        draw();
        if (ctx.onPinned) ctx.onPinned();
      } catch (err) {
        save.disabled = false;
        ctx.showError(err);
      }
    });
    note.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') draw();
    });
    replace(wrap, form);
    note.focus();
  }
  draw();
  return wrap;
}

const RATINGS = [
  { rating: 'looks_right', label: 'Looks right', comment: false },
  { rating: 'needs_improvement', label: 'Needs improvement', comment: true },
  { rating: 'inappropriate', label: 'Inappropriate', comment: true },
];

function feedbackControl(turn, ctx, state) {
  const wrap = h('span', { class: 'feedback-control', role: 'group', 'aria-label': 'Feedback' });
  const status = h('span', { class: 'feedback-status', 'aria-live': 'polite' });
  const send = async (rating, comment) => {
    try {
      await api.post(`/api/sessions/${seg(turn.session)}/turns/${turn.seq}/feedback`, { rating, comment });
      state.rating = rating;
      draw();
      status.textContent = 'Thanks, feedback saved.';
    } catch (err) {
      ctx.showError(err);
    }
  };
  const draw = () => {
    replace(wrap, RATINGS.map((r) => {
      const button = h('button', {
        type: 'button',
        class: ['feedback', `feedback-${r.rating}`, state.rating === r.rating ? 'chosen' : null],
        'aria-pressed': state.rating === r.rating ? 'true' : 'false',
      }, r.label);
      button.addEventListener('click', () => {
        if (!r.comment) {
          send(r.rating, '');
          return;
        }
        const comment = h('input', { type: 'text', class: 'feedback-comment', placeholder: 'What should be better?', 'aria-label': 'Feedback comment' });
        const submit = h('button', { type: 'submit', class: 'primary small' }, 'Send');
        const cancel = h('button', { type: 'button', class: 'small' }, 'Cancel');
        const form = h('form', { class: 'inline-form feedback-form' }, h('span', { class: 'muted' }, `${r.label}:`), comment, submit, cancel);
        cancel.addEventListener('click', draw);
        form.addEventListener('submit', (event) => {
          event.preventDefault();
          submit.disabled = true;
          send(r.rating, comment.value.trim());
        });
        replace(wrap, form);
        comment.focus();
      });
      return button;
    }), status);
  };
  draw();
  return wrap;
}

/**
 * A finished turn. ctx: {canAsk, canPin, showError, onFollowUp(prompt)?, onPinned()?,
 * pinned (note text or null), rating (or null)}.
 */
export function renderTurn(turn, ctx) {
  const prose = proseOf(turn);
  const several = turn.calls.length > 1;
  const body = h('div', { class: 'turn-answer' });
  if (prose) {
    body.append(h('div', { class: 'prose' }, renderMarkdown(prose),
      h('p', { class: 'model-note' }, 'Written by a language model and checked against the evidence below.')));
  }
  for (const step of turn.pending) body.append(pendingView(step, ctx));
  for (const call of turn.calls) {
    const step = call.step || {};
    const heading = several ? step.prompt || step.skill || null : null;
    if (call.output) {
      body.append(outputView(call.output, heading));
    } else if (call.error) {
      body.append(h('section', { class: 'call-output failed' },
        heading ? h('h3', { class: 'call-heading' }, heading) : null,
        h('p', { class: 'error-text' }, `Vigil could not answer this: ${call.error}`)));
    }
  }
  if (!turn.calls.length && !turn.pending.length && !prose) body.append(renderMarkdown(turn.answer));
  for (const w of turn.warnings) body.append(warningBox(w));

  const followUps = followUpsOf(turn);
  const chips = followUps.length && ctx.onFollowUp && ctx.canAsk
    ? h('div', { class: 'follow-ups', 'aria-label': 'Suggested follow-ups' },
      h('span', { class: 'muted' }, 'Follow up:'),
      followUps.map((f) => {
        const chip = h('button', { type: 'button', class: 'chip' }, f);
        chip.addEventListener('click', () => ctx.onFollowUp(f));
        return chip;
      }))
    : followUps.length
      ? h('div', { class: 'follow-ups' }, h('span', { class: 'muted' }, 'Suggested follow-ups:'),
        followUps.map((f) => h('span', { class: 'chip static' }, f)))
      : null;

  const raw = h('details', { class: 'raw-answer' },
    h('summary', null, 'Answer as Markdown'),
    h('pre', { class: 'markdown-source' }, turn.answer));

  const state = { pinned: ctx.pinned ?? null, rating: ctx.rating ?? null };
  const copy = h('button', { type: 'button', class: 'copy', title: 'Copy the answer as Markdown' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(turn.answer);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Copy failed';
    }
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  });
  // Only a session's owner pins its turns; anyone who can read it may rate them.
  const actions = turn.session
    ? h('footer', { class: 'turn-actions' },
      ctx.canPin === false ? null : pinControl(turn, ctx, state),
      feedbackControl(turn, ctx, state), copy)
    : null;

  return h('article', {
    class: 'turn',
    dataset: { state: 'done', seq: turn.seq ?? '', session: turn.session || '' },
  },
  h('div', { class: 'turn-prompt' },
    h('span', { class: 'turn-no', title: turn.at ? shortTime(turn.at) : null }, `#${turn.seq ?? '?'}`),
    h('p', null, turn.prompt)),
  body,
  chips,
  processLog(turn),
  raw,
  actions);
}

/**
 * A turn while its answer streams in. Returns {element, step(data), call(data),
 * chunk(text), fail(message)}.
 */
export function liveTurn(prompt) {
  const steps = h('ol', { class: 'live-steps', 'aria-live': 'polite' });
  const answer = h('div', { class: 'turn-answer streaming' });
  const status = h('p', { class: 'live-status' }, 'Planning…');
  const element = h('article', { class: 'turn live', dataset: { state: 'streaming' } },
    h('div', { class: 'turn-prompt' }, h('span', { class: 'turn-no' }, '…'), h('p', null, prompt)),
    status, steps, answer);
  let written = '';
  const items = new Map();
  return {
    element,
    step(data) {
      status.textContent = 'Running skills…';
      const li = h('li', { class: 'live-step running' },
        h('span', { class: 'spinner', 'aria-hidden': 'true' }),
        h('code', null, data.skill || '?'),
        data.reason ? h('span', { class: 'muted' }, ` — ${data.reason}`) : null,
        h('span', { class: 'step-time' }));
      items.set(data.index, li);
      steps.append(li);
    },
    call(data) {
      const li = items.get(data.index);
      const call = data.call || {};
      if (!li) return;
      li.classList.remove('running');
      li.classList.add(call.error ? 'failed' : 'ok');
      li.querySelector('.step-time').textContent = call.error
        ? ` failed after ${call.millis ?? 0} ms: ${call.error}`
        : ` ${call.millis ?? 0} ms`;
    },
    chunk(piece) {
      status.textContent = 'Writing the answer…';
      written += piece;
      // Drawn at once: the pieces are few and small, and the finished turn may replace
      // this one before another frame is painted.
      replace(answer, renderMarkdown(written));
    },
    fail(message) {
      element.dataset.state = 'failed';
      status.textContent = '';
      status.append(h('span', { class: 'error-text' }, `The answer failed: ${message}`));
    },
  };
}
