// One's own balance and ledger.
import { api } from '../api.js';
import { bytes, definitionList, h, tokens } from '../dom.js';
import { ledgerTable } from '../ledger.js';

export async function render(main, ctx) {
  document.title = 'Tokens · Lookout';
  const balance = h('strong', null, ctx.user ? tokens(ctx.user.balance) : '–');
  const ledger = ledgerTable('/tokens/ledger');
  main.append(
    h('h1', null, 'Tokens'),
    h('p', null, 'Balance: ', balance, ' tokens. Every image, video frame and live frame costs tokens; an admin tops balances up.'),
    h('h2', null, 'Ledger'),
    ledger.el,
  );
  // What is kept on the server for this account.
  const usage = await api('GET', '/me/usage').catch(() => null);
  if (usage) {
    const u = usage.storageBytes;
    main.append(
      h('h2', null, 'Storage'),
      definitionList(
        [
          ['Uploads', bytes(u.uploads)],
          ['Job results', bytes(u.results)],
          ['Recordings', bytes(u.recordings)],
          ['Live sessions', String(usage.liveSessions)],
          ['Jobs', String(usage.jobs)],
        ],
        { class: 'stats narrow', 'aria-label': 'Storage used' },
      ),
      h('p', { class: 'muted small' }, 'Delete sessions in History and jobs on their results page to free space.'),
    );
  }
  const off = ctx.socket.on('balance', (m) => (balance.textContent = tokens(m.balance)));
  const fresh = await api('GET', '/tokens').catch(() => null);
  if (fresh) {
    ctx.setBalance(fresh.balance);
    balance.textContent = tokens(fresh.balance);
  }
  await ledger.load();
  return off;
}
