/**
 * The SSRF guard for webhook URLs. A URL is checked by resolving its host and classifying every address with
 * `ipaddr.js` (the maintained parser that knows the IANA special-purpose ranges, IPv4-mapped IPv6 included):
 * anything but public unicast (loopback, private, link-local, unique-local, CGNAT, multicast, reserved…) is
 * refused unless the operator allows private targets (WEBHOOKS_ALLOW_PRIVATE). The delivery then connects to
 * the very address that was checked (`lookup` pinned), so a second DNS answer cannot move it (DNS rebinding),
 * and it follows no redirects (Node's http client never does).
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';

export const MAX_URL_LENGTH = 2048;

export interface Target {
  readonly url: URL;
  /** The checked address to connect to. */
  readonly address: string;
  readonly family: 4 | 6;
}

/** The range name (`unicast` for public addresses), after unwrapping IPv4-mapped IPv6. */
export function rangeOf(address: string): string {
  return ipaddr.process(address).range();
}

/** Parses and checks the form of a webhook URL (http or https, at most 2,048 characters, no credentials). */
export function parseWebhookUrl(raw: unknown): URL {
  if (typeof raw !== 'string' || raw.length === 0) throw new AppError('VALIDATION_FAILED', 'url is required: an http:// or https:// address.');
  if (raw.length > MAX_URL_LENGTH) throw new AppError('VALIDATION_FAILED', `url is longer than ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('VALIDATION_FAILED', 'url is not a valid address.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('VALIDATION_FAILED', `url must be http:// or https://, not ${url.protocol}//.`);
  if (url.username || url.password) throw new AppError('VALIDATION_FAILED', 'url must not carry a user name or password.');
  url.hash = '';
  return url;
}

/**
 * Resolves the URL's host and checks every address; returns the first. Throws VALIDATION_FAILED (the name does
 * not resolve, or an address is not public and private targets are not allowed).
 */
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<Target> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = ipaddr.isValid(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await lookup(host, { all: true, verbatim: true });
  } catch {
    throw new AppError('VALIDATION_FAILED', `The webhook host ${host} does not resolve.`);
  }
  if (addresses.length === 0) throw new AppError('VALIDATION_FAILED', `The webhook host ${host} does not resolve.`);
  if (!allowPrivate) {
    for (const a of addresses) {
      const range = rangeOf(a.address);
      if (range !== 'unicast') {
        throw new AppError('VALIDATION_FAILED', `The webhook host ${host} resolves to ${a.address} (${range}), which is not a public address; the operator can allow private targets with WEBHOOKS_ALLOW_PRIVATE=true.`);
      }
    }
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
