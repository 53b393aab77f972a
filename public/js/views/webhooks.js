// Webhooks: subscribe a URL to events (the signing secret shown once), see each one's state and its deliveries,
// retry a delivery, turn a webhook off and on, remove it. A webhook disabled after sustained failure says why.
import { api } from '../api.js';
import { cardTable, errorBox, fillList, h, onSubmit, showSecretOnce, when } from '../dom.js';

const EVENTS = {
  'job.completed': 'a job completed',
  'job.failed': 'a job failed',
  'live.ended': 'a live session ended',
  'live.track': 'a new object is tracked in a live session',
  'live.zone': 'an object entered or left a zone',
  'balance.low': 'your balance fell below the low mark',
};

export async function render(main, ctx) {
  document.title = 'Webhooks · Lookout';
  const listEl = h('div', { class: 'table-wrap' });
  const created = h('div', { 'aria-live': 'polite' });
  const deliveriesEl = h('div', { 'aria-live': 'polite' });
  const box = errorBox();
  const form = h(
    'form',
    { class: 'panel', 'aria-label': 'New webhook' },
    h('label', null, 'URL', h('input', { name: 'url', type: 'url', required: true, maxlength: 2048, placeholder: 'https://example.com/lookout-events', class: 'wide' })),
    h(
      'fieldset',
      { class: 'checks' },
      h('legend', null, 'Events'),
      ...Object.entries(EVENTS).map(([name, what]) => h('label', { title: what }, h('input', { type: 'checkbox', name: 'events', value: name, checked: name.startsWith('job.') }), name)),
    ),
    h('label', null, 'Description (optional)', h('input', { name: 'description', maxlength: 500 })),
    h('p', null, h('button', { type: 'submit', class: 'primary' }, 'Add webhook')),
  );
  onSubmit(form, box, async (data) => {
    const events = data.getAll('events').map(String);
    const { webhook, secret } = await api('POST', '/webhooks', { url: String(data.get('url')).trim(), events, description: String(data.get('description') ?? '').trim() || undefined });
    const message = [h('strong', null, `Webhook to ${webhook.url} added.`), ' Its signing secret is shown once: verify each delivery’s ', h('code', null, 'webhook-signature'), ' with it (any Standard Webhooks library does).'];
    showSecretOnce(created, message, secret, 'The signing secret');
    form.reset();
    await load();
  });
  main.append(
    h('h1', null, 'Webhooks'),
    h(
      'p',
      null,
      'Lookout POSTs events to your URL as they happen, signed per ',
      h('a', { href: 'https://www.standardwebhooks.com', rel: 'noreferrer' }, 'Standard Webhooks'),
      '. A delivery that fails (not 2xx within 5 s) is retried 6 more times over about two hours, with the same ',
      h('code', null, 'webhook-id'),
      '; a webhook whose deliveries keep failing is turned off, and you are told here.',
    ),
    form,
    box.el,
    created,
    listEl,
    deliveriesEl,
  );

  const act = async (fn) => {
    try {
      await fn();
      await load();
    } catch (err) {
      box.show(err);
    }
  };

  async function showDeliveries(w) {
    const { deliveries } = await api('GET', `/webhooks/${w.id}/deliveries`);
    deliveriesEl.replaceChildren(h('h2', null, `Deliveries to ${w.url}`));
    const table = h('div', { class: 'table-wrap' });
    deliveriesEl.append(table);
    fillList(table, deliveries, 'Nothing delivered yet.', () =>
      cardTable(
        ['Event', 'Status', { label: 'Attempts', class: 'num' }, 'Last answer', 'When', { label: 'Actions', hidden: true }],
        deliveries.map((d) =>
          h(
            'tr',
            { dataset: { delivery: d.id } },
            h('td', null, d.event),
            h('td', null, h('span', { class: `badge ${d.status === 'delivered' ? 'completed' : d.status === 'failed' ? 'failed' : 'running'}` }, d.status)),
            h('td', { class: 'num' }, String(d.attempts)),
            h('td', null, d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : (d.lastError ?? '–')),
            h('td', { class: 'nowrap' }, when(d.lastAttemptAt ?? d.createdAt)),
            h(
              'td',
              null,
              d.status === 'pending'
                ? ''
                : h('button', { type: 'button', onclick: () => void act(async () => (await api('POST', `/webhooks/${w.id}/deliveries/${d.id}/retry`), await showDeliveries(w))) }, 'Send again'),
            ),
          ),
        ),
      ),
    );
  }

  async function load() {
    const { webhooks } = await api('GET', '/webhooks');
    fillList(listEl, webhooks, 'No webhooks yet.', () =>
      cardTable(
        ['URL', 'Events', 'State', { label: 'Added', class: 'hide-narrow' }, { label: 'Actions', hidden: true }],
        webhooks.map((w) =>
          h(
            'tr',
            { dataset: { webhook: w.id } },
            h('td', { class: 'mono' }, w.url, w.description ? h('div', { class: 'muted' }, w.description) : ''),
            h('td', null, w.events.join(', ')),
            h('td', null, w.enabled ? h('span', { class: 'badge completed' }, 'on') : h('span', null, h('span', { class: 'badge failed' }, 'off'), w.disabledReason ? h('div', { class: 'muted' }, w.disabledReason) : '')),
            h('td', { class: 'hide-narrow nowrap' }, when(w.createdAt)),
            h(
              'td',
              { class: 'actions' },
              h('button', { type: 'button', onclick: () => void act(() => showDeliveries(w)) }, 'Deliveries'),
              h('button', { type: 'button', onclick: () => void act(() => api('PATCH', `/webhooks/${w.id}`, { enabled: !w.enabled })) }, w.enabled ? 'Turn off' : 'Turn on'),
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: () => {
                    if (!confirm(`Remove the webhook to ${w.url}? Its pending deliveries are dropped.`)) return;
                    void act(async () => {
                      await api('DELETE', `/webhooks/${w.id}`);
                      deliveriesEl.replaceChildren();
                    });
                  },
                },
                'Remove',
              ),
            ),
          ),
        ),
      ),
    );
  }
  // A webhook turned off after sustained failure (app.js says so on every page): show its new state.
  const off = ctx.socket.on('webhook.disabled', () => void load().catch((err) => box.show(err)));
  try {
    await load();
  } catch (err) {
    box.show(err);
  }
  return () => off?.();
}
