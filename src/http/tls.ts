/**
 * The certificate HTTPS serves: the operator's (TLS_CERT + TLS_KEY, checked to be readable PEM that belong
 * together), or a self-signed one made with `selfsigned` (a maintained generator on @peculiar/x509; no hand-made
 * ASN.1) at first start under DATA_DIR/tls, kept with mode 0600, reused while it is valid for more than
 * RENEW_BEFORE_DAYS and covers this machine's addresses, and made again otherwise.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import type { Logger } from '../log.js';

export const RENEW_BEFORE_DAYS = 30;
const VALID_DAYS = 365;
const DAY_MS = 86_400_000;

export interface TlsMaterial {
  readonly certFile: string;
  readonly keyFile: string;
  readonly selfSigned: boolean;
  readonly notAfter: Date;
}

/** A TLS setting that cannot be used; the message names the variable. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

/** IPv4 addresses of this machine's network interfaces that other devices can reach (not loopback). */
export function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
  }
  return out;
}

/** Checks operator-given PEM files: readable, a certificate and a private key, and the key the certificate's. */
export async function checkConfigured(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const read = async (file: string, name: string): Promise<string> =>
    readFile(file, 'utf8').catch((err: unknown) => {
      throw new TlsConfigError(`${name} (${file}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}.`);
    });
  const certPem = await read(certFile, 'TLS_CERT');
  const keyPem = await read(keyFile, 'TLS_KEY');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new TlsConfigError(`TLS_CERT (${certFile}) is not a PEM certificate.`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new TlsConfigError(`TLS_KEY (${keyFile}) is not a PEM private key (or it is encrypted).`);
  }
  if (!cert.checkPrivateKey(key)) throw new TlsConfigError(`TLS_KEY (${keyFile}) is not the private key of TLS_CERT (${certFile}).`);
  return { certFile, keyFile, selfSigned: false, notAfter: new Date(cert.validTo) };
}

/** The self-signed certificate under `dir`, made or made again when missing, expiring, or missing an address. */
export async function ensureSelfSigned(dir: string, logger: Logger, now = new Date()): Promise<TlsMaterial> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const addresses = ['127.0.0.1', ...lanAddresses()];
  const existing = await checkConfigured(certFile, keyFile).catch(() => undefined);
  if (existing) {
    const cert = new X509Certificate(await readFile(certFile, 'utf8'));
    const covers = addresses.every((ip) => cert.checkIP(ip) !== undefined);
    if (covers && existing.notAfter.getTime() - now.getTime() > RENEW_BEFORE_DAYS * DAY_MS) return { ...existing, selfSigned: true };
    logger.info({ notAfter: existing.notAfter, covers }, 'renewing the self-signed HTTPS certificate');
  }
  const notAfter = new Date(now.getTime() + VALID_DAYS * DAY_MS);
  const pems = await selfsigned.generate([{ name: 'commonName', value: `Lookout on ${os.hostname()}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 2, value: os.hostname() },
          { type: 7, ip: '::1' },
          ...addresses.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Written under temporary names, then renamed: a reader never sees half a key or a key without its certificate.
  for (const [file, pem] of [[keyFile, pems.private], [certFile, pems.cert]] as const) {
    await writeFile(`${file}.tmp`, pem, { mode: 0o600 });
    await chmod(`${file}.tmp`, 0o600);
    await rename(`${file}.tmp`, file);
  }
  logger.info({ certFile, notAfter, addresses }, 'made a self-signed HTTPS certificate');
  return { certFile, keyFile, selfSigned: true, notAfter };
}

/** The operator's certificate when configured, else the self-signed one under `dataDir/tls`. */
export async function tlsMaterial(cfg: { certFile: string | undefined; keyFile: string | undefined }, dataDir: string, logger: Logger): Promise<TlsMaterial> {
  if (cfg.certFile && cfg.keyFile) return checkConfigured(cfg.certFile, cfg.keyFile);
  return ensureSelfSigned(path.join(dataDir, 'tls'), logger);
}
