/**
 * The Live page's pipeline in a real browser (Chromium, fake camera playing a moving face) against the real
 * server: a classifier and a zone drawn by clicking on the video, boxes labelled with track id and
 * classification, a live count per label, track and zone events, and a mid-session change of the minimum
 * score through live.configure. Then the job form offers the same options.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createAccount, screenshot, useCameraApp } from '../helpers/browser.js';

const USER = { email: `pipeline-${Date.now()}@example.com`, password: 'correct horse battery' };

const app = useCameraApp({ INITIAL_TOKENS: '200', LIVE_RECORD: 'false' }, { width: 1280, height: 900 });

beforeAll(() => createAccount(app().page, USER), 60_000);

describe('pipelines in the web app', () => {
  it('Live: pick a classifier, draw a zone on the video, see labelled tracked boxes, counts and events, change the minimum score mid-session', async () => {
    const { page, errors } = app();
    await page.getByLabel('Model').selectOption('blazeface');
    await page.getByLabel('Classify each box with').selectOption('emotion');
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 30_000 }).toBe('Live');
    const objects = page.locator('ul.objects li');
    // "#1 face 88% · happy 97%": the track id, the label and score, the classifier's answer.
    await expect.poll(() => objects.first().textContent(), { timeout: 30_000 }).toMatch(/^#\d+ face \d+% · (angry|disgust|fear|happy|sad|surprise|neutral) \d+%$/);
    await expect.poll(() => page.locator('ul.counts li[data-label="face"]').textContent(), { timeout: 10_000 }).toMatch(/^face: [1-9]\d*$/);
    await expect.poll(() => page.locator('ol.events li[data-event="track.started"]').count()).toBeGreaterThan(0);

    // Draw a zone over the whole picture by clicking its corners on the video; it is sent with live.configure.
    await page.getByRole('button', { name: 'Draw a zone' }).click();
    await page.locator('.stage video').scrollIntoViewIfNeeded();
    const box = (await page.locator('.stage video').boundingBox())!;
    // The 480x360 picture is drawn "contain" inside the stage: click inside the picture's corners.
    const pic = await page.evaluate<{ x: number; y: number; w: number; h: number }>(`(() => {
      const v = document.querySelector('.stage video');
      const r = v.getBoundingClientRect();
      const s = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
      return { x: (r.width - v.videoWidth * s) / 2, y: (r.height - v.videoHeight * s) / 2, w: v.videoWidth * s, h: v.videoHeight * s };
    })()`);
    for (const [fx, fy] of [[0.01, 0.01], [0.99, 0.01], [0.99, 0.99], [0.01, 0.99]] as const) {
      await page.mouse.click(box.x + pic.x + fx * pic.w, box.y + pic.y + fy * pic.h);
    }
    await page.getByRole('button', { name: 'Finish zone' }).click();
    expect(await page.locator('ul.zones li').textContent()).toBe('zone 1 · counted · 4 points');
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 10_000 }).toBe('Live · settings applied');
    await expect.poll(() => page.locator('ol.events li[data-event="zone.entered"]').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(page, 'live-pipeline');

    // A minimum score no face reaches: the faces are filtered out from the next frames.
    await page.getByLabel('Minimum score').fill('0.999');
    await page.getByLabel('Minimum score').press('Tab');
    await expect.poll(() => page.locator('.stage').getAttribute('data-boxes'), { timeout: 15_000 }).toBe('0');
    await expect.poll(() => objects.first().textContent(), { timeout: 10_000 }).toBe('Nothing found in the latest frame.');
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.locator('[role="status"]').first().textContent(), { timeout: 10_000 }).toMatch(/Session ended/);
    expect(errors).toEqual([]);
  });

  it('the job form offers the classifier and classes, and a classifier as the model', async () => {
    const { page, errors } = app();
    await page.goto('/#/datasets');
    await page.getByLabel('Name').fill('Pipelines');
    await page.getByRole('button', { name: 'Create dataset' }).click();
    await page.waitForURL(/#\/datasets\/[^/]+$/);
    const form = page.locator('form[aria-label="Run a detection job"]');
    await expect.poll(() => form.getByLabel('Classify each box with').locator('option').allTextContents()).toEqual(['None', 'emotion (7 labels)']);
    await form.getByLabel('Model').selectOption('blazeface');
    expect(await form.getByLabel('Keep only').locator('option').allTextContents()).toEqual(['face']);
    await form.getByLabel('Model').selectOption('emotion');
    expect(await form.getByLabel('Classify each box with').isDisabled()).toBe(true);
    expect(errors).toEqual([]);
  });
});
