// The chat page: ask in plain language, watch the skills run and the answer stream in,
// follow up in the same session, and keep the answers that matter on the pinboard.

import { api, askStream, isAbort, seg } from './api.js';
import { h, replace, relativeTime, empty } from './dom.js';
import { renderTurn, liveTurn, normalizeTurn } from './turn.js';

const PINBOARD_KEY = 'vigil.pinboard.open';

function pinboardItem(pin) {
  const excerpt = String(pin.answer || '')
    .split('\n')
    .map((l) => l.replace(/[#>*_`|]/g, '').trim())
    .find((l) => l.length > 0) || '';
  return h('li', { class: 'pin-card', dataset: { session: pin.session, turn: pin.turn } },
    h('a', { href: `#/chat/${seg(pin.session)}`, class: 'pin-prompt' }, pin.prompt || `Turn ${pin.turn}`),
    pin.note ? h('p', { class: 'pin-note' }, pin.note) : null,
    excerpt ? h('p', { class: 'pin-excerpt' }, excerpt.length > 180 ? `${excerpt.slice(0, 179)}…` : excerpt) : null,
    h('p', { class: 'pin-meta muted' }, `Turn ${pin.turn} · ${relativeTime(pin.at)}`));
}

export function render(root, ctx, params) {
  let sessionId = params.id || null;
  let busy = false;
  // Only the owner of a session asks in it and pins its turns.
  let mine = true;
  const pinsOf = new Map();
  const ratingOf = new Map();

  const title = h('h1', null, sessionId ? 'Session' : 'New chat');
  const subtitle = h('p', { class: 'subtitle' }, sessionId ? `Session ${sessionId}` : 'Ask about your security data in plain language.');
  const newChat = h('a', { href: '#/chat', class: 'button' }, 'New chat');
  const pinToggle = h('button', { type: 'button', id: 'pinboard-toggle', 'aria-controls': 'pinboard' }, 'Pinboard');
  const turns = h('div', { class: 'turns', 'aria-live': 'polite' });
  const starters = h('div', { class: 'starters' });

  const prompt = h('textarea', {
    id: 'prompt',
    rows: '2',
    placeholder: ctx.canAsk ? 'Ask Vigil… e.g. "Show high severity incidents"' : 'Readers can read sessions but not ask.',
    'aria-label': 'Prompt',
    disabled: !ctx.canAsk,
    'data-primary-input': true,
  });
  const sendButton = h('button', { type: 'submit', class: 'primary', disabled: !ctx.canAsk }, 'Send');
  const composer = h('form', { class: 'composer' },
    prompt,
    h('div', { class: 'composer-bar' },
      h('span', { class: 'muted hint' }, h('kbd', null, 'Enter'), ' sends · ', h('kbd', null, 'Shift'), '+', h('kbd', null, 'Enter'), ' new line · ', h('kbd', null, '/'), ' focuses this box'),
      sendButton));

  const pinList = h('ul', { class: 'pin-list' });
  const pinboard = h('aside', { class: 'pinboard', id: 'pinboard', 'aria-label': 'Pinboard' },
    h('h2', null, 'Pinboard'),
    h('p', { class: 'muted small' }, 'Answers you pinned, in every session.'),
    pinList);

  const setPinboard = (open) => {
    pinboard.hidden = !open;
    pinToggle.setAttribute('aria-expanded', String(open));
    pinToggle.classList.toggle('active', open);
    localStorage.setItem(PINBOARD_KEY, open ? '1' : '0');
  };
  setPinboard(localStorage.getItem(PINBOARD_KEY) !== '0');
  pinToggle.addEventListener('click', () => {
    setPinboard(pinboard.hidden);
    if (!pinboard.hidden) loadPins();
  });

  replace(root, h('div', { class: 'chat-page' },
    h('div', { class: 'chat-main' },
      h('header', { class: 'page-header' },
        h('div', { class: 'page-title' }, title, subtitle),
        h('div', { class: 'page-actions' }, newChat, pinToggle)),
      turns,
      starters,
      composer),
    pinboard));

  async function loadPins() {
    try {
      const { pins } = await api.get('/api/pins', { signal: ctx.signal });
      const list = [...(pins || [])].sort((a, b) => String(b.at).localeCompare(String(a.at)));
      replace(pinList, list.length ? list.map(pinboardItem) : h('li', null, empty('Nothing pinned yet. Use ☆ Pin under an answer.')));
    } catch (err) {
      if (!isAbort(err)) ctx.showError(err);
    }
  }

  const turnContext = (turn) => ({
    canAsk: ctx.canAsk && mine,
    canPin: mine,
    showError: ctx.showError,
    onFollowUp: (text) => send(text),
    onPinned: loadPins,
    pinned: pinsOf.has(turn.seq) ? pinsOf.get(turn.seq) : null,
    rating: ratingOf.get(turn.seq) ?? null,
  });

  function setHeader(info) {
    title.textContent = info.title || 'Session';
    const shared = info.shared ? ' · shared' : '';
    const owner = info.owner && info.owner !== ctx.me.user ? ` · owned by ${info.owner}` : '';
    subtitle.textContent = `Session ${info.id}${owner}${shared}`;
  }

  async function showStarters() {
    if (!ctx.canAsk) return;
    try {
      const { skills } = await api.get('/api/skills', { signal: ctx.signal });
      const examples = [];
      for (const s of skills || []) {
        for (const e of s.examples || []) {
          if (examples.length < 8 && !e.includes('<') && !examples.includes(e)) examples.push(e);
        }
      }
      if (!examples.length || turns.childElementCount) return;
      replace(starters, h('p', { class: 'muted' }, 'Try:'), examples.map((e) => {
        const chip = h('button', { type: 'button', class: 'chip' }, e);
        chip.addEventListener('click', () => send(e));
        return chip;
      }));
    } catch (err) {
      if (!isAbort(err)) ctx.showError(err);
    }
  }

  async function loadSession(id) {
    try {
      const record = await api.get(`/api/sessions/${seg(id)}`, { signal: ctx.signal });
      for (const p of record.pins || []) pinsOf.set(p.turn, p.note || '');
      for (const f of record.feedback || []) ratingOf.set(f.turn, f.rating);
      const info = record.info || { id };
      mine = !info.owner || info.owner === ctx.me.user;
      setHeader(info);
      if (!mine) {
        prompt.disabled = true;
        sendButton.disabled = true;
        prompt.placeholder = `This session is ${info.owner}'s: start a new chat to ask.`;
      }
      replace(turns, (record.turns || []).map((t) => {
        const turn = normalizeTurn(t, id);
        return renderTurn(turn, turnContext(turn));
      }));
      if (!(record.turns || []).length) turns.append(empty('This session has no turns yet.'));
      const last = turns.lastElementChild;
      if (last) last.scrollIntoView({ block: 'start' });
    } catch (err) {
      if (!isAbort(err)) ctx.showError(err);
    }
  }

  async function send(text) {
    const question = text.trim();
    if (!question || busy || !ctx.canAsk || !mine) return;
    busy = true;
    sendButton.disabled = true;
    prompt.value = '';
    autosize();
    replace(starters);
    const live = liveTurn(question);
    turns.querySelectorAll(':scope > .empty').forEach((e) => e.remove());
    turns.append(live.element);
    live.element.scrollIntoView({ block: 'start', behavior: 'smooth' });
    try {
      const reply = await askStream(
        sessionId ? { prompt: question, session: sessionId } : { prompt: question },
        {
          session: (d) => {
            if (d.session && d.session !== sessionId) {
              sessionId = d.session;
              history.replaceState(null, '', `#/chat/${seg(sessionId)}`);
              subtitle.textContent = `Session ${sessionId}`;
            }
          },
          step: (d) => live.step(d),
          call: (d) => live.call(d),
          answer: (d) => live.chunk(d.text || ''),
        },
        { signal: ctx.signal },
      );
      const turn = normalizeTurn(reply, sessionId, question);
      if (!turn.session) turn.session = sessionId;
      if (turn.session && turn.session !== sessionId) {
        sessionId = turn.session;
        history.replaceState(null, '', `#/chat/${seg(sessionId)}`);
      }
      const done = renderTurn(turn, turnContext(turn));
      live.element.replaceWith(done);
      if (title.textContent === 'New chat') {
        title.textContent = question.length > 80 ? `${question.slice(0, 79)}…` : question;
        subtitle.textContent = `Session ${sessionId}`;
      }
    } catch (err) {
      if (isAbort(err)) return;
      live.fail(err.message);
      ctx.showError(err);
    } finally {
      busy = false;
      sendButton.disabled = !ctx.canAsk || !mine;
      if (document.activeElement === document.body || !document.activeElement) prompt.focus();
    }
  }

  function autosize() {
    prompt.style.height = 'auto';
    prompt.style.height = `${Math.min(prompt.scrollHeight + 2, 240)}px`;
  }
  prompt.addEventListener('input', autosize);
  prompt.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(prompt.value);
    }
  });
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    send(prompt.value);
  });

  if (params.query && params.query.get('prompt')) {
    prompt.value = params.query.get('prompt');
  }
  if (sessionId) loadSession(sessionId);
  else showStarters();
  if (!pinboard.hidden) loadPins();
  if (ctx.canAsk) prompt.focus();
}
