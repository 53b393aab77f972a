// API keys: create one (its secret shown once, to copy), list them by prefix with their last use, revoke.
import { api } from '../api.js';
import { cardTable, errorBox, fillList, h, onSubmit, showSecretOnce, when } from '../dom.js';

export async function render(main) {
  document.title = 'API keys · Lookout';
  const listEl = h('div', { class: 'table-wrap' });
  const created = h('div', { 'aria-live': 'polite' });
  const box = errorBox();
  const form = h(
    'form',
    { class: 'panel row', 'aria-label': 'New API key' },
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxlength: 100, placeholder: 'e.g. Garage camera' })),
    h('label', null, 'Expires (optional)', h('input', { name: 'expires', type: 'date' })),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  onSubmit(form, box, async (data) => {
    const expires = String(data.get('expires') ?? '');
    const { apiKey, key } = await api('POST', '/api-keys', {
      name: String(data.get('name')).trim(),
      ...(expires ? { expiresAt: new Date(`${expires}T23:59:59Z`).toISOString() } : {}),
    });
    showSecretOnce(created, [h('strong', null, `Key “${apiKey.name}” created.`), ' Copy it now: it is not shown again.'], key, 'The new key');
    form.reset();
    await load();
  });
  main.append(
    h('h1', null, 'API keys'),
    h(
      'p',
      null,
      'Keys let scripts, cameras and NVR software (the Deepstack endpoint) use Lookout without signing in: send ',
      h('code', null, 'Authorization: Bearer <key>'),
      ' or ',
      h('code', null, 'X-API-Key: <key>'),
      '. A key can do what you can, except manage keys or your account. Revoking one stops it at once.',
    ),
    form,
    box.el,
    created,
    listEl,
  );

  async function load() {
    const { apiKeys } = await api('GET', '/api-keys');
    fillList(listEl, apiKeys, 'No API keys yet.', () =>
      cardTable(
        ['Name', 'Key', { label: 'Created', class: 'hide-narrow' }, 'Last used', 'Expires', { label: 'Actions', hidden: true }],
        apiKeys.map((k) =>
          h(
            'tr',
            null,
            h('td', null, k.name),
            h('td', { class: 'mono' }, `${k.prefix}…`),
            h('td', { class: 'hide-narrow nowrap' }, when(k.createdAt)),
            h('td', { class: 'nowrap' }, k.lastUsedAt ? when(k.lastUsedAt) : 'never'),
            h('td', { class: 'nowrap' }, k.expiresAt ? when(k.expiresAt) : 'never'),
            h(
              'td',
              null,
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  onclick: async () => {
                    if (!confirm(`Revoke the key “${k.name}” (${k.prefix}…)? Anything using it stops working at once.`)) return;
                    try {
                      await api('DELETE', `/api-keys/${k.id}`);
                      await load();
                    } catch (err) {
                      box.show(err);
                    }
                  },
                },
                'Revoke',
              ),
            ),
          ),
        ),
      ),
    );
  }
  try {
    await load();
  } catch (err) {
    box.show(err);
  }
}
