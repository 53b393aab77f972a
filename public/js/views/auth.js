// Sign in and register.
import { api } from '../api.js';
import { errorBox, h, onSubmit } from '../dom.js';

export async function render(main, ctx, { name }) {
  // Who may sign up here (REGISTRATION): closed hides the form and says why; invite asks for the code.
  const registration = await api('GET', '/auth/registration', undefined, { quietAuth: true }).catch(() => ({ mode: 'open' }));
  const registering = name === 'register';
  const closed = registration.mode === 'closed';
  document.title = registering ? 'Create an account · Lookout' : 'Sign in · Lookout';
  const box = errorBox();
  const form = h(
    'form',
    { class: 'stack', novalidate: false },
    h('label', null, 'Email', h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true, autofocus: true })),
    h(
      'label',
      null,
      'Password',
      h('input', {
        name: 'password',
        type: 'password',
        autocomplete: registering ? 'new-password' : 'current-password',
        required: true,
        minlength: registering ? 8 : null,
      }),
    ),
    registering ? h('p', { class: 'muted small' }, 'At least 8 characters. New accounts start with a few free tokens.') : null,
    registering && registration.mode === 'invite'
      ? h('label', null, 'Invite code', h('input', { name: 'invite', autocomplete: 'off', required: true, spellcheck: 'false' }), h('span', { class: 'muted small' }, registration.message))
      : null,
    box.el,
    h('div', null, h('button', { class: 'primary', type: 'submit' }, registering ? 'Create account' : 'Sign in')),
  );
  onSubmit(form, box, async (data) => {
    const email = String(data.get('email') ?? '').trim();
    const password = String(data.get('password') ?? '');
    if (registering) await api('POST', '/auth/register', { email, password, ...(registration.mode === 'invite' ? { invite: String(data.get('invite') ?? '').trim() } : {}) });
    const { user } = await api('POST', '/auth/login', { email, password }, { quietAuth: true });
    ctx.signedIn(user);
    ctx.navigate('#/live');
  });
  main.append(
    h('h1', null, 'Lookout'),
    h('p', { class: 'muted' }, 'Real-time object detection from your camera, and detection jobs over your own images and videos.'),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Account' },
      h('a', { href: '#/signin', 'aria-current': registering ? null : 'page' }, 'Sign in'),
      closed ? null : h('a', { href: '#/register', 'aria-current': registering ? 'page' : null }, 'Create account'),
    ),
    registering && closed ? h('p', { class: 'notice', role: 'status', 'data-registration': 'closed' }, registration.message) : form,
    !registering && closed ? h('p', { class: 'muted small', 'data-registration': 'closed' }, registration.message) : null,
  );
  /** @type {HTMLInputElement | null} */ (form.querySelector('input'))?.focus();
}
