/**
 * Webhooks and stored detections in the web app, in a real browser (Chromium) against the real server: the
 * Webhooks page adds a webhook to a real receiver (the secret shown once), lists its deliveries after a live
 * session ends, sends one again and removes the webhook; History plays the session's recording with the stored
 * boxes drawn over it, in sync with the video.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../src/live/client/stream.js';
import { closeAll, createAccount, launchBrowser, onElement, openPage, screenshot } from '../helpers/browser.js';
import { makeFaceClip } from '../helpers/media.js';
import { ensureModels } from '../helpers/onnx-setup.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USER = { email: `events-${Date.now()}@example.com`, password: 'correct horse battery' };
let server: TestServer;
let browser: Browser;
let page: Page;
let errors: string[];
let tmp: string;
let receiver: Receiver;
let token: string;
let sessionId: string;

beforeAll(async () => {
  await ensureModels();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-e2e-events-'));
  server = await startTestServer({ PRELOAD_MODELS: 'true', RECORDINGS_DIR: path.join(tmp, 'recordings'), INITIAL_TOKENS: '500', WEBHOOKS_ALLOW_PRIVATE: 'true' });
  receiver = await startReceiver();
  browser = await launchBrowser();
  ({ page, errors } = await openPage(browser, { baseURL: server.url, width: 1280, height: 900 }));
  await createAccount(page, USER);
  token = ((await (await server.call('POST', '/api/v1/auth/login', { body: USER })).json()) as { token: string }).token;
}, 180_000);
afterAll(async () => {
  await receiver?.close();
  await closeAll(browser, server, tmp);
});

describe('webhooks and stored detections in the web app', () => {
  it('Webhooks: add one (secret shown once), see a live session’s deliveries, send one again, remove it', async () => {
    page.on('dialog', (d) => void d.accept());
    await page.goto('/#/webhooks');
    await page.getByLabel('URL').fill(receiver.url);
    await page.getByRole('checkbox', { name: 'job.completed' }).uncheck();
    await page.getByRole('checkbox', { name: 'job.failed' }).uncheck();
    await page.getByRole('checkbox', { name: 'live.ended' }).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const secret = await page.getByLabel('The signing secret').inputValue();
    expect(secret).toMatch(/^whsec_/);
    await expect.poll(() => page.locator('tr[data-webhook]').count()).toBe(1);
    expect(await page.locator('tr[data-webhook] td').nth(1).textContent()).toBe('live.ended');

    const clip = path.join(tmp, 'face.mp4');
    await makeFaceClip(clip, { seconds: 4, width: 320, height: 240, fps: 15 });
    const sum = await streamFile({ server: server.url, token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: true });
    sessionId = sum.sessionId;
    const [got] = await receiver.until((r) => r.length >= 1);
    expect(new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>)).toMatchObject({ type: 'live.ended', data: { session: { id: sessionId } } });

    await page.getByRole('button', { name: 'Deliveries' }).click();
    const row = page.locator('tr[data-delivery]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td').nth(0).textContent()).toBe('live.ended');
    expect(await row.locator('.badge').textContent()).toBe('delivered');
    expect(await row.locator('td').nth(3).textContent()).toBe('HTTP 200');
    await row.getByRole('button', { name: 'Send again' }).click();
    await receiver.until((r) => r.length >= 2);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(got!.headers['webhook-id']);
    await screenshot(page, 'webhooks');

    await page.getByRole('button', { name: 'Turn off' }).click();
    await expect.poll(() => page.locator('tr[data-webhook] .badge').textContent()).toBe('off');
    await page.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => page.getByText('No webhooks yet.').count()).toBe(1);
    expect(errors).toEqual([]);
  }, 120_000);

  it('History plays the recording with the stored boxes drawn in sync', async () => {
    const frames = (await (await server.call('GET', `/api/v1/live-sessions/${sessionId}/detections?limit=1000`, { token })).json()) as { frames: { t: number; frame: number; objects: unknown[] }[] };
    expect(frames.frames.length).toBeGreaterThan(20);
    await page.goto(`/#/history/${sessionId}`);
    const stage = page.locator('.stage.playback');
    await expect.poll(() => stage.getAttribute('data-loaded'), { timeout: 15_000 }).toBe(String(frames.frames.length));
    const video = stage.locator('video');
    await onElement(video, 'el.play()');
    // Samples while it plays: the frame drawn is the stored frame at the video's time (or its neighbour, as the
    // painted frame and currentTime may be one frame apart), and boxes are on the canvas.
    const samples: { t: number; frame: string; painted: boolean }[] = [];
    for (let i = 0; i < 8; i++) {
      await page.waitForTimeout(300);
      samples.push(
        await page.evaluate<{ t: number; frame: string; painted: boolean }>(`(() => {
          const v = document.querySelector('.stage.playback video');
          const c = document.querySelector('.stage.playback canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let painted = false;
          for (let k = 3; k < d.length; k += 4 * 7) if (d[k] > 0) { painted = true; break; }
          return { t: v.currentTime * 1000, frame: c.dataset.frame, painted };
        })()`),
      );
    }
    const index = (ms: number): number => {
      let found = -1;
      for (const [i, f] of frames.frames.entries()) if (f.t <= ms + 1) found = i;
      return found;
    };
    const withBoxes = samples.filter((s) => s.frame !== '');
    expect(withBoxes.length, JSON.stringify(samples)).toBeGreaterThanOrEqual(6);
    for (const s of withBoxes) {
      const i = index(s.t);
      const near = [i - 1, i, i + 1].map((k) => frames.frames[k]?.frame).filter((f) => f !== undefined).map(String);
      expect(near, `at ${s.t} ms`).toContain(s.frame);
      const drawn = frames.frames.find((f) => String(f.frame) === s.frame)!;
      expect(s.painted).toBe(drawn.objects.length > 0);
    }
    expect(new Set(withBoxes.map((s) => s.frame)).size).toBeGreaterThanOrEqual(5); // it moves with the video
    await screenshot(page, 'history-playback');
    expect(errors).toEqual([]);
  }, 120_000);
});
