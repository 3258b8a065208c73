// A small builder for the lifecycle dialogs (new VM, clone, settings, rename, prune,
// registries): a <dialog class="modal"> with a form made from a list of fields, each
// with its label, its limits as a hint, and its own error line. The server's 422 list
// is shown next to the field it names, in the server's plain words; other errors go
// under the form. Everything is built with textContent (dom.h), never HTML.
import { $, h } from '../dom.js';
import { closeOnBackdrop } from './common.js';

/**
 * Builds the dialog once. `spec`: { id, title, intro?, fields: [field], submit,
 * extra? (an element placed before the buttons), alias? (server field → form field) }. A field: { name, label, type
 * ('text'|'number'|'password'|'select'|'checkbox'|'textarea'), hint?, min?, max?, options?
 * ([{value, label}]), placeholder?, autocomplete? }.
 * Returns { dlg, form, input(name), values(), setError(name, text), clearErrors(),
 * showError(err), busy(on) }.
 */
export function buildFormDialog(spec) {
  const existing = $(spec.id);
  if (existing && existing._form) return existing._form;
  const titleId = spec.id + '-title';
  const dlg = h('dialog', { class: 'modal lc-dialog', id: spec.id, 'aria-labelledby': titleId });
  const form = h('form', { method: 'dialog', novalidate: true });
  form.append(h('h2', { id: titleId, text: spec.title }));
  if (spec.intro) form.append(h('p', { class: 'muted', id: spec.id + '-intro', text: spec.intro }));
  const inputs = new Map();
  const errors = new Map();
  for (const f of spec.fields) form.append(fieldEl(spec.id, f, inputs, errors));
  if (spec.extra) form.append(spec.extra);
  const general = h('p', { class: 'field-error', id: spec.id + '-error', role: 'alert', hidden: true });
  const cancel = h('button', { type: 'button', class: 'btn', text: 'Cancel', id: spec.id + '-cancel' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: spec.submit, id: spec.id + '-submit' });
  form.append(general, h('div', { class: 'modal-actions' }, [cancel, submit]));
  dlg.append(form);
  document.body.append(dlg);
  cancel.addEventListener('click', () => dlg.close());
  closeOnBackdrop(dlg);

  const api = {
    dlg,
    form,
    submitButton: submit,
    input: (name) => inputs.get(name),
    field: (name) => inputs.get(name).closest('.lc-field'),
    values() {
      const out = {};
      for (const [name, el] of inputs) {
        if (el.type === 'checkbox') out[name] = el.checked;
        else if (el.tagName === 'TEXTAREA') out[name] = el.value;
        else out[name] = el.value.trim();
      }
      return out;
    },
    setError(name, text) {
      const p = errors.get(name);
      const el = inputs.get(name);
      if (!p || !el) return false;
      p.textContent = text;
      p.hidden = !text;
      if (text) el.setAttribute('aria-invalid', 'true');
      else el.removeAttribute('aria-invalid');
      return true;
    },
    clearErrors() {
      for (const name of inputs.keys()) api.setError(name, '');
      general.hidden = true;
      general.textContent = '';
    },
    /** Shows an ApiError: a 422 next to its fields, anything else under the form. */
    showError(err) {
      const list = err && err.body && Array.isArray(err.body.detail) ? err.body.detail : null;
      let first = null;
      if (list) {
        for (const item of list) {
          const raw = Array.isArray(item.loc) ? item.loc[1] : null;
          const name = raw && spec.alias ? spec.alias(raw) : raw;
          const msg = String(item.msg || 'Invalid value').replace(/^Value error, /, '');
          if (name && api.setError(name, msg)) {
            first = first || inputs.get(name);
          } else {
            general.textContent = msg;
            general.hidden = false;
          }
        }
      } else {
        general.textContent = err && err.network ? 'The server could not be reached. Try again when it is back.' : String((err && err.message) || err);
        general.hidden = false;
      }
      (first || submit).focus();
    },
    busy(on) {
      submit.disabled = on;
      if (on) submit.setAttribute('aria-busy', 'true');
      else submit.removeAttribute('aria-busy');
    },
  };
  for (const [name, el] of inputs) {
    el.addEventListener('input', () => api.setError(name, ''));
  }
  dlg._form = api;
  return api;
}

function fieldEl(dialogId, f, inputs, errors) {
  const id = dialogId + '-' + f.name;
  const errId = id + '-error';
  const hintId = id + '-hint';
  const described = [f.hint ? hintId : null, errId].filter(Boolean).join(' ');
  let input;
  if (f.type === 'select') {
    input = h('select', { id, name: f.name, 'aria-describedby': described });
    for (const o of f.options || []) input.append(h('option', { value: o.value, text: o.label }));
  } else if (f.type === 'checkbox') {
    input = h('input', { type: 'checkbox', id, name: f.name, 'aria-describedby': described });
  } else if (f.type === 'textarea') {
    input = h('textarea', { id, name: f.name, rows: '3', placeholder: f.placeholder, spellcheck: 'false', 'aria-describedby': described });
  } else {
    input = h('input', {
      type: f.type === 'number' ? 'number' : f.type === 'password' ? 'password' : 'text',
      id,
      name: f.name,
      min: f.min,
      max: f.max,
      step: f.type === 'number' ? '1' : undefined,
      inputmode: f.type === 'number' ? 'numeric' : undefined,
      placeholder: f.placeholder,
      autocomplete: f.autocomplete || 'off',
      spellcheck: 'false',
      'aria-describedby': described,
    });
  }
  inputs.set(f.name, input);
  const error = h('p', { class: 'field-error', id: errId, role: 'alert', hidden: true });
  errors.set(f.name, error);
  const hint = f.hint ? h('p', { class: 'hint lc-hint', id: hintId, text: f.hint }) : null;
  if (f.type === 'checkbox') {
    return h('div', { class: 'lc-field lc-check' }, [h('label', { for: id }, [input, h('span', { text: ' ' + f.label })]), hint, error]);
  }
  return h('div', { class: 'lc-field' + (f.type === 'number' ? ' lc-number' : '') }, [
    h('label', { for: id, class: 'field-label-block', text: f.label }),
    input,
    hint,
    error,
  ]);
}

/** A whole number from a field's text, or undefined when empty. */
export function numberOrUndefined(text) {
  if (text === '' || text === undefined) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}
