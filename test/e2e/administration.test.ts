/**
 * The admin pages and closed sign-ups in Chromium, against a real server with REGISTRATION=closed: the sign-up
 * form is gone and the page says why; an admin searches users, disables one (after a confirmation), takes tokens
 * away with a reason the ledger shows, and reads it all in the audit log.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/accounts/users.js';
import { closeAll, launchBrowser, openPage, screenshot } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ADMIN = { email: 'admin@example.com', password: 'admin password 1' };
const USERS = ['ana@example.com', 'bruno@example.com', 'carla@example.com'];
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer({ REGISTRATION: 'closed', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, SIGNUP_TOKENS: '10' });
  // Sign-ups are closed: the accounts an operator would have made.
  for (const email of USERS) await createUser(server.app.database.db, { email, password: 'a good password', initialMilli: 10_000 });
  browser = await launchBrowser();
}, 120_000);
afterAll(() => closeAll(browser, server, undefined));

async function signIn(page: Page): Promise<void> {
  await page.goto('/#/signin');
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/#\/live$/);
}

describe('administration in the web app', () => {
  it('with REGISTRATION=closed there is no sign-up form, and the page says why', async () => {
    const { context, page, errors } = await openPage(browser, { baseURL: server.url, width: 360, height: 740 });
    try {
      await page.goto('/#/signin');
      await expect.poll(() => page.locator('[data-registration="closed"]').textContent()).toBe('Sign-ups are closed on this server: ask its administrator for an account.');
      expect(await page.getByRole('link', { name: 'Create account' }).count()).toBe(0);
      await page.goto('/#/register');
      await expect.poll(() => page.locator('[data-registration="closed"][role="status"]').isVisible()).toBe(true);
      expect(await page.getByRole('button', { name: 'Create account' }).count()).toBe(0);
      await screenshot(page, 'registration-closed');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('an admin searches, disables, adjusts with a reason, and reads the audit log', async () => {
    const { context, page, errors } = await openPage(browser, { baseURL: server.url, width: 1200, height: 900 });
    try {
      page.on('dialog', (d) => void d.accept());
      await signIn(page);
      await page.getByRole('link', { name: 'Admin' }).click();
      await expect.poll(() => page.locator('tr[data-user]').count()).toBe(4);
      await page.getByLabel('Search users by email').fill('bru');
      await expect.poll(() => page.evaluate<string[]>(`[...document.querySelectorAll('tr[data-user]')].map((r) => r.dataset.user)`)).toEqual(['bruno@example.com']);
      const row = page.locator('tr[data-user="bruno@example.com"]');
      await row.getByRole('button', { name: 'Disable bruno@example.com' }).click();
      await expect.poll(() => page.locator('tr[data-user="bruno@example.com"]').getAttribute('data-state')).toBe('disabled');
      const signedIn = await server.call('POST', '/api/v1/auth/login', { body: { email: 'bruno@example.com', password: 'a good password' } });
      expect(signedIn.status).toBe(403);

      await page.locator('tr[data-user="bruno@example.com"]').getByRole('button', { name: 'Change the balance of bruno@example.com' }).click();
      await page.getByLabel('Tokens').fill('-2.5');
      await page.getByLabel('Reason (shown in the user’s ledger)').fill('Duplicate welcome credit');
      await page.getByRole('button', { name: 'Apply', exact: true }).click();
      await expect.poll(() => page.locator('form[aria-label="Change a balance"] [role="status"]').textContent()).toBe('Took 2.50 tokens from bruno@example.com. New balance: 7.50.');
      await page.locator('tr[data-user="bruno@example.com"]').getByRole('button', { name: 'Ledger of bruno@example.com' }).click();
      await expect.poll(() => page.locator('tr[data-reason="adjustment"] [data-note]').textContent()).toBe(' — Duplicate welcome credit');

      // Without a reason, nothing is sent.
      await page.getByLabel('Tokens').fill('-1');
      await page.getByRole('button', { name: 'Apply', exact: true }).click();
      await expect.poll(() => page.locator('form[aria-label="Change a balance"] [role="alert"]').textContent()).toContain('needs a reason');

      const audit = page.locator('table[aria-label="Audit log"] tbody tr');
      await expect.poll(() => page.evaluate<string[]>(`[...document.querySelectorAll('table[aria-label="Audit log"] tbody tr')].map((r) => r.dataset.action)`)).toEqual(['tokens.adjusted', 'user.disabled']);
      expect(await audit.first().textContent()).toContain(ADMIN.email);
      await screenshot(page, 'admin-users');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
