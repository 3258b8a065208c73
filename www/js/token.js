// The API token: taken from the address's fragment (`/#token=…`, which browsers never
// send to a server), kept for this tab in sessionStorage, and removed from the address
// bar so it does not linger in history, bookmarks or screen shares. The server never
// puts the token in any page or asset: every other local user can fetch those. A page
// opened without a token asks for one (the auth banner's form).
//
// Imports only dom.js, so api.js can import it without a cycle.
import { $ } from './dom.js';

/** The sessionStorage key: per tab, gone when the tab closes; never localStorage. */
const STORAGE_KEY = 'taartenfabriek-token';

/** A token as the server makes them: base64url. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+$/;

/** The token in a fragment like `#token=abc` (also among other `&`-joined fields). */
export function tokenFromFragment(hash) {
  const fields = (hash || '').replace(/^#/, '').split('&');
  for (const field of fields) {
    const eq = field.indexOf('=');
    if (eq > 0 && field.slice(0, eq) === 'token') {
      const value = field.slice(eq + 1);
      return TOKEN_SHAPE.test(value) ? value : '';
    }
  }
  return '';
}

function stored() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || '';
  } catch (_) {
    return '';
  }
}

function store(token) {
  try {
    sessionStorage.setItem(STORAGE_KEY, token);
  } catch (_) {
    /* storage off: the token lives until the page reloads */
  }
}

function takeToken() {
  const fromUrl = tokenFromFragment(location.hash);
  if (location.hash) {
    // Whatever the fragment held, it leaves the address bar.
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (fromUrl) {
    store(fromUrl);
    return fromUrl;
  }
  return stored();
}

/** The API token for this tab ('' when the page was opened without one). */
export const TOKEN = takeToken();

/** Wires the auth banner's form: a pasted token is kept for the tab and the page reloads. */
export function initTokenForm() {
  const form = $('token-form');
  if (!form) return;
  $('auth-missing').hidden = !!TOKEN;
  $('auth-refused').hidden = !TOKEN;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('token-input').value.trim();
    if (!TOKEN_SHAPE.test(value)) {
      $('token-error').hidden = false;
      return;
    }
    store(value);
    location.reload();
  });
}
