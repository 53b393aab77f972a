/**
 * The phone path: the web app opened over the server's own HTTPS at an address that is not localhost
 * (https://127.0.0.2, self-signed certificate, so no localhost exemption makes the page secure), where the camera
 * works and boxes come back; the "Open on your phone" page shows this server's addresses as QR codes.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lanAddresses } from '../../src/http/tls.js';
import { closeAll, launchBrowser, makeFakeCamera, openPage, screenshot } from '../helpers/browser.js';
import { ensureModels } from '../helpers/onnx-setup.js';
import { freePort } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let tmp: string;
let browser: Browser;
let page: Page;
let errors: string[];
let origin: string;

beforeAll(async () => {
  await ensureModels();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-e2e-https-'));
  const camera = path.join(tmp, 'camera.y4m');
  await makeFakeCamera(camera, { seconds: 6, width: 480, height: 360, fps: 15 });
  // Every address, so that 127.0.0.2 (not localhost) reaches it; HTTPS on a port of its own.
  server = await startTestServer({ HOST: '0.0.0.0', HTTPS_PORT: String(await freePort()), PRELOAD_MODELS: 'true', RECORDINGS_DIR: path.join(tmp, 'rec'), INITIAL_TOKENS: '100' });
  origin = `https://127.0.0.2:${server.app.httpsPort}`;
  browser = await launchBrowser({ fakeCamera: camera, ignoreCertificateErrors: true });
  ({ page, errors } = await openPage(browser, { baseURL: origin, width: 390, height: 800 }));
}, 180_000);

afterAll(() => closeAll(browser, server, tmp));

describe('a phone on the same network', () => {
  it('opens the web app over HTTPS at a non-local address, streams the camera and gets boxes', async () => {
    await page.goto('/');
    expect(await page.evaluate<boolean>('window.isSecureContext')).toBe(true);
    expect(await page.evaluate<string>('location.protocol')).toBe('https:');
    await page.getByRole('link', { name: 'Create account' }).click();
    await page.getByLabel('Email').fill(`phone-${Date.now()}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/#\/live$/);
    // The cookie of an HTTPS origin is Secure.
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'lookout_session')?.secure).toBe(true);
    await expect.poll(() => page.locator('.notice.insecure').isVisible()).toBe(false);
    await page.getByLabel('Model').selectOption('blazeface');
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 30_000 }).toBe('Live');
    await expect.poll(async () => Number(await page.locator('.stage').getAttribute('data-boxes')), { timeout: 30_000 }).toBeGreaterThan(0);
    await screenshot(page, 'phone-https-live');
    await page.getByRole('button', { name: 'Stop' }).click();
  });

  it('the "Open on your phone" page shows each network address as an HTTPS link with a QR code', async () => {
    await page.goto('/#/phone');
    await page.locator('h1', { hasText: 'Open on your phone' }).waitFor();
    const lan = lanAddresses();
    if (lan.length > 0) {
      await expect.poll(() => page.locator('.phone-link svg').count()).toBe(lan.length);
      const links = await page.locator('.phone-link a').allTextContents();
      expect(links).toEqual(lan.map((ip) => `https://${ip}:${server.app.httpsPort}/#/live`));
    } else {
      await expect.poll(() => page.locator('.phone-links').textContent()).toMatch(/one address only/);
    }
    await screenshot(page, 'phone-qr');
    expect(errors).toEqual([]);
  });

  it('over plain http at a non-local address the Live page says why the camera is blocked and links to HTTPS', async () => {
    // A name Chromium treats as a remote site (127.0.0.0/8 would count as secure), resolved to loopback.
    const remote = await launchBrowser({ hostRules: 'MAP lookout.test 127.0.0.2' });
    try {
      const p = await (await remote.newContext({ baseURL: `http://lookout.test:${server.app.port}` })).newPage();
      await p.goto('/');
      expect(await p.evaluate<boolean>('window.isSecureContext')).toBe(false);
      await p.getByRole('link', { name: 'Create account' }).click();
      await p.getByLabel('Email').fill(`plain-${Date.now()}@example.com`);
      await p.getByLabel('Password').fill('correct horse battery');
      await p.getByRole('button', { name: 'Create account' }).click();
      await p.waitForURL(/#\/live$/);
      const notice = p.locator('.notice.insecure');
      await expect.poll(() => notice.textContent()).toMatch(/plain http.*will not share the camera.*Open it over HTTPS instead: https:\/\//);
      expect(await notice.locator('a').getAttribute('href')).toBe(`https://lookout.test:${server.app.httpsPort}/#/live`);
      await screenshot(p, 'live-plain-http');
    } finally {
      await remote.close();
    }
  });
});
