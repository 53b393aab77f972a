// Admin: users and balances, top-ups, and any user's ledger.
import { api } from '../api.js';
import { cardTable, errorBox, fill, h, labelCells, onSubmit, tokens, when } from '../dom.js';
import { ledgerTable } from '../ledger.js';

export async function render(main, _ctx) {
  document.title = 'Admin · Lookout';
  const box = errorBox();
  const tbody = h('tbody');
  const table = cardTable(['Email', 'Role', { label: 'Balance', class: 'num' }, { label: 'Since', class: 'hide-narrow' }, { label: 'Actions', hidden: true }], tbody);
  const ledgerEl = h('section', { 'aria-label': 'Ledger of the chosen user' });
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off', list: 'user-emails' });
  const emails = h('datalist', { id: 'user-emails' });
  const amount = h('input', { name: 'amount', type: 'number', min: 0.001, step: 0.001, required: true, inputmode: 'decimal' });
  const topUpBox = errorBox();
  const done = h('p', { class: 'notice', role: 'status' });
  // One key per intended top-up: a retry after a network error credits once; a new submission gets a new key.
  let key = crypto.randomUUID();
  let keyFor = '';
  const form = h('form', { class: 'panel', 'aria-label': 'Top up' }, h('h2', null, 'Top up a balance'), h('div', { class: 'row' }, h('label', null, 'User email', email, emails), h('label', null, 'Tokens', amount), h('button', { type: 'submit', class: 'primary' }, 'Top up')), topUpBox.el, done);
  onSubmit(form, topUpBox, async (data) => {
    done.textContent = '';
    const body = { email: String(data.get('email')).trim(), amount: Number(data.get('amount')) };
    if (!(body.amount > 0)) throw new Error('The amount must be a positive number of tokens.');
    const what = `${body.email}|${body.amount}`;
    if (what !== keyFor) {
      key = crypto.randomUUID();
      keyFor = what;
    }
    const res = await api('POST', '/admin/top-ups', body, { headers: { 'idempotency-key': key } });
    keyFor = '';
    done.textContent = `Added ${tokens(body.amount)} tokens to ${res.email}. New balance: ${tokens(res.balance)}.`;
    amount.value = '';
    await loadUsers();
  });

  main.append(
    h('h1', null, 'Admin'),
    form,
    h('h2', null, 'Users'),
    box.el,
    h(
      'div',
      { class: 'table-wrap' },
      table,
    ),
    ledgerEl,
  );

  const showLedger = async (u) => {
    const ledger = ledgerTable(`/admin/users/${u.id}/ledger`, { links: false });
    fill(ledgerEl, h('h2', null, `Ledger of ${u.email}`), ledger.el);
    await ledger.load();
    ledgerEl.scrollIntoView({ block: 'start', behavior: 'smooth' });
  };

  const loadUsers = async () => {
    try {
      const { users } = await api('GET', '/admin/users?limit=1000');
      fill(emails, users.map((u) => h('option', { value: u.email })));
      fill(
        tbody,
        users.map((u) =>
          h(
            'tr',
            { dataset: { user: u.email } },
            h('td', { class: 'wrap' }, u.email),
            h('td', null, u.role),
            h('td', { class: 'num', 'data-balance': '' }, tokens(u.balance)),
            h('td', { class: 'hide-narrow nowrap' }, when(u.createdAt)),
            h(
              'td',
              null,
              h(
                'div',
                { class: 'actions' },
                h('button', { type: 'button', onclick: () => { email.value = u.email; amount.focus(); }, 'aria-label': `Top up ${u.email}` }, 'Top up'),
                h('button', { type: 'button', onclick: () => void showLedger(u), 'aria-label': `Ledger of ${u.email}` }, 'Ledger'),
              ),
            ),
          ),
        ),
      );
      labelCells(table);
    } catch (err) {
      box.show(err);
    }
  };
  await loadUsers();
}
