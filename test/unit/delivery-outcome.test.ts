import type { DeliveryFacts } from '../../src/shared/delivery-outcome';
import { afterAttempt, backoffMs, deliveryEnding, webhookStepView } from '../../src/shared/delivery-outcome';
import type { StepState } from '../../src/shared/run-types';

const policy = { maximumAttempts: 3, initialInterval: 200, backoffCoefficient: 2, maximumInterval: 1000 };
const endedAtMs = Date.parse('2026-11-29T10:00:00.000Z');

describe('after an attempt', () => {
  test('a delivered attempt delivers and a non-retryable one skips, whatever attempt it was', () => {
    for (const attempt of [1, 3]) {
      expect(afterAttempt({ class: 'delivered', attempt, endedAtMs }, policy)).toEqual({
        status: 'delivered',
        nextAttemptAt: null,
      });
      expect(afterAttempt({ class: 'non_retryable', attempt, endedAtMs }, policy)).toEqual({
        status: 'skipped',
        nextAttemptAt: null,
      });
    }
  });

  test('a retryable attempt retries after Temporal’s backoff, or Retry-After, until the last attempt fails', () => {
    expect(afterAttempt({ class: 'retryable', attempt: 1, endedAtMs }, policy)).toEqual({
      status: 'retrying',
      nextAttemptAt: '2026-11-29T10:00:00.200Z',
    });
    expect(afterAttempt({ class: 'retryable', attempt: 2, endedAtMs }, policy).nextAttemptAt).toBe(
      '2026-11-29T10:00:00.400Z',
    );
    expect(afterAttempt({ class: 'retryable', attempt: 2, endedAtMs, retryAfterMs: 5000 }, policy)).toEqual({
      status: 'retrying',
      nextAttemptAt: '2026-11-29T10:00:05.000Z',
    });
    expect(afterAttempt({ class: 'retryable', attempt: 3, endedAtMs }, policy)).toEqual({
      status: 'failed',
      nextAttemptAt: null,
    });
  });

  test('the backoff is capped by the maximum interval; an unset policy takes Temporal’s defaults', () => {
    expect(backoffMs(policy, 4)).toBe(1000);
    expect(backoffMs({}, 1)).toBe(1000);
    expect(backoffMs({}, 3)).toBe(4000);
    expect(backoffMs({}, 20)).toBe(100_000);
    expect(afterAttempt({ class: 'retryable', attempt: 50, endedAtMs }, {}).status).toBe('retrying');
  });
});

describe('how the activity ended', () => {
  test('non-retryable ends skipped, anything else failed, with the last attempt’s details', () => {
    const details = { deliveryId: 'dlv_1', attempt: 3, httpStatus: 503 };
    expect(deliveryEnding({ nonRetryable: false, reason: 'HTTP 503 Service Unavailable', details })).toEqual({
      status: 'failed',
      reason: 'HTTP 503 Service Unavailable',
      details,
      recorded: true,
    });
    expect(deliveryEnding({ nonRetryable: true, reason: 'HTTP 404 Not Found', details }).status).toBe(
      'skipped',
    );
  });

  test('without details the last attempt never recorded itself (timeout, dead worker): the workflow must end it', () => {
    expect(deliveryEnding({ nonRetryable: false, reason: 'activity StartToClose timeout' })).toEqual({
      status: 'failed',
      reason: 'activity StartToClose timeout',
      recorded: false,
    });
  });
});

describe('a webhook step as the run shows it', () => {
  const record = (over: Partial<DeliveryFacts>): DeliveryFacts => ({
    id: 'dlv_1',
    status: 'retrying',
    attempts: 2,
    last_http_status: 503,
    reason: 'HTTP 503 Service Unavailable',
    next_attempt_at: '2026-11-29T10:00:01.000Z',
    ...over,
  });
  const running: StepState = { id: 'w', type: 'webhook', status: 'running' };

  test('while the step runs, the record says whether it is retrying, why, and when next', () => {
    expect(webhookStepView(running, record({}))).toEqual({
      id: 'w',
      type: 'webhook',
      status: 'retrying',
      deliveryId: 'dlv_1',
      attempts: 2,
      lastHttpStatus: 503,
      reason: 'HTTP 503 Service Unavailable',
      nextAttemptAt: '2026-11-29T10:00:01.000Z',
    });
    expect(webhookStepView(running, record({ status: 'pending', attempts: 0 })).status).toBe('running');
  });

  test('once the workflow ended the step, its status wins over the record', () => {
    const ended: StepState = { ...running, status: 'failed', attempts: 3 };
    const view = webhookStepView(ended, record({ attempts: 2 }));
    expect(view.status).toBe('failed');
    expect(view.attempts).toBe(3);
    expect(view.nextAttemptAt).toBeUndefined();
  });

  test('other steps, and webhook steps without a record, are shown as the workflow has them', () => {
    const delay: StepState = { id: 'd', type: 'delay', status: 'waiting' };
    expect(webhookStepView(delay, record({}))).toBe(delay);
    expect(webhookStepView(running, undefined)).toBe(running);
  });
});
