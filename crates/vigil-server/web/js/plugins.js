// Plugins: the installed Security Copilot-format manifests and their skills; admins turn
// them on and off, set their settings (values are write-only: never shown back), remove
// them, and add new ones after validating the manifest.

import { api, isAbort, seg } from './api.js';
import { h, replace, pageHeader, empty, field, plural, busyButton, text } from './dom.js';

// The settings a plugin declares, with whether each has a value; older servers give
// only the names of the settings that are set.
function settingsOf(plugin) {
  if (Array.isArray(plugin.declared_settings) && plugin.declared_settings.length) {
    const declared = plugin.declared_settings.map((d) => ({ ...d }));
    for (const name of plugin.settings || []) {
      if (!declared.some((d) => d.name.toLowerCase() === String(name).toLowerCase())) {
        declared.push({ name, description: '', required: false, set: true });
      }
    }
    return declared;
  }
  return (plugin.settings || []).map((name) => ({ name, description: '', required: false, set: null }));
}

function settingForm(plugin, setting, ctx) {
  const { name } = setting;
  const value = h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'new value', 'aria-label': `${plugin.name} setting ${name}` });
  const state = h('span', { class: 'setting-state small' });
  const showState = (set) => {
    if (set === null || set === undefined) return;
    state.textContent = set ? 'set' : (setting.required ? 'not set (required)' : 'not set');
    state.className = `setting-state small ${set ? 'is-set' : 'not-set'}`;
  };
  showState(setting.set);
  const note = h('span', { class: 'muted small', 'aria-live': 'polite' });
  const save = async (v, done) => {
    try {
      await api.patch(`/api/plugins/${seg(plugin.name)}`, { settings: { [name]: v } });
      value.value = '';
      note.textContent = done;
      showState(v !== '');
    } catch (err) {
      ctx.showError(err);
    }
  };
  const set = h('button', { type: 'submit', class: 'small' }, 'Set');
  const form = h('form', { class: 'inline-form setting-form' },
    h('code', { class: 'setting-name', title: setting.description || '' }, name), state, value, set,
    busyButton('Unset', () => save('', 'Unset.'), { class: 'small' }),
    note);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!value.value) {
      note.textContent = 'Type a value first.';
      return;
    }
    save(value.value, 'Saved.');
  });
  return form;
}

function pluginCard(plugin, ctx, reload) {
  const toggle = h('input', { type: 'checkbox', class: 'plugin-enabled', checked: Boolean(plugin.enabled), disabled: !ctx.isAdmin, 'aria-label': `Enable ${plugin.name}` });
  toggle.addEventListener('change', async () => {
    toggle.disabled = true;
    try {
      await api.patch(`/api/plugins/${seg(plugin.name)}`, { enabled: toggle.checked });
      plugin.enabled = toggle.checked;
      card.classList.toggle('disabled', !plugin.enabled);
    } catch (err) {
      toggle.checked = !toggle.checked;
      ctx.showError(err);
    } finally {
      toggle.disabled = !ctx.isAdmin;
    }
  });
  const remove = ctx.isAdmin ? busyButton('Remove', async () => {
    // The browser's own dialog: removing a plugin takes its skills away from everyone.
    if (!window.confirm(`Remove the plugin ${plugin.name} and its ${plural((plugin.skills || []).length, 'skill')}?`)) return;
    try {
      await api.del(`/api/plugins/${seg(plugin.name)}`);
      reload();
    } catch (err) {
      ctx.showError(err);
    }
  }, { class: 'danger small' }) : null;
  const settings = settingsOf(plugin);
  const problems = ((plugin.report && plugin.report.skills) || []).filter((sk) => sk.problem);
  const card = h('li', { class: ['card', 'plugin-card', plugin.enabled ? null : 'disabled'], dataset: { plugin: plugin.name } },
    h('header', { class: 'plugin-head' },
      h('h2', null, plugin.name),
      h('label', { class: 'switch' }, toggle, h('span', null, 'Enabled')),
      remove),
    h('p', { class: 'muted small' }, plural((plugin.skills || []).length, 'skill')),
    h('ul', { class: 'skill-list' }, (plugin.skills || []).map((s) => h('li', null, h('code', null, s)))),
    plugin.report && plugin.report.rejected ? h('p', { class: 'error-text small' }, plugin.report.rejected) : null,
    problems.length ? h('ul', { class: 'report-skills small' }, problems.map((sk) =>
      h('li', { class: 'bad' }, h('code', null, sk.name), h('span', { class: 'error-text' }, ` cannot run: ${sk.problem}`)))) : null,
    settings.length ? h('div', { class: 'settings' },
      h('h3', null, 'Settings'),
      ctx.isAdmin
        ? settings.map((setting) => settingForm(plugin, setting, ctx))
        : h('p', { class: 'muted small' }, settings.map((st) => st.name).join(', '))) : null);
  return card;
}

// The validation report: which plugin, which skills can run, and why the others cannot.
function reportView(reply) {
  const report = reply.report || {};
  const skills = Array.isArray(report.skills) ? report.skills : [];
  const known = new Set(['file', 'plugin', 'skills', 'rejected']);
  const extra = Object.entries(report).filter(([k]) => !known.has(k));
  return h('div', { class: ['report', reply.ok ? 'report-ok' : 'report-bad'], role: 'status' },
    h('p', { class: 'report-verdict' }, reply.ok ? '✓ The manifest can be added.' : '✗ The manifest cannot be added as it is.'),
    report.plugin ? h('p', null, 'Plugin: ', h('strong', null, report.plugin)) : null,
    report.rejected ? h('p', { class: 'error-text' }, report.rejected) : null,
    skills.length ? h('ul', { class: 'report-skills' }, skills.map((s) =>
      h('li', { class: s.problem ? 'bad' : 'good' },
        h('code', null, s.name), s.format ? h('span', { class: 'muted' }, ` (${s.format})`) : null,
        s.problem ? h('span', { class: 'error-text' }, ` — ${s.problem}`) : h('span', null, ' — can run'),
        s.note ? h('span', { class: 'muted' }, ` · ${s.note}`) : null))) : null,
    extra.map(([k, v]) => h('p', { class: 'small' }, h('span', { class: 'muted' }, `${k}: `), text(v))));
}

function addForm(ctx, reload) {
  const manifest = h('textarea', {
    class: 'manifest-input mono',
    rows: '14',
    spellcheck: 'false',
    placeholder: 'Descriptor:\n  Name: MyHunts\n  Description: …\nSkillGroups:\n  - Format: KQL\n    Skills:\n      - Name: …',
    'aria-label': 'Plugin manifest (YAML or JSON)',
  });
  const report = h('div', { class: 'validation' });
  const add = h('button', { type: 'button', class: 'primary', disabled: true }, 'Add plugin');
  let validated = null;
  manifest.addEventListener('input', () => {
    add.disabled = true;
    validated = null;
  });
  const validate = busyButton('Validate', async () => {
    const text_ = manifest.value;
    if (!text_.trim()) {
      replace(report, h('p', { class: 'muted' }, 'Paste a manifest first.'));
      return;
    }
    try {
      const reply = await api.post('/api/plugins/validate', { manifest: text_ });
      replace(report, reportView(reply));
      validated = reply.ok ? text_ : null;
      add.disabled = !reply.ok;
    } catch (err) {
      ctx.showError(err);
    }
  }, { id: 'validate-manifest' });
  add.addEventListener('click', async () => {
    if (validated === null) return;
    add.disabled = true;
    try {
      const reply = await api.post('/api/plugins', { manifest: validated });
      replace(report, h('p', { class: 'notice' }, `Added ${reply.name || 'the plugin'}.`));
      manifest.value = '';
      validated = null;
      reload();
    } catch (err) {
      add.disabled = false;
      ctx.showError(err);
    }
  });
  return h('section', { class: 'card add-plugin' },
    h('h2', null, 'Add a plugin'),
    h('p', { class: 'muted small' }, 'A Security Copilot plugin manifest (YAML or JSON) with KQL, GPT or API skills. Validate it, then add it.'),
    field('Manifest', manifest),
    h('div', { class: 'form-actions' }, validate, add),
    report);
}

export function render(root, ctx) {
  const list = h('ul', { class: 'plugin-list' }, h('li', { class: 'loading' }, 'Loading plugins…'));
  const reload = () => {
    api.get('/api/plugins', { signal: ctx.signal }).then(({ plugins }) => {
      const all = [...(plugins || [])].sort((a, b) => a.name.localeCompare(b.name));
      replace(list, all.length
        ? all.map((p) => pluginCard(p, ctx, reload))
        : h('li', null, empty('No plugins installed. Vigil\'s built-in skills are always available.')));
    }).catch((err) => {
      if (isAbort(err)) return;
      replace(list);
      ctx.showError(err);
    });
  };
  replace(root,
    pageHeader('Plugins', 'Skills from Security Copilot plugin manifests: KQL hunts, prompts and API calls.'),
    list,
    ctx.isAdmin ? addForm(ctx, reload) : h('p', { class: 'muted' }, 'Only admins can add, change or remove plugins.'));
  reload();
}
