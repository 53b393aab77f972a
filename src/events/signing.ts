/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256 of
 * "id.timestamp.body">` with the secret's key (the base64 after `whsec_`). The signing itself is the spec's own
 * JavaScript library (`standardwebhooks`, the reference implementation the spec's authors keep), so a receiver
 * that verifies with any Standard Webhooks library agrees with us; a test checks it against the spec's vectors.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new secret: `whsec_` + 24 random bytes in base64 (192 bits; the spec asks for 24 to 64 bytes). */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** A new message id (the webhook-id header): `msg_` + 16 random bytes, url-safe. */
export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** The three headers of one attempt; the timestamp is the attempt's own (the id stays the same across retries). */
export function signedHeaders(secret: string, id: string, at: Date, body: string): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}
