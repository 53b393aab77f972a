// Boot, routing and the header. Each view is a module exporting `render(main, ctx, params)` that may return
// a cleanup function, called when the page changes.
import { api, onUnauthenticated } from './api.js';
import { fill, h, tokens } from './dom.js';
import { Socket } from './socket.js';

/** @typedef {{id: string, email: string, role: 'user' | 'admin', balance: number, createdAt: string}} User */

const VIEWS = {
  signin: () => import('./views/auth.js'),
  register: () => import('./views/auth.js'),
  live: () => import('./views/live.js'),
  datasets: () => import('./views/datasets.js'),
  jobs: () => import('./views/jobs.js'),
  history: () => import('./views/history.js'),
  tokens: () => import('./views/tokens.js'),
  keys: () => import('./views/keys.js'),
  webhooks: () => import('./views/webhooks.js'),
  phone: () => import('./views/phone.js'),
  admin: () => import('./views/admin.js'),
};
const PUBLIC = new Set(['signin', 'register']);

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const flashEl = /** @type {HTMLElement} */ (document.getElementById('flash'));
const balanceEl = /** @type {HTMLOutputElement} */ (document.getElementById('balance'));

const socket = new Socket();
/** @type {User | null} */
let user = null;
/** @type {(() => void) | void} */
let cleanup;
let renderSeq = 0;

const ctx = {
  socket,
  get user() {
    return user;
  },
  /** @param {string} hash */
  navigate(hash) {
    if (location.hash === hash) void route();
    else location.hash = hash;
  },
  /** @param {number} balance */
  setBalance(balance) {
    if (!user) return;
    const changed = user.balance !== balance;
    user = { ...user, balance };
    balanceEl.value = tokens(balance);
    balanceEl.textContent = tokens(balance);
    if (changed) {
      const pill = balanceEl.parentElement;
      pill?.classList.remove('changed');
      void pill?.offsetWidth;
      pill?.classList.add('changed');
    }
  },
  /** @param {User | null} u */
  signedIn(u) {
    user = u;
    renderHeader();
    if (u) socket.connect();
    else socket.close();
  },
  /** A message above the page, until the next navigation. */
  flash(text, kind = 'error') {
    flashEl.className = `flash${kind === 'info' ? ' info' : ''}`;
    fill(flashEl, text);
    flashEl.hidden = false;
  },
};

function renderHeader() {
  const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
  const account = /** @type {HTMLElement} */ (document.getElementById('account'));
  nav.hidden = !user;
  account.hidden = !user;
  for (const a of nav.querySelectorAll('[data-admin]')) /** @type {HTMLElement} */ (a).hidden = user?.role !== 'admin';
  if (user) {
    fill(/** @type {HTMLElement} */ (document.getElementById('account-email')), user.email);
    balanceEl.value = tokens(user.balance);
    balanceEl.textContent = tokens(user.balance);
  }
}

socket.on('balance', (msg) => ctx.setBalance(msg.balance));
socket.on('webhook.disabled', (msg) => ctx.flash(`Your webhook to ${msg.url} was turned off: ${msg.reason} Turn it on again on the Webhooks page once it works.`));
// Every API call that finds the session gone sends the page to the sign-in form.
onUnauthenticated(() => {
  if (!user) return;
  ctx.signedIn(null);
  ctx.flash('Your session has ended. Please sign in again.', 'info');
  ctx.navigate('#/signin');
});

document.getElementById('sign-out')?.addEventListener('click', async () => {
  try {
    await api('POST', '/auth/logout', undefined, { quietAuth: true });
  } catch {
    // signed out already
  }
  ctx.signedIn(null);
  ctx.navigate('#/signin');
});

/** '#/datasets/abc' → ['datasets', ['abc']] */
function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] ?? '', params: parts.slice(1) };
}

async function route() {
  const seq = ++renderSeq;
  const asked = parseHash();
  let { name, params } = asked;
  if (!user && !PUBLIC.has(name)) name = 'signin';
  if (user && (PUBLIC.has(name) || !(name in VIEWS))) name = 'live';
  if (name === 'admin' && user?.role !== 'admin') name = 'live';
  if (name !== asked.name) {
    params = [];
    history.replaceState(null, '', `#/${name}`);
  }

  if (typeof cleanup === 'function') {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  cleanup = undefined;
  flashEl.hidden = true;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mod = await VIEWS[/** @type {keyof typeof VIEWS} */ (name)]();
  if (seq !== renderSeq) return;
  main.replaceChildren();
  document.title = 'Lookout';
  try {
    cleanup = await mod.render(main, ctx, { name, params });
  } catch (err) {
    if (seq !== renderSeq) return;
    main.replaceChildren(h('h1', null, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, err?.message ?? String(err)));
  }
  if (seq === renderSeq && document.activeElement === document.body) main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => void route());

async function boot() {
  try {
    const { user: u } = await api('GET', '/me', undefined, { quietAuth: true });
    ctx.signedIn(u);
  } catch {
    ctx.signedIn(null);
  }
  await route();
}
void boot();
