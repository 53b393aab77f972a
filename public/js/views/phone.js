// "Open on your phone": this server's addresses on the local network, each with a QR code to scan.
import { api } from '../api.js';
import { errorBox, h } from '../dom.js';

export async function render(main) {
  document.title = 'Open on your phone · Lookout';
  const box = errorBox();
  const list = h('div', { class: 'phone-links' });
  main.append(
    h('h1', null, 'Open on your phone'),
    h(
      'p',
      null,
      'Scan a code with a phone on the same network as this server. Phones share their camera only with secure pages, ',
      'so the links use HTTPS; with the server’s own certificate, the browser warns once: accept it to go on.',
    ),
    box.el,
    list,
  );
  try {
    const { links, httpsPort } = await api('GET', '/device-links');
    if (links.length === 0) {
      list.append(
        h('p', { class: 'empty' }, httpsPort > 0
          ? 'This server listens on one address only (HOST); start it with HOST=0.0.0.0 to be reachable from other devices.'
          : 'HTTPS is off (HTTPS_PORT=0) and this server listens on one address only.'),
      );
    }
    for (const link of links) {
      const svg = new DOMParser().parseFromString(link.qrSvg, 'image/svg+xml').documentElement;
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', `QR code for ${link.url}`);
      svg.setAttribute('width', '220');
      svg.setAttribute('height', '220');
      list.append(h('figure', { class: 'panel phone-link' }, svg, h('figcaption', null, h('a', { href: link.url }, link.url))));
    }
  } catch (err) {
    box.show(err);
  }
}
