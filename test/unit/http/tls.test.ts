import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfigured, ensureSelfSigned, RENEW_BEFORE_DAYS, TlsConfigError } from '../../../src/http/tls.js';
import { createLogger } from '../../../src/log.js';
import { useTempDir } from '../../helpers/temp-dir.js';

const logger = createLogger('silent');
const dir = useTempDir('lookout-tls-', { each: true });

describe('the self-signed certificate', () => {
  it('is made once with mode 0600, covers localhost and 127.0.0.1, and is reused while valid', async () => {
    const first = await ensureSelfSigned(dir(), logger);
    expect(first.selfSigned).toBe(true);
    for (const f of [first.certFile, first.keyFile]) expect((await stat(f)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(await readFile(first.certFile));
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect((first.notAfter.getTime() - Date.now()) / 86_400_000).toBeGreaterThan(360);
    const pem = await readFile(first.certFile, 'utf8');
    const again = await ensureSelfSigned(dir(), logger);
    expect(await readFile(again.certFile, 'utf8')).toBe(pem);
  });

  it(`is made again when it expires within ${RENEW_BEFORE_DAYS} days`, async () => {
    const first = await ensureSelfSigned(dir(), logger);
    const pem = await readFile(first.certFile, 'utf8');
    const later = new Date(first.notAfter.getTime() - (RENEW_BEFORE_DAYS - 1) * 86_400_000);
    const renewed = await ensureSelfSigned(dir(), logger, later);
    expect(await readFile(renewed.certFile, 'utf8')).not.toBe(pem);
    expect(renewed.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  });
});

describe('TLS_CERT and TLS_KEY', () => {
  it('are accepted when they belong together', async () => {
    const made = await ensureSelfSigned(dir(), logger);
    await expect(checkConfigured(made.certFile, made.keyFile)).resolves.toMatchObject({ selfSigned: false });
  });

  it('are refused with a message naming the variable: unreadable, not PEM, or not a pair', async () => {
    const a = await ensureSelfSigned(path.join(dir(), 'a'), logger);
    const b = await ensureSelfSigned(path.join(dir(), 'b'), logger);
    const garbage = path.join(dir(), 'garbage.pem');
    await writeFile(garbage, 'not a certificate');
    const cases: Array<[string, string, RegExp]> = [
      [path.join(dir(), 'missing.pem'), a.keyFile, /^TLS_CERT .* cannot be read: ENOENT/],
      [a.certFile, path.join(dir(), 'missing-key.pem'), /^TLS_KEY .* cannot be read/],
      [garbage, a.keyFile, /^TLS_CERT .* is not a PEM certificate/],
      [a.certFile, garbage, /^TLS_KEY .* is not a PEM private key/],
      [a.certFile, b.keyFile, /^TLS_KEY .* is not the private key of TLS_CERT/],
    ];
    for (const [cert, key, message] of cases) {
      const err = await checkConfigured(cert, key).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TlsConfigError);
      expect((err as Error).message).toMatch(message);
    }
  });
});
