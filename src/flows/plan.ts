import type { RetryDefaults } from '../config';
import type { Step } from './model';
import type { PlanStep } from '../shared/run-types';

/** Reduces stored steps to the workflow's plan, resolving each webhook's effective retry policy. */
export function buildPlan(steps: readonly Step[], retry: RetryDefaults, timeoutMs: number): PlanStep[] {
  return steps.map((step): PlanStep => {
    switch (step.type) {
      case 'webhook':
        return {
          id: step.id,
          type: 'webhook',
          timeoutMs,
          retry: {
            maxAttempts: step.retry?.maxAttempts ?? retry.maxAttempts,
            initialIntervalMs: step.retry?.initialIntervalMs ?? retry.initialIntervalMs,
            backoffCoefficient: step.retry?.backoffCoefficient ?? retry.backoffCoefficient,
            maxIntervalMs: Math.max(
              step.retry?.maxIntervalMs ?? retry.maxIntervalMs,
              step.retry?.initialIntervalMs ?? retry.initialIntervalMs,
            ),
          },
        };
      case 'delay':
        return { id: step.id, type: 'delay', seconds: step.seconds };
      case 'split':
        return {
          id: step.id,
          type: 'split',
          condition: step.condition,
          yes: buildPlan(step.yes, retry, timeoutMs),
          no: buildPlan(step.no, retry, timeoutMs),
        };
    }
  });
}
