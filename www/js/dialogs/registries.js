// The Registries dialog: log tart in to an OCI registry, or out. The password goes in
// the request body to the server, which hands it to tart on stdin; this page never
// stores it (the field is emptied on every open and after every send) and never shows
// it back.
import { buildFormDialog } from './form.js';
import { h } from '../dom.js';
import { submitTask } from './submit.js';

const logoutBtn = h('button', { type: 'button', class: 'btn', id: 'registries-logout', text: 'Log out of this registry' });
/** Built once: `form()` is called often and must not move the button. */
const extra = h('div', { class: 'lc-row' }, [logoutBtn]);

function form() {
  return buildFormDialog({
    id: 'registries-dialog',
    title: 'Registries',
    intro: 'Tart keeps registry credentials in your login Keychain. Log in to pull private images.',
    submit: 'Log in',
    extra,
    fields: [
      { name: 'host', label: 'Registry', type: 'text', placeholder: 'ghcr.io', hint: 'A host name, with a port if needed; no https://.' },
      { name: 'username', label: 'User name', type: 'text', autocomplete: 'off' },
      { name: 'password', label: 'Password or token', type: 'password', autocomplete: 'new-password' },
      { name: 'insecure', label: 'Plain HTTP (an insecure registry)', type: 'checkbox' },
    ],
  });
}

export function openRegistries() {
  const f = form();
  f.form.reset();
  f.input('password').value = '';
  f.clearErrors();
  f.dlg.showModal();
  f.input('host').focus();
}

async function login(ev) {
  ev.preventDefault();
  const f = form();
  const v = f.values();
  const password = f.input('password').value;
  f.input('password').value = '';
  let missing = false;
  for (const [name, text] of [['host', 'Name the registry.'], ['username', 'Give your user name.']]) {
    if (!v[name]) {
      f.setError(name, text);
      missing = true;
    }
  }
  if (!password) {
    f.setError('password', 'Give the password or token.');
    missing = true;
  }
  if (missing) return;
  await submitTask(f, '/api/registries/login', { host: v.host, username: v.username, password, insecure: v.insecure }, 'Login to ' + v.host);
}

async function logout() {
  const f = form();
  const host = f.values().host;
  f.input('password').value = '';
  if (!host) {
    f.setError('host', 'Name the registry.');
    return;
  }
  await submitTask(f, '/api/registries/logout', { host }, 'Log out of ' + host);
}

export function initRegistriesDialog() {
  form().form.addEventListener('submit', login);
  logoutBtn.addEventListener('click', logout);
}
