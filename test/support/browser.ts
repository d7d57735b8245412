import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

/** Debian's Chromium, headless, as the brief asks. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * Signs in through the sign-in page: email and password, then (when the account has two-step
 * authentication) the code step the page shows after the first submit.
 */
export async function signInThroughPage(
  page: Page,
  apiUrl: string,
  user: { email: string; password: string; code?: string },
  next = '/webhooks',
): Promise<void> {
  await page.goto(`${apiUrl}${next}`);
  await page.waitForURL(/\/sign-in\?next=/);
  await page.fill('#email', user.email);
  await page.fill('#password', user.password);
  await page.click('button[type=submit]');
  if (user.code !== undefined) {
    await page.locator('#code').waitFor({ state: 'visible' });
    await page.fill('#code', user.code);
    await page.click('button[type=submit]');
  }
  await page.waitForURL((u) => u.pathname === next.split('?')[0]);
}
