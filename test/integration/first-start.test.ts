import { launchBrowser } from '../support/browser';
import { Stack } from '../harness/stack';
import type { ErrorResponse } from '../support/api-types';

/** First start with no owner configured: a one-time setup link on the console creates the first owner. */

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start({ name: 'first-start', auth: 'none' });
}, 120_000);
afterAll(() => stack?.stop());

const linkIn = (logs: string) => /http:\/\/\S+\/setup\?token=([\w-]+)/.exec(logs);

test('the console shows a one-time setup link; the page creates the owner once; the link then stops working', async () => {
  const found = linkIn(stack.logs);
  expect(found).not.toBeNull();
  const [link, token] = [found![0], found![1]!];
  // The structured log says a link was printed, without the link itself.
  const jsonLines = stack.logs.split('\n').filter((l) => l.startsWith('{'));
  expect(jsonLines.some((l) => l.includes('one-time setup link is printed'))).toBe(true);
  expect(jsonLines.some((l) => l.includes(token))).toBe(false);

  // Before the owner exists, the sign-in page says where the link is.
  const signIn = await fetch(`${stack.apiUrl}/sign-in`);
  expect(await signIn.text()).toMatch(/No user exists yet/);
  const wrong = await stack.requestAs<ErrorResponse>(undefined, 'POST', '/api/setup', {
    token: 'not-the-token',
    email: 'first@example.com',
    password: 'a long first password',
  });
  expect([wrong.status, wrong.body.error.code]).toEqual([403, 'setup_link_invalid']);

  const browser = await launchBrowser();
  try {
    const tab = await browser.newPage();
    await tab.goto(link.replace(/^http:\/\/[^/]+/, stack.apiUrl));
    await tab.fill('#email', 'first@example.com');
    await tab.fill('#password', 'short');
    await tab.click('button[type=submit]');
    await tab.locator('#error').filter({ hasText: /12/ }).waitFor();
    await tab.fill('#password', 'a long first password');
    await tab.click('button[type=submit]');
    await tab.waitForURL((u) => u.pathname === '/account/two-step');
    expect(await tab.innerText('[data-testid="viewer"]')).toMatch(/first@example\.com · owner/);
  } finally {
    await browser.close();
  }

  const again = await stack.requestAs<ErrorResponse>(undefined, 'POST', '/api/setup', {
    token,
    email: 'second@example.com',
    password: 'a long second password',
  });
  expect([again.status, again.body.error.code]).toEqual([403, 'setup_link_invalid']);
  const setupPage = await fetch(`${stack.apiUrl}/setup?token=${token}`, { redirect: 'manual' });
  expect([setupPage.status, setupPage.headers.get('location')]).toEqual([303, '/sign-in']);
  const signedIn = await stack.requestAs<{ user: { role: string } }>(undefined, 'POST', '/api/auth/sign-in', {
    email: 'first@example.com',
    password: 'a long first password',
  });
  expect(signedIn.body.user.role).toBe('owner');
});
