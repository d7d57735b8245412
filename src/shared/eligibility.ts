/**
 * Whether a run may still send its next webhook, declared once. The worker decides it (see
 * `src/audience/eligibility.ts`) before every webhook step; the workflow reads the verdict, so
 * this file stays pure.
 */

/** Why a webhook step was skipped without a request: the reasons a user reads on the run and in analytics. */
export const SKIP_REASONS = {
  profileDeleted: 'profile deleted',
  notInList: 'no longer in list',
  notInSegment: 'no longer in segment',
  failsFlowFilters: 'fails flow filters',
  dateChanged: 'date changed',
} as const;
export type SkipReason = (typeof SKIP_REASONS)[keyof typeof SKIP_REASONS];

export type Eligibility =
  | { eligible: true }
  | {
      eligible: false;
      reason: SkipReason;
      /** e.g. "group 2 does not hold" for flow filters. */
      detail?: string;
    };

/** The reason as recorded on the delivery: the reason, then its detail after a colon. */
export function skipText(e: Extract<Eligibility, { eligible: false }>): string {
  return e.detail === undefined ? e.reason : `${e.reason}: ${e.detail}`;
}
