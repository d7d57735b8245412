import crypto from 'node:crypto';
import { toProblems } from '../../src/api/validation';
import { eventSchema } from '../../src/events/schema';
import { buildContext } from '../../src/templates/context';
import { profileIdFor } from '../../src/events/service';
import type { WebhookStep } from '../../src/flows/model';
import { createFlowSchema } from '../../src/flows/model';
import { normalizeSteps } from '../../src/flows/normalize';
import { buildPlan } from '../../src/flows/plan';
import { maskSealed, SecretBox } from '../../src/secrets';

const box = new SecretBox([{ id: 'k', key: crypto.randomBytes(32) }]);
const hook = { type: 'webhook', url: 'https://example.com/h', body: '{"a": 1}' };

function problemsOf(body: unknown) {
  const res = createFlowSchema.safeParse(body);
  if (!res.success) return toProblems(res.error);
  return normalizeSteps(res.data.steps, [], box).problems;
}

describe('flow validation', () => {
  const flow = (steps: unknown[]) => ({ name: 'f', trigger: { type: 'metric', metric: 'm' }, steps });

  test('a valid flow has no problems and gets step ids', () => {
    const res = createFlowSchema.parse(flow([hook, { type: 'delay', seconds: 5 }]));
    const { steps, problems } = normalizeSteps(res.steps, [], box);
    expect(problems).toEqual([]);
    expect(steps.map((s) => s.id)).toEqual([expect.stringMatching(/^s_/), expect.stringMatching(/^s_/)]);
  });

  test('problems name the field path, nested branches included', () => {
    expect(problemsOf(flow([{ ...hook, url: 'http://x.example' }]))).toEqual([
      { path: 'steps.0.url', message: expect.stringMatching(/https.*\[https_only\]/) as string },
    ]);
    const nested = flow([
      { type: 'split', condition: 'true', yes: [], no: [{ ...hook, headers: { Host: 'x' } }] },
    ]);
    expect(problemsOf(nested)[0]!.path).toBe('steps.0.no.0.headers.Host');
    expect(problemsOf(flow([{ type: 'delay', seconds: 1.5 }]))[0]).toMatchObject({ path: 'steps.0.seconds' });
    expect(problemsOf(flow([{ ...hook, retry: { maxAttempts: 0 } }]))[0]!.path).toBe(
      'steps.0.retry.maxAttempts',
    );
  });

  test('a masked header value sent back keeps the stored secret; a wrong mask is refused', () => {
    const first = normalizeSteps(
      [{ ...hook, id: 'h', headers: { 'X-Key': 'sk_live_1234567890' } } as never],
      [],
      box,
    );
    const sealed = (first.steps[0] as WebhookStep).headers['X-Key']!;
    const mask = maskSealed(sealed);
    const kept = normalizeSteps(
      [{ ...hook, id: 'h', headers: { 'X-Key': mask } } as never],
      first.steps,
      box,
    );
    expect(kept.problems).toEqual([]);
    expect((kept.steps[0] as { headers: Record<string, unknown> }).headers['X-Key']).toEqual(sealed);
    const wrong = normalizeSteps(
      [{ ...hook, id: 'h', headers: { 'X-Key': 'abc••••00000000' } } as never],
      first.steps,
      box,
    );
    expect(wrong.problems[0]!.path).toBe('steps.0.headers.X-Key');
    // A mask from another step never unlocks this one's value.
    const other = normalizeSteps(
      [{ ...hook, id: 'other', headers: { 'X-Key': mask } } as never],
      first.steps,
      box,
    );
    expect(other.problems).toHaveLength(1);
  });
});

describe('events', () => {
  test('a profile needs an identifier; custom profile fields go under properties', () => {
    const res = eventSchema.safeParse({ metric: 'm', profile: { first_name: 'Ada', loyalty_id: 'x' } });
    expect(res.success).toBe(false);
    const paths = toProblems(res.error!).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['profile.loyalty_id']));
  });
  test('context: custom properties at the top of person; standard fields win', () => {
    const ev = eventSchema.parse({
      metric: 'm',
      profile: {
        email: 'Ada@Example.com',
        first_name: 'Ada',
        properties: { loyalty_id: 'L-1', email: 'spoof' },
      },
      properties: { value: 1 },
    });
    const id = profileIdFor(ev.profile);
    expect(id).toBe(profileIdFor({ ...ev.profile, email: 'ada@example.com' }));
    expect(buildContext(ev.profile, ev.properties, id)).toEqual({
      person: { id, email: 'Ada@Example.com', first_name: 'Ada', loyalty_id: 'L-1' },
      event: { value: 1 },
    });
  });
});

describe('plan', () => {
  test('carries ids and retry policies, never URLs, headers or bodies', () => {
    const { steps } = normalizeSteps(
      [{ ...hook, id: 'h', headers: { 'X-Key': 'secret-value-123' }, retry: { maxAttempts: 2 } } as never],
      [],
      box,
    );
    const plan = buildPlan(
      steps,
      { maxAttempts: 18, initialIntervalMs: 30_000, backoffCoefficient: 2, maxIntervalMs: 9e6 },
      10_000,
    );
    expect(plan).toEqual([
      {
        id: 'h',
        type: 'webhook',
        timeoutMs: 10_000,
        retry: { maxAttempts: 2, initialIntervalMs: 30_000, backoffCoefficient: 2, maxIntervalMs: 9e6 },
      },
    ]);
    expect(JSON.stringify(plan)).not.toMatch(/example\.com|secret|body/);
  });
});
