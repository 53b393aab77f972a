/**
 * The web app in a real browser (Debian's Chromium through playwright-core) against the real server, real
 * database, real ffmpeg and real models. The fake camera plays a generated clip of a moving face, so the live
 * page runs a real WebRTC session. The tests run in order and share one signed-in user, as a person would.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { collectPageErrors, createAccount, onElement, screenshot, useCameraApp } from '../helpers/browser.js';
import { makeImages } from '../helpers/datasets.js';
import { makeFaceClip } from '../helpers/media.js';
import { makeZip } from '../helpers/zip.js';

const ADMIN = { email: 'admin@example.com', password: 'admin password 1' };
const USER = { email: `user-${Date.now()}@example.com`, password: 'correct horse battery' };
const INITIAL_TOKENS = 100;

const app = useCameraApp(
  { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, INITIAL_TOKENS: String(INITIAL_TOKENS), UPLOAD_MAX_BYTES: String(8 * 1024 * 1024) },
  { width: 1280, height: 860 },
);


/** The elements that reach past the right edge of a narrow screen, for a failure message. */
function overflowing(p: Page): Promise<string> {
  return p.evaluate<string>(`[...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > 360.5)
    .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right))
    .slice(0, 8).join(', ')`);
}

/** The header's balance, as a number. */
async function headerBalance(p: Page): Promise<number> {
  return Number((await p.locator('#balance').textContent())?.replace(/,/g, ''));
}

describe('web app', () => {
  it('registers, refuses a wrong password with a readable message, and signs in', async () => {
    const { page } = app();
    await createAccount(page, USER);
    await expect.poll(() => page.locator('#account-email').textContent()).toBe(USER.email);
    expect(await headerBalance(page)).toBe(INITIAL_TOKENS);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/#\/signin$/);
    await page.getByLabel('Email').fill(USER.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('main [role="alert"]');
    await expect.poll(() => alert.textContent()).toMatch(/wrong email or password/i);
    await expect.poll(() => alert.textContent()).toContain('UNAUTHENTICATED');

    await page.getByLabel('Password').fill(USER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/#\/live$/);
    expect(await headerBalance(page)).toBe(INITIAL_TOKENS);
  });

  it('creates an API key that is shown once and works, lists it by prefix, and revokes it', async () => {
    const { server, page } = app();
    await page.goto('/#/keys');
    await page.getByLabel('Name').fill('Garage camera');
    await page.getByRole('button', { name: 'Create key' }).click();
    const field = page.getByLabel('The new key');
    await field.waitFor();
    const key = await field.inputValue();
    expect(key).toMatch(/^lk_[a-z2-7]{32}$/);
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(USER.email);
    const row = page.locator('tbody tr', { hasText: 'Garage camera' });
    await expect.poll(() => row.textContent()).toContain(`${key.slice(0, 9)}…`);
    await screenshot(page, 'api-keys');
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.locator('main').textContent()).toContain('No API keys yet.');
    expect((await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
  });

  it('streams the camera live, draws boxes over it and shows stats that change', async () => {
    const { page, errors } = app();
    await page.goto('/#/live');
    await page.getByLabel('Model').selectOption('blazeface');
    await page.getByLabel('Latency budget (ms)').fill('150');
    await page.getByRole('button', { name: 'Start' }).click();
    const stage = page.locator('.stage');
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 30_000 }).toBe('Live');
    // Boxes drawn: the overlay reports how many it drew for the latest frame.
    await expect.poll(async () => Number(await stage.getAttribute('data-boxes')), { timeout: 30_000 }).toBeGreaterThan(0);
    const firstFrame = Number(await stage.getAttribute('data-frame'));
    // ...and the canvas really has them: pixels of the box colour, where the overlay is otherwise clear.
    const drawn = await page.evaluate<number>(`(() => {
      const c = document.querySelector('.stage canvas');
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    })()`);
    expect(drawn).toBeGreaterThan(100);
    const processed = page.locator('[data-stat="processed"]');
    await expect.poll(() => processed.textContent(), { timeout: 10_000 }).toMatch(/^\d+ of \d+$/);
    const before = Number((await processed.textContent())!.split(' ')[0]);
    await expect.poll(async () => Number((await processed.textContent())!.split(' ')[0]), { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(async () => parseFloat((await page.locator('[data-stat="fps"]').textContent()) ?? ''), { timeout: 30_000 }).toBeGreaterThan(0); // a figure is shown; how high depends on the machine
    expect(await page.locator('[data-stat="p95"]').textContent()).toMatch(/^\d+ ms$/);
    expect(Number(await stage.getAttribute('data-frame'))).toBeGreaterThan(firstFrame);
    // Tokens are being spent, and the header's balance follows without a reload.
    await expect.poll(() => headerBalance(page), { timeout: 10_000 }).toBeLessThan(INITIAL_TOKENS);
    await screenshot(page, 'live');

    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 10_000 }).toMatch(/Session ended\. You stopped the session\./);
    expect(await stage.getAttribute('data-ended')).toBe('stopped');

    // The session is in the history, with its figures and a recording Chromium can play.
    await page.getByRole('link', { name: 'History' }).click();
    const session = page.locator('tr[data-session]');
    await expect.poll(() => session.count()).toBe(1);
    expect(await session.locator('td').nth(1).textContent()).toBe('blazeface');
    expect(await session.locator('td').last().textContent()).toBe('stopped');
    await session.getByRole('link').click();
    await page.waitForURL(/#\/history\/[^/]+$/);
    const recording = page.locator('video.recording');
    await expect.poll(() => onElement<number>(recording, 'el.readyState'), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    expect(await onElement<number>(recording, 'el.videoWidth')).toBe(480);
    expect(errors).toEqual([]);
  });

  it('creates a dataset, uploads a zip and a video with progress and cost, refuses a text file, runs a job to 100% and opens annotated results', async () => {
    const { tmp, page, errors } = app();
    const images = await makeImages(4);
    const zip = path.join(tmp, 'photos.zip');
    await writeFile(zip, makeZip(images.map((i) => ({ name: `photos/${i.name}`, data: i.bytes, method: 'deflate' }))));
    const video = path.join(tmp, 'walk.mp4');
    await makeFaceClip(video, { seconds: 2, width: 320, height: 240, fps: 10 });
    const text = path.join(tmp, 'notes.txt');
    await writeFile(text, 'just some notes, not media\n'.repeat(20));

    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.waitForURL(/#\/datasets$/);
    await page.getByLabel('Name').fill('Holiday');
    await page.getByLabel('Tags (comma separated)').fill('beach, 2026');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.waitForURL(/#\/datasets\/[^/]+$/);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Holiday');

    // Three files picked at once: uploaded one after the other, each with its own bar and outcome.
    await page.locator('input[type="file"]').setInputFiles([zip, video, text]);
    const row = (name: string) => page.locator(`.uploads li[data-upload="${name}"]`);
    await expect.poll(() => row('photos.zip').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(await row('photos.zip').locator('.result').textContent()).toBe('Added 4 files from the archive · job cost 3.00 tokens');
    await expect.poll(() => row('walk.mp4').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(await row('walk.mp4').locator('.result').textContent()).toBe('Added: walk.mp4, video 320×240, 20 frames · job cost 10.00 tokens');
    expect(await onElement(row('walk.mp4').locator('progress'), 'el.value / el.max')).toBe(1);
    await expect.poll(() => row('notes.txt').getAttribute('data-state'), { timeout: 30_000 }).toBe('failed');
    expect(await row('notes.txt').locator('.result').textContent()).toMatch(/^The file is not .+\(UNSUPPORTED_MEDIA\)$/);
    // Over the server's upload limit (8 MiB here): refused with the server's own message.
    const big = path.join(tmp, 'big.mp4');
    await writeFile(big, Buffer.alloc(24 * 1024 * 1024, 1));
    await page.locator('input[type="file"]').setInputFiles(big);
    await expect.poll(() => row('big.mp4').getAttribute('data-state'), { timeout: 30_000 }).toBe('failed');
    expect(await row('big.mp4').locator('.result').textContent()).toMatch(/^.+ \(PAYLOAD_TOO_LARGE\)$/);
    // The refused file left nothing: 5 files listed, and the server agrees.
    await expect.poll(() => page.locator('tr[data-file]').count()).toBe(5);
    expect(await page.locator('[data-cost]').textContent()).toContain('This job costs 13.00 tokens (4 images, 20 video frames)');

    // Rename and re-tag.
    await page.getByLabel('Name').fill('Holiday 2026');
    await page.getByLabel('Tags (comma separated)').fill('beach, family');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Holiday 2026');
    await expect.poll(() => page.locator('[data-summary] .tag').allTextContents()).toEqual(['beach', 'family']);

    const balanceBefore = await headerBalance(page);
    await page.getByLabel('Model').selectOption('blazeface');
    await page.getByRole('button', { name: 'Start job' }).click();
    await page.waitForURL(/#\/jobs$/);
    const job = page.locator('tr[data-job]').first();
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 60_000 }).toBe('completed');
    expect(await onElement(job.locator('progress'), 'el.value / el.max')).toBe(1);
    expect(await job.locator('.progress-cell').textContent()).toContain('24 / 24 · 100%');
    expect(await job.locator('td').first().textContent()).toBe('Holiday 2026');
    await expect.poll(() => headerBalance(page)).toBeCloseTo(balanceBefore - 13, 3);

    await job.getByRole('link', { name: 'Results' }).click();
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    const figures = page.locator('.gallery figure');
    await expect.poll(() => figures.count(), { timeout: 15_000 }).toBe(5);
    // The annotated images load (real JPEGs from the server), and the face photo has a face found.
    const img = page.locator('figure[data-kind="image"] img').first();
    await expect.poll(() => onElement<number>(img, 'el.complete ? el.naturalWidth : 0'), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('figure[data-kind="image"] figcaption').allTextContents()).toContainEqual(expect.stringMatching(/found: \d+ face/));
    // The annotated video plays: Chromium reads its metadata (duration of 2 s) from the server.
    const vid = page.locator('figure[data-kind="video"] video');
    await expect.poll(() => onElement<number>(vid, 'el.readyState'), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    expect(await onElement<number>(vid, 'el.duration')).toBeCloseTo(2, 0);
    expect(await page.locator('figure[data-kind="video"] figcaption').textContent()).toMatch(/20 frames, objects in \d+: \d+ face/);
    await screenshot(page, 'results');
    // Exports: the buttons download COCO JSON and CSV of these results.
    const coco = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export COCO JSON' }).click();
    expect((await coco).suggestedFilename()).toMatch(/^job-[0-9a-f-]+\.coco\.json$/);
    const csv = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export CSV' }).click();
    const lines = (await readFile(await (await csv).path(), 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('file,frame,label,score,x1,y1,x2,y2,classification,classification_score,track_id,zones');
    expect(lines.length).toBeGreaterThan(1);
    expect(errors).toEqual([]);
  });

  it('shows insufficient tokens as a message, and an admin top-up updates the balance without a reload', async () => {
    const { server, tmp, browser, page, errors } = app();
    // A dataset that costs more than the balance: 20 s at 10 fps = 200 frames = 100 tokens.
    const long = path.join(tmp, 'long.mp4');
    await makeFaceClip(long, { seconds: 20, width: 160, height: 120, fps: 10 });
    await page.goto('/#/datasets');
    await page.getByLabel('Name').fill('Long');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.waitForURL(/#\/datasets\/[^/]+$/);
    await page.locator('input[type="file"]').setInputFiles(long);
    await expect.poll(() => page.locator('.uploads li').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    const balance = await headerBalance(page);
    expect(balance).toBeLessThan(100);
    await expect.poll(() => page.locator('[data-cost]').textContent()).toContain('Your balance is too low for this job');
    await page.getByRole('button', { name: 'Start job' }).click();
    const alert = page.locator('form[aria-label="Run a detection job"] [role="alert"]');
    await expect.poll(() => alert.textContent()).toMatch(/^This needs 100 tokens and the balance is too low\. \(INSUFFICIENT_TOKENS\)$/);
    expect(page.url()).toMatch(/#\/datasets\/[^/]+$/);
    expect(await headerBalance(page)).toBe(balance); // nothing charged

    // The admin, in a browser of their own.
    const adminContext = await browser.newContext({ viewport: { width: 1100, height: 800 }, baseURL: server.url });
    try {
      const admin = await adminContext.newPage();
      const adminErrors = collectPageErrors(admin);
      await admin.goto('/#/signin');
      await admin.getByLabel('Email').fill(ADMIN.email);
      await admin.getByLabel('Password').fill(ADMIN.password);
      await admin.getByRole('button', { name: 'Sign in' }).click();
      await admin.waitForURL(/#\/live$/);
      await admin.getByRole('link', { name: 'Admin' }).click();
      const userRow = admin.locator(`tr[data-user="${USER.email}"]`);
      await expect.poll(() => userRow.locator('[data-balance]').textContent()).toBe(balance.toFixed(2));
      await userRow.getByRole('button', { name: `Change the balance of ${USER.email}` }).click();
      expect(await admin.getByLabel('User email').inputValue()).toBe(USER.email);
      await admin.getByLabel('Tokens').fill('250.5');
      await admin.getByLabel('Kind').selectOption('top-up');
      await admin.getByRole('button', { name: 'Apply', exact: true }).click();
      await expect.poll(() => admin.locator('form[aria-label="Change a balance"] [role="status"]').textContent()).toContain(`Added 250.50 tokens to ${USER.email}.`);
      await expect.poll(() => userRow.locator('[data-balance]').textContent()).toBe((balance + 250.5).toFixed(2));
      await userRow.getByRole('button', { name: `Ledger of ${USER.email}` }).click();
      await expect.poll(() => admin.locator('tr[data-reason="top_up"]').count()).toBe(1);
      expect(await admin.locator('tr[data-reason="top_up"] td').nth(2).textContent()).toBe('+250.50');
      await screenshot(admin, 'admin');
      expect(adminErrors).toEqual([]);
    } finally {
      await adminContext.close();
    }

    // The user's page learnt of it over the WebSocket: header and the cost line both.
    await expect.poll(() => headerBalance(page), { timeout: 10_000 }).toBeCloseTo(balance + 250.5, 3);
    await expect.poll(() => page.locator('[data-cost]').textContent()).not.toContain('too low');

    // Now the long job runs; the jobs page shows its progress as it goes, from the WebSocket alone.
    await page.getByRole('button', { name: 'Start job' }).click();
    await page.waitForURL(/#\/jobs$/);
    const job = page.locator('tr[data-job]').first();
    await expect.poll(() => job.locator('td').first().textContent()).toBe('Long');
    // Every progress text the row shows, recorded in the page as it changes.
    await page.evaluate(`(() => {
      window.seen = [];
      const tbody = document.querySelector('tbody');
      const note = () => { const r = tbody.querySelector('tr[data-job]'); window.seen.push(r.dataset.state + ' ' + r.querySelector('.progress-cell').textContent); };
      note();
      new MutationObserver(note).observe(tbody, { childList: true, subtree: true });
    })()`);
    await expect.poll(async () => /^running [1-9]\d* \/ 200/.test((await job.getAttribute('data-state')) + ' ' + (await job.locator('.progress-cell').textContent())), { timeout: 30_000, interval: 50 }).toBe(true);
    await screenshot(page, 'jobs');
    await expect.poll(() => job.getAttribute('data-state'), { timeout: 120_000 }).toBe('completed');
    const seen = await page.evaluate<string[]>('window.seen');
    expect(seen.at(-1)).toBe('completed 200 / 200 · 100%');
    const partial = seen.filter((t) => /^running [1-9]\d* \/ 200 · (\d|[1-9]\d)%$/.test(t));
    expect(partial.length, seen.join('\n')).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  it('is usable on a 360 px wide phone screen, live camera included, and from the keyboard', async () => {
    const { server, browser } = app();
    const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, baseURL: server.url });
    try {
      const p = await phone.newPage();
      const phoneErrors = collectPageErrors(p);
      // Sign in from the keyboard alone: the email field has the focus, Tab moves on, Enter submits.
      await p.goto('/#/signin');
      await expect.poll(() => p.evaluate<string | null>('document.activeElement && document.activeElement.getAttribute("name")')).toBe('email');
      await p.keyboard.type(USER.email);
      await p.keyboard.press('Tab');
      await p.keyboard.type(USER.password);
      await p.keyboard.press('Enter');
      await p.waitForURL(/#\/live$/);
      // Tab to the Jobs link and follow it (past the Live page's controls, the tab order wraps to the header).
      let onJobs = false;
      for (let i = 0; i < 60 && !onJobs; i++) {
        await p.keyboard.press('Tab');
        onJobs = (await p.evaluate<string | null>('document.activeElement && document.activeElement.getAttribute("href")')) === '#/jobs';
      }
      expect(onJobs).toBe(true);
      await p.keyboard.press('Enter');
      await p.waitForURL(/#\/jobs$/);

      // No page scrolls sideways at 360 px.
      for (const hash of ['#/live', '#/datasets', '#/jobs', '#/history', '#/tokens', '#/keys']) {
        await p.goto(`/${hash}`);
        await p.reload(); // a fresh layout: a phone keeps its zoom across same-document navigations
        await p.locator('h1').waitFor();
        await p.waitForLoadState('networkidle');
        expect(await p.evaluate<number>('document.documentElement.scrollWidth'), `${hash}: ${await overflowing(p)}`).toBeLessThanOrEqual(360);
        await screenshot(p, `phone-${hash.slice(2)}`);
      }
      const dataset = await p.evaluate<string>('(async () => (await (await fetch("/api/v1/datasets")).json()).datasets[0].id)()');
      await p.goto(`/#/datasets/${dataset}`);
      await p.locator('tr[data-file]').first().waitFor();
      expect(await p.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);

      // The live page works on the phone as on the desktop.
      await p.goto('/#/live');
      await p.getByRole('button', { name: 'Start' }).click();
      await expect.poll(async () => Number(await p.locator('.stage').getAttribute('data-boxes')), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(async () => parseFloat((await p.locator('[data-stat="fps"]').textContent()) ?? ''), { timeout: 30_000 }).toBeGreaterThan(0); // a figure is shown; how high depends on the machine
      expect(await p.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
      await screenshot(p, 'live-phone');
      await p.getByRole('button', { name: 'Stop' }).click();
      await expect.poll(() => p.locator('.stage').getAttribute('data-ended'), { timeout: 10_000 }).toBe('stopped');
      expect(phoneErrors).toEqual([]);
    } finally {
      await phone.close();
    }
  }, 150_000); // sign-in, six pages each reloaded to network idle, a dataset and a live camera: minutes on a loaded 2-core machine
});
