import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { normalizeSteps } from '../../src/flows/normalize';
import type { Step, StepInput, WebhookStep } from '../../src/flows/model';
import { toPublicSteps } from '../../src/flows/service';
import { gatedFields, webhookChanges } from '../../src/flows/webhook-changes';
import { SecretBox } from '../../src/secrets';
import { checkHeaderName } from '../../src/webhooks/rules';
import { generateSigningSecret, signatureOf, signingHeaders } from '../../src/webhooks/signing';

const box = new SecretBox([{ id: 't1', key: crypto.randomBytes(32) }]);
const body = '{"email":"ada@example.com","n":1}';
const hook = (extra: Partial<StepInput> = {}): StepInput =>
  ({ id: 'w1', type: 'webhook', url: 'https://example.com/hook', body: '{}', ...extra }) as StepInput;

test('a generated secret is whsec_ and 32 random bytes', () => {
  const s = generateSigningSecret();
  expect(s).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
  expect(Buffer.from(s.slice('whsec_'.length), 'base64')).toHaveLength(32);
  expect(generateSigningSecret()).not.toBe(s);
});

test('the signature is the reference implementation’s and verifies with it', () => {
  const secret = generateSigningSecret();
  const ts = Math.floor(Date.now() / 1000);
  expect(signatureOf(secret, 'dlv_1', ts, body)).toBe(
    new Webhook(secret).sign('dlv_1', new Date(ts * 1000), body),
  );
  const headers = signingHeaders([secret], 'dlv_1', ts, body);
  expect(headers['webhook-id']).toBe('dlv_1');
  expect(headers['webhook-timestamp']).toBe(String(ts));
  expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
});

test('a tampered body, another id or another secret does not verify', () => {
  const secret = generateSigningSecret();
  const headers = signingHeaders([secret], 'dlv_1', Math.floor(Date.now() / 1000), body);
  expect(() => new Webhook(secret).verify(body.replace('1}', '2}'), headers)).toThrow();
  expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'dlv_2' })).toThrow();
  expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
});

test('during a rotation both signatures are sent, space-separated, and each secret verifies', () => {
  const [next, old] = [generateSigningSecret(), generateSigningSecret()];
  const headers = signingHeaders([next, old], 'dlv_1', Math.floor(Date.now() / 1000), body);
  expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
  expect(headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
  expect(new Webhook(next).verify(body, headers)).toEqual(JSON.parse(body));
  expect(new Webhook(old).verify(body, headers)).toEqual(JSON.parse(body));
  expect(() => new Webhook(old).verify(`${body} `, headers)).toThrow();
});

test('users cannot set the signing headers themselves', () => {
  for (const name of ['webhook-id', 'Webhook-Timestamp', 'webhook-signature']) {
    expect(checkHeaderName(name)?.rule).toBe('reserved_header');
  }
});

describe('saving a step', () => {
  const first = () => {
    const r = normalizeSteps([hook()], [], box);
    expect(r.problems).toEqual([]);
    return r;
  };

  test('a new step signs by default; its secret is returned once and stored sealed', () => {
    const { steps, signingSecrets } = first();
    const step = steps[0] as WebhookStep;
    expect(signingSecrets).toHaveLength(1);
    const [{ stepId, secret }] = signingSecrets as [{ stepId: string; secret: string }];
    expect(stepId).toBe('w1');
    expect(box.open(step.signing!.secret)).toBe(secret);
    expect(JSON.stringify(steps)).not.toContain(secret.slice(6));
    const shown = toPublicSteps(steps)[0]!;
    expect(shown).toMatchObject({ signing: true });
    expect(JSON.stringify(shown)).not.toContain(secret.slice(6));
    expect((shown as { signingSecret: string }).signingSecret).toContain('••••');
  });

  test('saving again keeps the secret, whether the masked value is sent back or left out', () => {
    const { steps } = first();
    const before = (steps[0] as WebhookStep).signing!;
    const masked = (toPublicSteps(steps)[0] as { signingSecret: string }).signingSecret;
    for (const input of [hook(), hook({ signing: true, signingSecret: masked })]) {
      const again = normalizeSteps([input], steps, box);
      expect(again.problems).toEqual([]);
      expect(again.signingSecrets).toEqual([]);
      expect((again.steps[0] as WebhookStep).signing).toBe(before);
      expect(webhookChanges(steps, again.steps)).toEqual([]);
    }
  });

  test('a copy read before a rotation saves and keeps the rotated secrets', () => {
    const { steps } = first();
    const before = steps[0] as WebhookStep;
    const stale = (toPublicSteps(steps)[0] as { signingSecret: string }).signingSecret;
    const rotated: Step[] = [
      {
        ...before,
        signing: {
          secret: box.seal(generateSigningSecret()),
          previous: { secret: before.signing!.secret, until: new Date(Date.now() + 60_000).toISOString() },
        },
      },
    ];
    const r = normalizeSteps([hook({ signingSecret: stale })], rotated, box);
    expect(r.problems).toEqual([]);
    expect((r.steps[0] as WebhookStep).signing).toBe((rotated[0] as WebhookStep).signing);
  });

  test('a secret cannot be chosen, nor a masked value of another secret sent', () => {
    const { steps } = first();
    const other = toPublicSteps(first().steps)[0] as { signingSecret: string };
    for (const signingSecret of [generateSigningSecret(), other.signingSecret]) {
      const r = normalizeSteps([hook({ signingSecret })], steps, box);
      expect(r.problems.map((p) => p.path)).toEqual(['steps.0.signingSecret']);
    }
  });

  test('turning signing off drops the secret, and is a webhook change', () => {
    const { steps } = first();
    const off = normalizeSteps([hook({ signing: false })], steps, box);
    expect((off.steps[0] as WebhookStep).signing).toBeUndefined();
    expect(toPublicSteps(off.steps)[0]).toMatchObject({ signing: false });
    const [change] = webhookChanges(steps, off.steps);
    expect(change).toEqual({ action: 'webhook.changed', stepId: 'w1', fields: ['signing'] });
    expect(gatedFields(change!)).toEqual(['signing']);
  });

  test('a step saved before signing existed stays unsigned until it is turned on', () => {
    const old: Step[] = [
      { id: 'w1', type: 'webhook', url: 'https://example.com/hook', headers: {}, body: '{}' },
    ];
    const kept = normalizeSteps([hook()], old, box);
    expect((kept.steps[0] as WebhookStep).signing).toBeUndefined();
    expect(kept.signingSecrets).toEqual([]);
    const on = normalizeSteps([hook({ signing: true })], old, box);
    expect(on.signingSecrets).toHaveLength(1);
    expect(webhookChanges(old, on.steps)[0]?.fields).toEqual(['signing']);
  });
});
