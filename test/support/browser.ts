import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** Debian's Chromium, headless, as the brief asks; `make test` installs it (scripts/doctor.sh). */
export function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run "bash scripts/doctor.sh --install test" (make test does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
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
