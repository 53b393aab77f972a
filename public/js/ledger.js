// A token ledger as a table with "show older entries" (used for one's own ledger and, by admins, anyone's).
import { api } from './api.js';
import { cardTable, errorBox, fill, h, labelCells, tokens, when } from './dom.js';

const REASONS = {
  initial: 'Welcome credit',
  top_up: 'Top-up',
  adjustment: 'Adjustment',
  account_deleted: 'Account deleted',
  charge: 'Charge',
  reserve: 'Reserved',
  refund: 'Refund',
};

/** What an entry's `ref` points at: a link for one's own jobs and sessions, a short form otherwise. */
function describeRef(ref, links) {
  if (!ref) return '';
  const [kind, id] = String(ref).split(':');
  if (kind === 'admin') return 'by an admin';
  if (kind === 'job' && id) return links ? h('a', { href: `#/jobs/${id}` }, 'job') : `job ${id.slice(0, 8)}`;
  if (kind === 'live' && id) return links ? h('a', { href: `#/history/${id}` }, 'live session') : `live session ${id.slice(0, 8)}`;
  return String(ref);
}

/** @param {string} path e.g. '/tokens/ledger' */
export function ledgerTable(path, { links = true } = {}) {
  const box = errorBox();
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show older entries');
  const table = cardTable(['When', 'What', { label: 'Amount', class: 'num' }, { label: 'Balance after', class: 'num' }], tbody, { 'aria-label': 'Ledger' });
  const el = h(
    'div',
    null,
    box.el,
    h(
      'div',
      { class: 'table-wrap' },
      table,
    ),
    more,
  );
  let cursor = null;
  const load = async () => {
    const q = new URLSearchParams({ limit: '50' });
    if (cursor) q.set('cursor', cursor);
    try {
      const page = await api('GET', `${path}?${q}`);
      if (!cursor && page.entries.length === 0) fill(tbody, h('tr', null, h('td', { colspan: 4, class: 'empty' }, 'No entries.')));
      for (const e of page.entries) {
        tbody.append(
          h(
            'tr',
            { dataset: { reason: e.reason } },
            h('td', { class: 'nowrap' }, when(e.createdAt)),
            h('td', null, REASONS[e.reason] ?? e.reason, e.note ? h('span', { class: 'muted', 'data-note': '' }, ` — ${e.note}`) : '', e.ref ? ' · ' : '', describeRef(e.ref, links)),
            h('td', { class: 'num' }, `${e.amount > 0 ? '+' : ''}${tokens(e.amount)}`),
            h('td', { class: 'num' }, tokens(e.balanceAfter)),
          ),
        );
      }
      labelCells(table);
      cursor = page.nextCursor ?? null;
      more.hidden = !cursor;
    } catch (err) {
      box.show(err);
    }
  };
  more.addEventListener('click', () => void load());
  return { el, load };
}
