/**
 * Standard Webhooks signing against the spec's own test vector (standard-webhooks, libraries/javascript
 * webhook.test.ts "sign function works"), checked three ways: our headers, the library's verifier, and an HMAC
 * computed here with node:crypto from the spec's definition.
 */
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newMessageId, newSecret, signedHeaders } from '../../src/events/signing.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const AT = new Date(1614265330 * 1000);
const BODY = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('webhook signing', () => {
  it("gives the spec's test vector", () => {
    expect(signedHeaders(SECRET, ID, AT, BODY)).toEqual({ 'webhook-id': ID, 'webhook-timestamp': '1614265330', 'webhook-signature': EXPECTED });
  });

  it('is HMAC-SHA256 of "id.timestamp.body" with the base64-decoded key, as the spec defines it', () => {
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${ID}.1614265330.${BODY}`).digest('base64');
    expect(`v1,${mac}`).toBe(EXPECTED);
  });

  it('a fresh secret and id sign a body that a Standard Webhooks verifier accepts, and a changed body it refuses', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const id = newMessageId();
    expect(id).toMatch(/^msg_[\w-]{22}$/);
    const headers = signedHeaders(secret, id, new Date(), '{"type":"job.completed"}');
    expect(new Webhook(secret).verify('{"type":"job.completed"}', headers)).toEqual({ type: 'job.completed' });
    expect(() => new Webhook(secret).verify('{"type":"job.failed"}', headers)).toThrow();
    expect(() => new Webhook(newSecret()).verify('{"type":"job.completed"}', headers)).toThrow();
  });
});
