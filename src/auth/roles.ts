export const ROLES = ['owner', 'admin', 'manager', 'analyst', 'support'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Roles that may change flows and post events, and (with two-step authentication on) add or change
 * webhooks, test-send and resend. Analysts and support read.
 */
export const WRITER_ROLES: readonly Role[] = ['owner', 'admin', 'manager'];
