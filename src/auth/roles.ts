export const ROLES = ['owner', 'admin', 'manager', 'analyst', 'support'] as const;
export type Role = (typeof ROLES)[number];

/** Only these may add or change webhook steps, resend or test-send. */
export const WEBHOOK_ROLES: readonly Role[] = ['owner', 'admin', 'manager'];

export type WebhookPermission =
  { ok: true } | { ok: false; code: 'role_forbidden' | 'two_step_required'; message: string };

/** The rule for webhook actions: role manager or above, and two-step authentication enabled. */
export function webhookPermission(user: { role: Role; twoStepEnabled: boolean }): WebhookPermission {
  if (!WEBHOOK_ROLES.includes(user.role)) {
    return {
      ok: false,
      code: 'role_forbidden',
      message: `webhooks can be changed by managers, admins and owners; your role is ${user.role}`,
    };
  }
  if (!user.twoStepEnabled) {
    return {
      ok: false,
      code: 'two_step_required',
      message:
        'set up two-step authentication first: POST /api/auth/two-step/setup, then confirm a code (or the Two-step page)',
    };
  }
  return { ok: true };
}
