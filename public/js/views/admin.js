// Admin: users (search, pages, role, disable, delete), top-ups and adjustments with a reason, any user's ledger,
// invites, and the audit log.
import { api } from '../api.js';
import { cardTable, errorBox, fill, h, labelCells, onSubmit, tokens, when } from '../dom.js';
import { ledgerTable } from '../ledger.js';

const ACTIONS = {
  'user.role_changed': 'Role changed',
  'user.disabled': 'Disabled',
  'user.enabled': 'Enabled',
  'user.deleted': 'Deleted',
  'tokens.top_up': 'Top-up',
  'tokens.adjusted': 'Adjustment',
  'invite.created': 'Invite created',
  'invite.used': 'Invite used',
  'login.failed_burst': 'Failed sign-ins (burst)',
  'api_key.created': 'API key created',
  'api_key.revoked': 'API key revoked',
  'node.drained': 'Server drained',
};

/** One idempotency key per intended change: a retry after a network error applies once, a new change gets a new key. */
function keyFor() {
  let key = crypto.randomUUID();
  let what = '';
  return (now) => {
    if (now !== what) {
      key = crypto.randomUUID();
      what = now;
    }
    return key;
  };
}

export async function render(main, _ctx) {
  document.title = 'Admin · Lookout';
  const box = errorBox();
  const tbody = h('tbody');
  const table = cardTable(['Email', 'Role', { label: 'Balance', class: 'num' }, 'State', { label: 'Last sign-in', class: 'hide-narrow' }, { label: 'Actions', hidden: true }], tbody, { 'aria-label': 'Users' });
  const ledgerEl = h('section', { 'aria-label': 'Ledger of the chosen user' });

  // Balance: a top-up (positive) or an adjustment (either sign, with a reason).
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' });
  const amount = h('input', { name: 'amount', type: 'number', step: 0.001, required: true, inputmode: 'decimal' });
  const reason = h('input', { name: 'reason', maxlength: 500, autocomplete: 'off', placeholder: 'Required for an adjustment' });
  const kind = h('select', { name: 'kind' }, h('option', { value: 'adjustment' }, 'Adjustment (+ or −, with a reason)'), h('option', { value: 'top-up' }, 'Top-up (+)'));
  const balanceBox = errorBox();
  const done = h('p', { class: 'notice', role: 'status' });
  const balanceKey = keyFor();
  const balanceForm = h(
    'form',
    { class: 'panel', 'aria-label': 'Change a balance' },
    h('h2', null, 'Change a balance'),
    h('div', { class: 'row' }, h('label', null, 'User email', email), h('label', null, 'Tokens', amount), h('label', null, 'Kind', kind)),
    h('label', null, 'Reason (shown in the user’s ledger)', reason),
    h('div', null, h('button', { type: 'submit', class: 'primary' }, 'Apply')),
    balanceBox.el,
    done,
  );
  onSubmit(balanceForm, balanceBox, async (data) => {
    done.textContent = '';
    const body = { email: String(data.get('email')).trim(), amount: Number(data.get('amount')) };
    const adjusting = data.get('kind') === 'adjustment';
    if (!Number.isFinite(body.amount) || body.amount === 0) throw new Error('The amount must be a number of tokens other than 0.');
    if (!adjusting && body.amount < 0) throw new Error('A top-up adds tokens: use an adjustment to take tokens away.');
    const why = String(data.get('reason') ?? '').trim();
    if (adjusting && !why) throw new Error('Say why: an adjustment needs a reason.');
    const headers = { 'idempotency-key': balanceKey(`${data.get('kind')}|${body.email}|${body.amount}|${why}`) };
    const res = adjusting ? await api('POST', '/admin/adjustments', { ...body, reason: why }, { headers }) : await api('POST', '/admin/top-ups', body, { headers });
    balanceKey('');
    done.textContent = `${body.amount > 0 ? 'Added' : 'Took'} ${tokens(Math.abs(body.amount))} tokens ${body.amount > 0 ? 'to' : 'from'} ${res.email}. New balance: ${tokens(res.balance)}.`;
    amount.value = '';
    reason.value = '';
    await Promise.all([loadUsers(true), loadAudit(true)]);
  });

  // Invites (REGISTRATION=invite).
  const inviteEmail = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' });
  const inviteBox = errorBox();
  const inviteOut = h('div');
  const inviteForm = h('form', { class: 'panel', 'aria-label': 'Invite' }, h('h2', null, 'Invite someone'), h('div', { class: 'row' }, h('label', null, 'Email', inviteEmail), h('button', { type: 'submit' }, 'Create invite code')), inviteBox.el, inviteOut);
  onSubmit(inviteForm, inviteBox, async (data) => {
    const res = await api('POST', '/admin/invites', { email: String(data.get('email')).trim() });
    fill(inviteOut, h('p', { class: 'notice', role: 'status' }, `Invite code for ${res.email} (shown once, works once): `, h('code', { 'data-invite': '' }, res.code)));
    inviteEmail.value = '';
    await loadAudit(true);
  });

  // Users: search, pages.
  const query = h('input', { type: 'search', name: 'query', placeholder: 'Part of an email', 'aria-label': 'Search users by email' });
  const more = h('button', { type: 'button', hidden: true }, 'More users');
  let next = null;
  let searchTimer;
  query.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void loadUsers(true), 250);
  });
  more.addEventListener('click', () => void loadUsers(false));

  // Audit log.
  const auditBody = h('tbody');
  const auditTable = cardTable(['When', 'Who', 'What', 'On', { label: 'Detail', class: 'hide-narrow' }], auditBody, { 'aria-label': 'Audit log' });
  const auditMore = h('button', { type: 'button', hidden: true }, 'Older entries');
  const auditBox = errorBox();
  let auditNext = null;
  auditMore.addEventListener('click', () => void loadAudit(false));

  main.append(
    h('h1', null, 'Admin'),
    h('h2', null, 'Users'),
    h('div', { class: 'row' }, query),
    box.el,
    h('div', { class: 'table-wrap' }, table),
    more,
    ledgerEl,
    balanceForm,
    inviteForm,
    h('h2', null, 'Audit log'),
    auditBox.el,
    h('div', { class: 'table-wrap' }, auditTable),
    auditMore,
  );

  const showLedger = async (u) => {
    const ledger = ledgerTable(`/admin/users/${u.id}/ledger`, { links: false });
    fill(ledgerEl, h('h2', null, `Ledger of ${u.email}`), ledger.el);
    await ledger.load();
    ledgerEl.scrollIntoView({ block: 'start', behavior: 'smooth' });
  };

  const act = async (f) => {
    box.clear();
    try {
      await f();
      await Promise.all([loadUsers(true), loadAudit(true)]);
    } catch (err) {
      box.show(err);
    }
  };

  const row = (u) =>
    h(
      'tr',
      { dataset: { user: u.email, state: u.disabled ? 'disabled' : 'active' } },
      h('td', { class: 'wrap' }, u.email),
      h('td', null, u.role),
      h('td', { class: 'num', 'data-balance': '' }, tokens(u.balance)),
      h('td', null, u.disabled ? h('span', { class: 'badge failed' }, 'disabled') : 'active'),
      h('td', { class: 'hide-narrow nowrap' }, u.lastLoginAt ? when(u.lastLoginAt) : 'never'),
      h(
        'td',
        null,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', onclick: () => { email.value = u.email; amount.focus(); }, 'aria-label': `Change the balance of ${u.email}` }, 'Balance'),
          h('button', { type: 'button', onclick: () => void showLedger(u), 'aria-label': `Ledger of ${u.email}` }, 'Ledger'),
          h(
            'button',
            { type: 'button', 'aria-label': `Make ${u.email} ${u.role === 'admin' ? 'a user' : 'an admin'}`, onclick: () => void act(() => api('PATCH', `/admin/users/${u.id}`, { role: u.role === 'admin' ? 'user' : 'admin' })) },
            u.role === 'admin' ? 'Make user' : 'Make admin',
          ),
          h(
            'button',
            {
              type: 'button',
              'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.email}`,
              onclick: () => {
                if (!u.disabled && !confirm(`Disable ${u.email}? Their sign-ins, API keys, open connections and live sessions end at once.`)) return;
                void act(() => api('PATCH', `/admin/users/${u.id}`, { disabled: !u.disabled }));
              },
            },
            u.disabled ? 'Enable' : 'Disable',
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'aria-label': `Delete ${u.email}`,
              onclick: () => {
                if (!confirm(`Delete ${u.email} with all their datasets, jobs, recordings and keys? This cannot be undone; their ledger stays, anonymised.`)) return;
                void act(() => api('DELETE', `/admin/users/${u.id}`));
              },
            },
            'Delete',
          ),
        ),
      ),
    );

  const loadUsers = async (fresh) => {
    const q = new URLSearchParams({ limit: '50' });
    if (query.value.trim()) q.set('query', query.value.trim());
    if (!fresh && next) q.set('cursor', next);
    try {
      const page = await api('GET', `/admin/users?${q}`);
      if (fresh) fill(tbody);
      if (fresh && page.users.length === 0) fill(tbody, h('tr', null, h('td', { colspan: 6, class: 'empty' }, query.value.trim() ? 'No user matches.' : 'No users.')));
      for (const u of page.users) tbody.append(row(u));
      labelCells(table);
      next = page.next ?? null;
      more.hidden = !next;
    } catch (err) {
      box.show(err);
    }
  };

  const loadAudit = async (fresh) => {
    const q = new URLSearchParams({ limit: '50' });
    if (!fresh && auditNext) q.set('cursor', auditNext);
    try {
      const page = await api('GET', `/admin/audit?${q}`);
      if (fresh) fill(auditBody);
      if (fresh && page.entries.length === 0) fill(auditBody, h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'Nothing recorded yet.')));
      for (const e of page.entries) {
        auditBody.append(
          h(
            'tr',
            { dataset: { action: e.action } },
            h('td', { class: 'nowrap' }, when(e.createdAt)),
            h('td', { class: 'wrap' }, e.actor),
            h('td', null, ACTIONS[e.action] ?? e.action),
            h('td', { class: 'wrap' }, e.target ?? ''),
            h('td', { class: 'hide-narrow wrap small' }, Object.entries(e.detail).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')),
          ),
        );
      }
      labelCells(auditTable);
      auditNext = page.next ?? null;
      auditMore.hidden = !auditNext;
    } catch (err) {
      auditBox.show(err);
    }
  };
  await Promise.all([loadUsers(true), loadAudit(true)]);
}
