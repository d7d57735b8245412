import crypto from 'node:crypto';
import { accessRefusal, webhookRefusal } from '../../src/api/auth';
import type { Principal, Role, Scope, User } from '../../src/permissions';
import { ROLES } from '../../src/permissions';
import type { Step, WebhookStep } from '../../src/flows/model';
import { needsWebhookPermission, webhookChanges } from '../../src/flows/webhook-changes';
import { safeNext } from '../../src/api/pages/views';
import { SecretBox } from '../../src/secrets';

const user = (role: Role, twoStepEnabled: boolean): User => ({
  id: 'usr_1',
  email: 'a@example.com',
  role,
  twoStepEnabled,
  createdAt: '2026-11-29T00:00:00Z',
  disabledAt: null,
});
const session = (role: Role, twoStep: boolean): Principal => ({
  kind: 'session',
  user: user(role, twoStep),
  csrf: 'c',
});
const key = (role: Role, twoStep: boolean, scopes: Scope[]): Principal => ({
  kind: 'api_key',
  user: user(role, twoStep),
  keyId: 'k',
  scopes,
});

describe('access rules', () => {
  test('nobody: 401; reads: every role; writes: managers and above', () => {
    expect(accessRefusal(undefined, 'flows:read')?.status).toBe(401);
    for (const role of ROLES) {
      expect(accessRefusal(session(role, false), 'analytics:read')).toBeUndefined();
      expect(accessRefusal(session(role, false), 'flows:read')).toBeUndefined();
      const write = accessRefusal(session(role, false), 'flows:write');
      const events = accessRefusal(session(role, false), 'events:write');
      if (role === 'analyst' || role === 'support') {
        expect([write?.code, events?.code]).toEqual(['role_forbidden', 'role_forbidden']);
        expect(write?.message).toContain(`your role is ${role}`);
      } else {
        expect([write, events]).toEqual([undefined, undefined]);
      }
    }
  });

  test('the webhook rule: role first, then two-step authentication', () => {
    expect(webhookRefusal(session('analyst', true))?.code).toBe('role_forbidden');
    expect(webhookRefusal(session('support', false))?.code).toBe('role_forbidden');
    for (const role of ['owner', 'admin', 'manager'] as const) {
      expect(webhookRefusal(session(role, false))?.code).toBe('two_step_required');
      expect(webhookRefusal(session(role, true))).toBeUndefined();
    }
  });

  test("a key needs the scope and its user's role", () => {
    expect(accessRefusal(key('owner', true, ['events:write']), 'flows:read')?.code).toBe('scope_missing');
    expect(accessRefusal(key('analyst', true, ['events:write']), 'events:write')?.code).toBe(
      'role_forbidden',
    );
    expect(accessRefusal(key('manager', false, ['events:write']), 'events:write')).toBeUndefined();
    expect(webhookRefusal(key('owner', true, ['flows:read']))?.code).toBe('scope_missing');
    expect(webhookRefusal(key('owner', false, ['flows:write']))?.code).toBe('two_step_required');
    expect(webhookRefusal(key('owner', true, ['flows:write']))).toBeUndefined();
  });
});

describe('webhook changes', () => {
  const box = new SecretBox([{ id: 'k1', key: crypto.randomBytes(32) }]);
  const storedKey = box.seal('secret-1');
  const hook = (over: Partial<WebhookStep> = {}): WebhookStep => ({
    id: 'h',
    type: 'webhook',
    url: 'https://crm.example.com/hook',
    headers: { 'X-Api-Key': storedKey },
    body: '{}',
    ...over,
  });
  const delay: Step = { id: 'd', type: 'delay', seconds: 5 };

  test('added, removed, and changed with the names of the fields', () => {
    expect(webhookChanges([], [delay, hook()])).toEqual([
      { action: 'webhook.added', stepId: 'h', fields: [] },
    ]);
    expect(webhookChanges([hook()], [delay])).toEqual([
      { action: 'webhook.removed', stepId: 'h', fields: [] },
    ]);
    const before = hook();
    const after = hook({
      url: 'https://crm.example.com/v2',
      body: '{"v": 2}',
      name: 'CRM',
      retry: { maxAttempts: 3 },
      headers: { 'X-Api-Key': box.seal('secret-2'), 'X-New': box.seal('n') },
    });
    expect(webhookChanges([before], [after])).toEqual([
      {
        action: 'webhook.changed',
        stepId: 'h',
        fields: ['url', 'body', 'name', 'retry', 'headers.X-Api-Key', 'headers.X-New'],
      },
    ]);
  });

  test('a header kept (its sealed value reused) is not a change; one sent in full is, even if equal', () => {
    const before = hook();
    expect(webhookChanges([before], [hook({ headers: { ...before.headers } })])).toEqual([]);
    // Re-entering the same value counts: whether a save is refused must not confirm a guessed secret.
    const same = hook({ headers: { 'X-Api-Key': box.seal('secret-1') } });
    expect(webhookChanges([before], [same])).toEqual([
      { action: 'webhook.changed', stepId: 'h', fields: ['headers.X-Api-Key'] },
    ]);
    const split = (inner: Step[]): Step => ({
      id: 's',
      type: 'split',
      condition: 'true',
      yes: inner,
      no: [],
    });
    expect(webhookChanges([split([before])], [split([hook({ url: 'https://crm.example.com/x' })])])).toEqual([
      { action: 'webhook.changed', stepId: 'h', fields: ['url'] },
    ]);
    expect(
      webhookChanges([hook({ headers: { 'X-Old': box.seal('o') } })], [hook({ headers: {} })])[0]!.fields,
    ).toEqual(['headers.X-Old']);
  });

  test('renames and retry tuning do not need the webhook rule; URL, headers, body, add and remove do', () => {
    const gated = (over: Partial<WebhookStep>) =>
      webhookChanges([hook()], [hook(over)]).some(needsWebhookPermission);
    expect(gated({ name: 'CRM' })).toBe(false);
    expect(gated({ retry: { maxAttempts: 2 } })).toBe(false);
    expect(gated({ url: 'https://crm.example.com/x' })).toBe(true);
    expect(gated({ body: '[]' })).toBe(true);
    expect(gated({ headers: {} })).toBe(true);
    expect(webhookChanges([], [hook()]).some(needsWebhookPermission)).toBe(true);
    expect(webhookChanges([hook()], []).some(needsWebhookPermission)).toBe(true);
  });
});

test('after sign-in, only a path on this site is followed', () => {
  expect(safeNext('/webhooks?range=24h')).toBe('/webhooks?range=24h');
  expect(safeNext('/webhooks/deliveries/dlv_1')).toBe('/webhooks/deliveries/dlv_1');
  for (const bad of [
    '//evil.example',
    'https://evil.example/',
    '/\\evil.example',
    'javascript:alert(1)',
    undefined,
    ['/a'],
  ]) {
    expect(safeNext(bad)).toBe('/webhooks');
  }
});
