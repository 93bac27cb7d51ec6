// End-to-end test of Vigil's web app in headless Chromium, against a running
// `vigil serve`: sign in, ask and follow up in chat, pin and rate an answer, run the
// incident investigation promptbook, triage an incident, hunt with KQL, and visit the
// plugins and admin pages. Every step checks what the page shows, takes a screenshot,
// and fails on any console or page error. The first failed check ends the run with a
// non-zero exit code and says what was expected.
//
// Environment: VIGIL_URL, VIGIL_USER, VIGIL_PASSWORD (an admin account), VIGIL_SHOTS
// (folder for screenshots), VIGIL_INCIDENT (optional: the incident to investigate; by
// default the first High incident of the queue), VIGIL_CHROMIUM (default
// /usr/bin/chromium), VIGIL_TIMEOUT_MS (longest wait for one answer, default 180000),
// VIGIL_UI_TIMEOUT_MS (longest wait for anything else, default 60000),
// VIGIL_TOTAL_TIMEOUT_MS (the whole run, default 20 minutes).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

class CheckFailed extends Error {}

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`e2e: set ${name} (see README.md in this folder)`);
    process.exit(2);
  }
  return value;
}

const BASE = need('VIGIL_URL').replace(/\/+$/, '');
const USER = need('VIGIL_USER');
const PASSWORD = need('VIGIL_PASSWORD');
const SHOTS = path.resolve(process.env.VIGIL_SHOTS || 'screenshots');
const ANSWER_TIMEOUT = Number(process.env.VIGIL_TIMEOUT_MS || 180000);
const UI_TIMEOUT = Number(process.env.VIGIL_UI_TIMEOUT_MS || 60000);

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// --- Browser, with console and page errors collected ---------------------------------

const CHROMIUM = process.env.VIGIL_CHROMIUM || '/usr/bin/chromium';
let browser;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
} catch (err) {
  console.error(`FAIL Chromium did not start from ${CHROMIUM}: ${err.message.split('\n')[0]}`);
  console.error('     install it (apt-get install chromium) or point VIGIL_CHROMIUM at one');
  process.exit(1);
}
// A server that stops answering must not hold the run forever.
const TOTAL_TIMEOUT = Number(process.env.VIGIL_TOTAL_TIMEOUT_MS || 20 * 60 * 1000);
setTimeout(() => {
  console.error(`FAIL the run took longer than ${TOTAL_TIMEOUT / 1000} s`);
  process.exit(1);
}, TOTAL_TIMEOUT).unref();
const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
context.setDefaultTimeout(UI_TIMEOUT);
const page = await context.newPage();

const problems = [];
let signedIn = false;
// A request this test makes fail on purpose (a wrong password): Chromium logs its status.
let expectedFailure = null;
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const where = msg.location();
  // Before signing in the app asks /api/me and is told 401: that is how it learns to
  // show the sign-in form, and Chromium logs the status as an error.
  if (!signedIn && /\/api\/me$/.test(where.url || '') && /401/.test(msg.text())) return;
  if (expectedFailure && expectedFailure.url.test(where.url || '') && expectedFailure.text.test(msg.text())) return;
  problems.push(`console error: ${msg.text()}${where.url ? ` (${where.url}:${where.lineNumber})` : ''}`);
});
page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));

// Counts what the page showed while an answer streamed, before it was replaced by the
// finished turn.
await context.addInitScript(() => {
  window.__vigilSeen = { liveSteps: 0, streamedText: 0 };
  new MutationObserver((records) => {
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (!(node instanceof Element)) continue;
        if (node.matches('.live-step')) window.__vigilSeen.liveSteps += 1;
        if (node.matches('.md') && node.parentElement && node.parentElement.matches('.turn-answer.streaming')) {
          window.__vigilSeen.streamedText += 1;
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
});

mkdirSync(SHOTS, { recursive: true });
let shotNumber = 0;
async function screenshot(name) {
  shotNumber += 1;
  const file = path.join(SHOTS, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
}

function noProblems(where) {
  check(problems.length === 0, `${where}: ${problems.join('\n')}`);
}

async function step(name, body) {
  const started = Date.now();
  try {
    await body();
    noProblems(name);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    console.error(`FAIL ${name}: ${err.message}`);
    console.error(`     at ${page.url()}`);
    const banner = await page.locator('.banner-item').allInnerTexts().catch(() => []);
    if (banner.length) console.error(`     the page's error banner says: ${banner.join(' | ')}`);
    if (problems.length) console.error(`     console: ${problems.join('\n              ')}`);
    try {
      await screenshot(`failed-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
    } catch {
      // The screenshot is a help, not the failure.
    }
    await browser.close();
    process.exit(1);
  }
}

async function go(hash) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await page.waitForFunction((h) => window.location.hash === h, hash);
}

async function text(locator) {
  return (await locator.innerText()).trim();
}

// Waits until the `index`th turn in `scope` is done; a failed turn fails the test.
async function waitTurn(scope, index) {
  const turn = page.locator(`${scope} .turn`).nth(index);
  await turn.waitFor({ state: 'attached', timeout: ANSWER_TIMEOUT });
  await page.waitForFunction(({ scope: s, index: i }) => {
    const el = document.querySelectorAll(`${s} .turn`)[i];
    return el && (el.dataset.state === 'done' || el.dataset.state === 'failed');
  }, { scope, index }, { timeout: ANSWER_TIMEOUT });
  const state = await turn.getAttribute('data-state');
  check(state === 'done', `turn ${index + 1} failed: ${await text(turn)}`);
  return turn;
}

// The cell texts of one column of a data table, by header.
async function columnTexts(table, header) {
  const headers = await table.locator('thead th').allInnerTexts();
  const index = headers.findIndex((h) => h.replace(/[▲▼]/g, '').trim() === header);
  check(index >= 0, `the table has a ${header} column (its columns: ${headers.join(', ')})`);
  return table.locator(`tbody tr:not(.empty-row) td:nth-child(${index + 1})`).allInnerTexts();
}

// --- The run ---------------------------------------------------------------------------

let incident = process.env.VIGIL_INCIDENT || '';
let sessionId = '';
const pinNote = `e2e pin ${Date.now()}`;

await step('sign in', async () => {
  const response = await page.goto(`${BASE}/`);
  check(response && response.ok(), `GET / answers 200 (got ${response && response.status()})`);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'"), `GET / sends the strict Content-Security-Policy (got "${csp}")`);
  await page.locator('#login-form').waitFor();
  check((await page.title()).includes('Vigil'), 'the sign-in page is titled Vigil');
  await screenshot('login');

  await page.fill('#login-user', USER);
  await page.fill('#login-password', 'not the password');
  expectedFailure = { url: /\/api\/login$/, text: /401/ };
  await page.click('#login-form button[type=submit]');
  await page.locator('.login-error').filter({ hasText: /wrong/i }).waitFor();
  expectedFailure = null;

  await page.fill('#login-password', PASSWORD);
  signedIn = true;
  await page.click('#login-form button[type=submit]');
  await page.locator('.whoami').waitFor();
  const who = await text(page.locator('.whoami'));
  check(who.includes(USER), `the top bar names the user ${USER} (it shows "${who}")`);
  check(/admin/i.test(who), `the top bar shows the admin role (it shows "${who}")`);
  const nav = await page.locator('nav.nav a').allInnerTexts();
  for (const label of ['Chat', 'Sessions', 'Promptbooks', 'Incidents', 'Hunting', 'Plugins', 'Admin']) {
    check(nav.some((n) => n.includes(label)), `the navigation has ${label} (it has ${nav.join(', ')})`);
  }
  if (!incident) {
    incident = await page.evaluate(async () => {
      const reply = await (await fetch('/api/incidents?severity=High')).json();
      const t = reply.incidents;
      const i = t.columns.indexOf('IncidentNumber');
      return t.rows.length ? String(t.rows[0][i]) : '';
    });
    check(incident, 'the incident queue has a High incident to investigate');
  }
  console.log(`     investigating incident ${incident}`);
});

await step('answers are rendered as text, never as markup', async () => {
  // The app's own Markdown renderer, fed what a hostile log line could put in an answer.
  const seen = await page.evaluate(async () => {
    const { renderMarkdown } = await import('/assets/js/markdown.js');
    const el = renderMarkdown([
      '## Findings',
      'Ran <img src=x onerror="window.__vigilPwned=1"> with **bold** and `code <b>x</b>`.',
      '[click](javascript:window.__vigilPwned=1) [docs](https://example.org/a) [queue](#/incidents)',
      '',
      '| Device | Command |',
      '|---|---|',
      '| pc-1 | a \\| b |',
      '',
      '- one',
      '- two',
    ].join('\n'));
    document.body.append(el);
    await new Promise((r) => setTimeout(r, 50));
    const result = {
      markup: el.querySelectorAll('img, script, b, [onerror]').length,
      links: [...el.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      strong: el.querySelector('strong') && el.querySelector('strong').textContent,
      code: [...el.querySelectorAll('code')].map((c) => c.textContent),
      cell: el.querySelector('td:nth-child(2)') && el.querySelector('td:nth-child(2)').textContent,
      items: el.querySelectorAll('li').length,
      heading: el.querySelector('h1, h2, h3, h4, h5, h6') && el.querySelector('h1, h2, h3, h4, h5, h6').textContent,
      text: el.textContent,
      pwned: window.__vigilPwned || 0,
    };
    el.remove();
    return result;
  });
  check(seen.markup === 0 && seen.pwned === 0, `no element came from the text (${seen.markup} found)`);
  check(seen.text.includes('<img src=x onerror='), 'the tag is shown as text');
  check(JSON.stringify(seen.links) === JSON.stringify(['https://example.org/a', '#/incidents']), `only http(s) and in-app links are links: ${seen.links.join(', ')}`);
  check(seen.strong === 'bold' && seen.code.includes('code <b>x</b>'), 'bold and code render');
  check(seen.cell === 'a | b', `an escaped pipe stays in its cell: "${seen.cell}"`);
  check(seen.items === 2 && seen.heading === 'Findings', 'lists and headings render');
});

await step('chat: ask and watch the answer stream', async () => {
  await go('#/chat');
  const prompt = page.locator('#prompt');
  await prompt.waitFor();
  const streamed = page.waitForResponse((r) => r.url().endsWith('/api/ask') && r.request().method() === 'POST', { timeout: ANSWER_TIMEOUT });
  await prompt.fill('Show high severity incidents');
  await prompt.press('Enter');
  const response = await streamed;
  check((response.headers()['content-type'] || '').includes('text/event-stream'),
    `/api/ask answered the page as a stream (content type ${response.headers()['content-type']})`);
  const turn = await waitTurn('.turns', 0);
  const seen = await page.evaluate(() => window.__vigilSeen);
  check(seen.liveSteps >= 1, 'the steps were shown while the answer streamed');
  check(seen.streamedText >= 1, 'the answer text was shown while it streamed');

  const answer = await text(turn.locator('.turn-answer'));
  check(/incident/i.test(answer) && /high/i.test(answer), `the answer speaks of high severity incidents: "${answer.slice(0, 200)}"`);
  const table = turn.locator('.evidence-table').first();
  const rows = table.locator('tbody tr:not(.empty-row)');
  check(await rows.count() >= 1, 'the answer has an evidence table with at least one row');
  const numbers = await columnTexts(table, 'IncidentNumber');
  check(numbers.some((n) => n.replace(/[,\s]/g, '') === incident), `the evidence table lists incident ${incident} (it lists ${numbers.join(', ')})`);
  const severities = await columnTexts(table, 'Severity');
  check(severities.every((s) => s === 'High'), `every incident listed is High (got ${[...new Set(severities)].join(', ')})`);

  // Sort by clicking a header, then filter with the table's own box.
  await table.locator('thead th', { hasText: 'IncidentNumber' }).locator('button').click();
  check(await table.locator('thead th', { hasText: 'IncidentNumber' }).getAttribute('aria-sort') === 'ascending', 'a header click sorts the table');
  const sorted = (await columnTexts(table, 'IncidentNumber')).map((n) => Number(n.replace(/[,\s]/g, '')));
  check(sorted.every((n, i) => i === 0 || sorted[i - 1] <= n), `the sorted column is ascending: ${sorted.join(', ')}`);
  await table.locator('.table-filter').fill(incident);
  const filtered = await columnTexts(table, 'IncidentNumber');
  check(filtered.length >= 1 && filtered.length <= sorted.length, 'the filter keeps the matching rows');
  check(/row/.test(await text(table.locator('.table-count'))), 'the table says how many rows it shows');
  await table.locator('.table-filter').fill('');

  check(await turn.locator('.follow-ups .chip').count() >= 1, 'the answer offers follow-up suggestions');
  const log = turn.locator('details.process-log');
  check(!(await log.evaluate((d) => d.open)), 'the process log starts folded');
  await log.locator('summary').click();
  check(await log.evaluate((d) => d.open), 'the process log opens');
  const logText = await text(log);
  check(logText.includes('list_incidents'), `the process log names the skill list_incidents: "${logText.slice(0, 300)}"`);
  check(/\d+ ms/.test(logText), 'the process log gives each call its time');
  const query = await text(log.locator('pre.kql').first());
  check(/Incident/.test(query), `the process log shows the query that ran: "${query.slice(0, 120)}"`);

  const hash = await page.evaluate(() => window.location.hash);
  const m = /^#\/chat\/(.+)$/.exec(hash);
  check(m, `the address names the new session (it is ${hash})`);
  sessionId = decodeURIComponent(m[1]);
});

await step('chat: follow up in the same session', async () => {
  const prompt = page.locator('#prompt');
  await prompt.fill(`Summarize incident ${incident}`);
  await prompt.press('Enter');
  const turn = await waitTurn('.turns', 1);
  const answer = await text(turn.locator('.turn-answer'));
  check(new RegExp(`\\b${escapeRe(incident)}\\b`).test(answer), `the summary mentions incident ${incident}: "${answer.slice(0, 200)}"`);
  const first = Number(await page.locator('.turns .turn').nth(0).getAttribute('data-seq'));
  const second = Number(await turn.getAttribute('data-seq'));
  check(second === first + 1, `the follow-up is the next turn of the session (turns ${first} and ${second})`);
  check(await turn.getAttribute('data-session') === sessionId, 'the follow-up went to the same session');
  const hash = await page.evaluate(() => window.location.hash);
  check(hash === `#/chat/${encodeURIComponent(sessionId)}`, `the address still names session ${sessionId} (it is ${hash})`);
  await screenshot('chat');
});

await step('chat: pin an answer and give feedback', async () => {
  const turn = page.locator('.turns .turn').nth(1);
  await turn.locator('button.pin').click();
  await turn.locator('.pin-note-input').fill(pinNote);
  await turn.locator('.pin-form button[type=submit]').click();
  await turn.locator('button.pin.pinned').waitFor();
  check((await text(turn.locator('button.pin.pinned'))).includes(pinNote), 'the pin button shows the note');

  await turn.locator('button.feedback-needs_improvement').click();
  await turn.locator('.feedback-comment').fill('Name the first device too.');
  await turn.locator('.feedback-form button[type=submit]').click();
  await turn.locator('button.feedback-needs_improvement.chosen').waitFor();
  check(/saved/i.test(await text(turn.locator('.feedback-status'))), 'the feedback is confirmed');

  if (await page.locator('#pinboard').isHidden()) await page.click('#pinboard-toggle');
  const card = page.locator('#pinboard .pin-card', { hasText: pinNote });
  await card.waitFor();
  const cardText = await text(card);
  check(cardText.includes(`Summarize incident ${incident}`), `the pinboard shows the pinned prompt: "${cardText}"`);
  check((await card.locator('a').getAttribute('href')) === `#/chat/${encodeURIComponent(sessionId)}`, 'the pin links to its session');

  // A fresh load of the session shows both turns, the pin and the rating, as stored.
  await page.reload();
  await page.locator('.turns .turn[data-state="done"]').nth(1).waitFor();
  check(await page.locator('.turns .turn').count() === 2, 'the stored session has both turns');
  const stored = page.locator('.turns .turn').nth(1);
  check((await text(stored.locator('button.pin'))).includes('Pinned'), 'the stored turn shows it is pinned');
  check(await stored.locator('button.feedback-needs_improvement.chosen').count() === 1, 'the stored turn shows its feedback');
  await screenshot('chat-pinned');

  // "/" focuses the prompt from anywhere on the page.
  await page.locator('.page-title h1').click();
  await page.keyboard.press('/');
  check(await page.evaluate(() => document.activeElement && document.activeElement.id === 'prompt'), '"/" focuses the prompt');
});

await step('sessions: list, open and share', async () => {
  await page.keyboard.press('Escape');
  await go('#/sessions');
  const row = page.locator(`.sessions-table tr[data-key="${sessionId}"]`);
  await row.waitFor();
  const rowText = await text(row);
  check(rowText.includes(USER), `the session's owner is ${USER}: "${rowText}"`);
  const turns = await columnTexts(page.locator('.sessions-table'), 'Turns');
  check(turns.includes('2'), `a session has 2 turns (turn counts: ${turns.join(', ')})`);
  const share = row.locator('input.share-toggle');
  const before = await share.isChecked();
  const saved = page.waitForResponse((r) => r.url().includes(`/api/sessions/${encodeURIComponent(sessionId)}/share`));
  await share.click();
  check((await saved).ok(), 'sharing is saved');
  await page.reload();
  await page.locator(`.sessions-table tr[data-key="${sessionId}"]`).waitFor();
  check(await page.locator(`.sessions-table tr[data-key="${sessionId}"] input.share-toggle`).isChecked() === !before, 'the share setting survives a reload');
  await screenshot('sessions');
  await row.locator('a.session-link').click();
  await page.locator('.turns .turn[data-state="done"]').first().waitFor();
  check(await page.locator('.turns .turn').count() === 2, 'opening the session from the list shows its turns');
});

await step('promptbooks: run the incident investigation', async () => {
  await go('#/promptbooks');
  const card = page.locator('.book-card', { hasText: 'Incident investigation' });
  await card.waitFor();
  check(await page.locator('.book-card').count() >= 2, 'the library lists the built-in promptbooks');
  await screenshot('promptbooks');
  await card.locator('a').click();
  const input = page.locator('.run-form input[name="Incident"]');
  await input.waitFor();
  check(await input.evaluate((el) => el.required), 'the Incident input is marked required');
  const steps = await page.locator('.pb-steps li').count();
  check(steps >= 2, `the promptbook shows its steps (${steps})`);
  await input.fill(incident);
  await page.click('.run-form button[type=submit]');
  for (let i = 0; i < steps; i++) await waitTurn('.promptbook-run', i);
  const turns = page.locator('.promptbook-run .turn');
  check(await turns.count() === steps, `every step answered (${await turns.count()} of ${steps})`);
  for (let i = 0; i < steps; i++) {
    const t = turns.nth(i);
    const prompt = await text(t.locator('.turn-prompt'));
    const answer = await text(t.locator('.turn-answer'));
    check(answer.length > 0, `step ${i + 1} ("${prompt}") shows an answer`);
  }
  const first = await text(turns.nth(0).locator('.turn-answer'));
  check(new RegExp(`\\b${escapeRe(incident)}\\b`).test(first), `the first step summarises incident ${incident}: "${first.slice(0, 200)}"`);
  check(new RegExp(`\\b${escapeRe(incident)}\\b`).test(await text(turns.nth(0).locator('.turn-prompt'))), 'the input was put into the first prompt');
  const link = page.locator('.run-header a.session-link');
  check(/^#\/chat\/.+/.test(await link.getAttribute('href') || ''), 'the run links to its session');
  await screenshot('promptbook-run');
});

await step('incidents: filter the queue and open the incident', async () => {
  await go('#/incidents');
  await page.locator('.incidents-table tbody tr:not(.empty-row)').first().waitFor();
  await screenshot('incidents');
  await page.selectOption('select[name="severity"]', 'High');
  await page.waitForFunction(() => window.location.hash.includes('severity=High'));
  await page.locator('.incidents-table tbody tr:not(.empty-row)').first().waitFor();
  const table = page.locator('.incidents-table');
  const severities = await columnTexts(table, 'Severity');
  check(severities.length >= 1 && severities.every((s) => s === 'High'), `the filtered queue holds High incidents only (got ${[...new Set(severities)].join(', ')})`);
  const row = table.locator(`tr[data-key="${incident}"]`);
  check(await row.count() === 1, `incident ${incident} is in the High queue`);
  await row.locator('a.incident-link').click();

  await page.locator('.incident-header').waitFor();
  const heading = await text(page.locator('.incident-header h1'));
  check(heading.includes(`#${incident}`), `the page is incident ${incident}: "${heading}"`);
  const marks = page.locator('svg.timeline .mark');
  const markCount = await marks.count();
  check(markCount >= 1, 'the alert timeline has marks');
  const tips = await page.locator('svg.timeline .mark title').allTextContents();
  check(tips.length === markCount && tips.every((t) => t.trim().length > 0), 'every timeline mark has a tooltip');
  const alertRows = await page.locator('.alerts-table tbody tr:not(.empty-row)').count();
  check(alertRows >= 1, 'the alerts table has rows');
  check(markCount === alertRows, `one timeline mark per alert (${markCount} marks, ${alertRows} alerts)`);
  const involved = await page.locator('.entity-device .entity-chip, .entity-user .entity-chip, .entity-ip .entity-chip').count();
  check(involved >= 1, 'the incident names the devices, users or addresses involved');
  const attack = await page.locator('.entity-tactic .entity-chip, .entity-technique .entity-chip').count();
  check(attack >= 1, 'the incident lists its tactics or techniques');
  const report = await page.locator('.incident-header a', { hasText: 'report' }).getAttribute('href');
  const reportOk = await page.evaluate(async (href) => {
    const r = await fetch(href);
    return r.ok && (r.headers.get('content-type') || '').includes('text/html');
  }, report);
  check(reportOk, `the report link (${report}) opens an HTML report`);
  await screenshot('incident');
});

await step('incidents: set the status to Active', async () => {
  const status = page.locator('#incident-status');
  if ((await status.inputValue()) === 'Active') {
    await status.selectOption('New');
    await page.click('.status-form button[type=submit]');
    await page.locator('.incident-status-badge', { hasText: 'New' }).waitFor({ timeout: ANSWER_TIMEOUT });
  }
  await page.locator('#incident-status').selectOption('Active');
  await page.locator('.status-form textarea[name="comment"]').fill('Investigating from the browser test.');
  await page.click('.status-form button[type=submit]');
  await page.locator('.incident-status-badge', { hasText: 'Active' }).waitFor({ timeout: ANSWER_TIMEOUT });
  await go('#/incidents');
  await page.reload();
  const row = page.locator(`.incidents-table tr[data-key="${incident}"]`);
  await row.waitFor();
  const statuses = await columnTexts(page.locator('.incidents-table'), 'Status');
  const numbers = await columnTexts(page.locator('.incidents-table'), 'IncidentNumber');
  const mine = statuses[numbers.findIndex((n) => n.replace(/[#,\s]/g, '') === incident)];
  check(mine === 'Active', `after a reload the queue shows incident ${incident} as Active (it shows ${mine})`);
});

await step('hunting: complete, highlight, run and chart a query', async () => {
  await go('#/hunt');
  const editor = page.locator('.kql-input');
  await editor.waitFor();
  await page.locator('.schema-list li').first().waitFor();
  await editor.fill('');
  await editor.focus();
  await page.keyboard.type('DeviceProc', { delay: 25 });
  const list = page.locator('.completion');
  await list.locator('.completion-item', { hasText: 'DeviceProcessEvents' }).waitFor();
  const labels = await list.locator('.completion-label').allInnerTexts();
  check(labels.every((l) => l.startsWith('DeviceProc')), `only tables starting DeviceProc are offered (${labels.join(', ')})`);
  // The arrows move to the wanted suggestion; Tab accepts it.
  for (let i = 0; i < labels.indexOf('DeviceProcessEvents'); i++) await page.keyboard.press('ArrowDown');
  check((await text(list.locator('.completion-item.active .completion-label'))) === 'DeviceProcessEvents', 'DeviceProcessEvents is the chosen suggestion');
  await page.keyboard.press('Tab');
  check(await editor.inputValue() === 'DeviceProcessEvents', `Tab accepts the table name (the editor holds "${await editor.inputValue()}")`);
  check(await list.isHidden(), 'the suggestions close once one is accepted');

  await page.keyboard.type(' | summarize count() by bin(Timest', { delay: 15 });
  await list.locator('.completion-item', { hasText: 'Timestamp' }).waitFor();
  await page.keyboard.press('Enter');
  await page.keyboard.type(', 1d) | render timechart', { delay: 15 });
  const expected = 'DeviceProcessEvents | summarize count() by bin(Timestamp, 1d) | render timechart';
  check(await editor.inputValue() === expected, `the editor holds the query as typed: "${await editor.inputValue()}"`);

  const backdrop = page.locator('.kql-backdrop');
  check((await backdrop.locator('.tok-table').allInnerTexts()).includes('DeviceProcessEvents'), 'the table name is highlighted');
  const keywords = await backdrop.locator('.tok-keyword').allInnerTexts();
  for (const k of ['summarize', 'by', 'render', 'timechart']) check(keywords.includes(k), `"${k}" is highlighted as a keyword (${keywords.join(', ')})`);
  const functions = await backdrop.locator('.tok-function').allInnerTexts();
  check(functions.includes('count') && functions.includes('bin'), `count and bin are highlighted as functions (${functions.join(', ')})`);
  check((await backdrop.locator('.tok-number').allInnerTexts()).includes('1d'), 'the timespan 1d is highlighted');
  check(await backdrop.locator('.tok-pipe').count() === 2, 'both pipes are highlighted');

  await page.keyboard.press('Escape');
  await editor.focus();
  await page.keyboard.press('Control+Enter');
  const table = page.locator('.hunt-results .query-table');
  await table.waitFor({ timeout: ANSWER_TIMEOUT });
  const rows = await table.locator('tbody tr:not(.empty-row)').count();
  check(rows >= 1, 'the query returned rows');
  const headers = (await table.locator('thead th').allInnerTexts()).map((h) => h.trim());
  check(headers.includes('Timestamp') && headers.some((h) => /^count/.test(h)), `the columns are Timestamp and a count (${headers.join(', ')})`);
  const meta = await text(page.locator('.result-meta'));
  check(new RegExp(`\\b${rows}\\b row`).test(meta) && /\d+ ms/.test(meta), `the result says its row count and time: "${meta}"`);
  const chart = page.locator('.hunt-results svg.chart');
  check(await chart.count() === 1, 'the timechart is drawn');
  const points = await chart.locator('.mark').count();
  check(points === rows, `the chart has one mark per row (${points} marks, ${rows} rows)`);
  check(await chart.locator('.axis-x text').count() >= 2, 'the time axis has tick labels');
  check(await chart.locator('path.line').count() >= 1, 'the chart draws a line');
  await screenshot('hunting');
});

await step('plugins: list and validate a manifest', async () => {
  await go('#/plugins');
  await page.locator('.plugin-list').waitFor();
  await page.waitForFunction(() => !document.querySelector('.plugin-list .loading'));
  const listed = await page.locator('.plugin-card').count();
  const emptyNote = await page.locator('.plugin-list .empty').count();
  check(listed > 0 || emptyNote === 1, 'the plugin list loaded (plugins or the empty note)');
  const manifest = [
    'Descriptor:',
    '  Name: BrowserCheck',
    '  DisplayName: Browser check',
    '  Description: A manifest the browser test validates',
    'SkillGroups:',
    '  - Format: KQL',
    '    Skills:',
    '      - Name: ProcessCountOnDevice',
    '        DisplayName: Processes on a device',
    '        Description: Counts process launches on one device',
    '        Inputs:',
    '          - Name: Device',
    '            Description: The device name',
    '            Required: true',
    '        Settings:',
    '          Target: Defender',
    '          Template: |-',
    '            DeviceProcessEvents',
    '            | where DeviceName =~ "{{Device}}"',
    '            | summarize count()',
  ].join('\n');
  await page.locator('.manifest-input').fill(manifest);
  await page.click('#validate-manifest');
  const report = page.locator('.validation .report');
  await report.waitFor();
  const reportText = await text(report);
  check(await report.evaluate((r) => r.classList.contains('report-ok')), `the manifest validates: "${reportText}"`);
  check(reportText.includes('ProcessCountOnDevice'), `the report names the skill: "${reportText}"`);
  check(!(await page.locator('.add-plugin button.primary').isDisabled()), 'a valid manifest can be added');
  await screenshot('plugins');
});

await step('admin: accounts and audit log', async () => {
  await go('#/admin');
  const me = page.locator(`.users-table tr[data-key="${USER}"]`);
  await me.waitFor();
  check(/admin/.test(await text(me)), `the accounts list shows ${USER} as admin`);
  const audit = page.locator('.audit-table');
  await audit.locator('tbody tr').first().waitFor();
  const actions = await columnTexts(audit, 'Action');
  check(actions.length >= 1, 'the audit log has entries');
  check(actions.includes('prompt'), `the audit log records the prompts asked (actions: ${[...new Set(actions)].join(', ')})`);
  await audit.locator('.table-filter').fill('prompt');
  const prompts = await audit.locator('tbody tr:not(.empty-row)').count();
  check(prompts >= 2, `the audit log holds this run's prompts (${prompts})`);
  await screenshot('admin');
});

await step('keyboard and sign out', async () => {
  await page.locator('.page-title h1').click();
  await page.keyboard.press('g');
  await page.keyboard.press('i');
  await page.waitForFunction(() => window.location.hash.startsWith('#/incidents'));
  await page.click('#logout');
  await page.locator('#login-form').waitFor();
  signedIn = false;
  // Signed out, /api/me answers 401 (the console rule above expects that one).
  const me = await page.evaluate(async () => (await fetch('/api/me')).status);
  check(me === 401, `after signing out the server no longer knows the browser (GET /api/me gave ${me})`);
});

await browser.close();
console.log(`ok   all checks passed; ${shotNumber} screenshots in ${SHOTS}`);
