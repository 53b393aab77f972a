/** "Open on your phone": the addresses another device on this network can open, each with a QR code. */
import QRCode from 'qrcode';
import { lanAddresses } from '../tls.js';
import type { AppDeps } from '../deps.js';
import { json } from '../respond.js';
import { jsonResponse, obj, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';

export function deviceRoutes(deps: AppDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/device-links',
      access: 'user',
      doc: {
        summary: 'Addresses to open the web app from a phone, with QR codes',
        description:
          'One link per network address of this server, on HTTPS when it is on (phones give the camera only to secure pages), ' +
          'each with an SVG QR code. `httpsPort` is 0 when HTTPS is off.',
        tags: ['Operations'],
        responses: {
          '200': jsonResponse(
            'Links',
            obj({
              httpsPort: { type: 'integer' },
              links: { type: 'array', items: obj({ url: { type: 'string' }, qrSvg: { type: 'string' } }) },
            }),
          ),
          ...UNAUTH,
        },
      },
      handler: async () => {
        const httpsPort = deps.ports.https();
        const host = deps.config.host;
        const ips = host === '0.0.0.0' || host === '::' ? lanAddresses() : host === '127.0.0.1' || host === 'localhost' ? [] : [host];
        const urls = ips.map((ip) => (httpsPort > 0 ? `https://${ip}:${httpsPort}/#/live` : `http://${ip}:${deps.ports.http()}/#/live`));
        const links = await Promise.all(urls.map(async (url) => ({ url, qrSvg: await QRCode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }) })));
        return json(200, { httpsPort, links });
      },
    },
  ];
}
