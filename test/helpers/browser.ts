/**
 * A real browser for end-to-end tests: Debian's Chromium driven by playwright-core (Playwright's own
 * browser downloads cannot run here). Its fake camera plays a Y4M clip made from the face fixture, so the
 * live page sends a real moving face over real WebRTC.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { makeFaceClip } from './media.js';
import { ensureModels } from './onnx-setup.js';
import { startTestServer, type TestServer } from './server.js';

export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../artifacts');

/** CHROMIUM_PATH, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  const p = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
  if (!existsSync(p)) throw new Error(`No Chromium at ${p}: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH.`);
  return p;
}

export async function launchBrowser(opts: { fakeCamera?: string; ignoreCertificateErrors?: boolean; hostRules?: string } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      ...(opts.fakeCamera ? [`--use-file-for-fake-video-capture=${opts.fakeCamera}`] : []),
      ...(opts.ignoreCertificateErrors ? ['--ignore-certificate-errors'] : []),
      // e.g. 'MAP lookout.test 127.0.0.2': a name the browser treats as a remote site, with traffic on loopback.
      ...(opts.hostRules ? [`--host-resolver-rules=${opts.hostRules}`] : []),
    ],
  });
}

/** A Y4M clip of the moving face (Chromium's fake camera loops it). */
export async function makeFakeCamera(outPath: string, opts: { seconds: number; width: number; height: number; fps: number }): Promise<void> {
  const mp4 = outPath.replace(/\.y4m$/, '') + '.mp4';
  await makeFaceClip(mp4, opts);
  await new Promise<void>((resolve, reject) => {
    execFile(process.env['FFMPEG_PATH'] || 'ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', mp4, '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', outPath], { timeout: 120_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`y4m conversion failed: ${stderr}`)) : resolve(),
    );
  });
}

/** Saves a full-page screenshot to test/artifacts/<name>.png (not committed). */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Uncaught errors and console errors of the page. Chromium logs every 4xx answer as "Failed to load
 * resource"; those are the API's expected refusals (the tests check what the page shows for them) and are
 * left out.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/**
 * Evaluates `expr` in the page with the locator's element as `el` (e.g. `'el.value / el.max'`). A source
 * string, because the tests are type-checked without the DOM's types; Playwright sends source to the page
 * in any case.
 */
export function onElement<T>(loc: Locator, expr: string): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const fn = new Function('el', `return (${expr});`) as (el: unknown) => T;
  return loc.evaluate(fn);
}

/** A context and page at `baseURL` with the page's errors collected. */
export async function openPage(browser: Browser, opts: { baseURL: string; width: number; height: number }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: opts.width, height: opts.height }, baseURL: opts.baseURL });
  const page = await context.newPage();
  return { context, page, errors: collectPageErrors(page) };
}

/** Closes the browser and the server and removes the temporary folder (each only if it was made). */
export async function closeAll(browser: Browser | undefined, server: { close(): Promise<void> } | undefined, tmp: string | undefined): Promise<void> {
  await browser?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}

export interface CameraApp {
  server: TestServer;
  tmp: string;
  browser: Browser;
  page: Page;
  errors: string[];
}

/**
 * The setup of a web-app test: models, a temporary folder, a fake camera playing a moving face (8 s, 480x360,
 * 15 fps), a real server (models preloaded, recordings in the folder, `env` on top) and a page in Chromium.
 */
async function startCameraApp(env: Record<string, string>, viewport: { width: number; height: number }): Promise<CameraApp> {
  await ensureModels();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-e2e-'));
  const camera = path.join(tmp, 'camera.y4m');
  await makeFakeCamera(camera, { seconds: 8, width: 480, height: 360, fps: 15 });
  const server = await startTestServer({ PRELOAD_MODELS: 'true', RECORDINGS_DIR: path.join(tmp, 'recordings'), ...env });
  const browser = await launchBrowser({ fakeCamera: camera });
  const { page, errors } = await openPage(browser, { baseURL: server.url, ...viewport });
  return { server, tmp, browser, page, errors };
}

/** Registers beforeAll/afterAll for a test file's CameraApp; the getter works once beforeAll has run. */
export function useCameraApp(env: Record<string, string>, viewport: { width: number; height: number }): () => CameraApp {
  let app: CameraApp | undefined;
  beforeAll(async () => {
    app = await startCameraApp(env, viewport);
  }, 180_000);
  afterAll(() => closeAll(app?.browser, app?.server, app?.tmp));
  return () => {
    if (!app) throw new Error('the app starts in beforeAll');
    return app;
  };
}

/** Registers from the sign-in page, as a person would: the app lands on the Live page, signed in. */
export async function createAccount(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.goto('/');
  await page.waitForURL(/#\/signin$/);
  await page.getByRole('link', { name: 'Create account' }).click();
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/#\/live$/);
}
