import { Router } from 'express';
import { z } from 'zod';
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject, ZodOpenApiResponseObject } from 'zod-openapi';
import { createDocument } from 'zod-openapi';
import { bulkItemsSchema, itemSchema, itemsPageSchema } from '../audience/catalog';
import { profileSchema } from '../audience/identity';
import { addMembersSchema, createListSchema, membersPageSchema, patchListSchema } from '../audience/lists';
import { bulkProfilesSchema, profileLookupSchema } from '../audience/profiles';
import { FLOW_STATUSES } from '../db/schema';
import { eventSchema } from '../events/schema';
import { createFlowSchema, patchFlowSchema } from '../flows/model';
import { draftPreviewSchema, previewSchema, testSendSchema } from '../flows/step-tools';
import { profileEventsQuerySchema } from '../audience/profile-events';
import { DELIVERY_STATUSES } from '../shared/delivery-outcome';
import { VERSION } from '../version';
import {
  codeSchema,
  keySchema,
  newUserSchema,
  passwordSchema,
  reauthSchema,
  roleSchema,
  setupSchema,
  signInSchema,
} from './accounts';
import { auditQuery } from './audit';
import { metricsQuery } from './events';
import { createSegmentSchema, membersQuerySchema, patchSegmentSchema } from './segments';
import { bulkBody, listQuery, statsQuery } from './webhooks';

// ---------------------------------------------------------------------------------------------
// Response schemas. Request schemas are the ones the routes parse with; these describe what the
// routes answer (the integration suite checks real answers against them).
// ---------------------------------------------------------------------------------------------

const isoTime = z.string().meta({ format: 'date-time' });

const errorSchema = z
  .looseObject({
    error: z.object({
      code: z
        .string()
        .meta({ description: 'Machine-readable, e.g. `invalid`, `not_found`, `unauthenticated`.' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  })
  .meta({
    id: 'Error',
    description: 'Every refusal (4xx, 5xx) has this body; some add fields beside `error`.',
  });

/** Any JSON object: nested domain documents (steps, triggers, filters, conditions) as the API echoes them. */
const document = (description: string) => z.record(z.string(), z.unknown()).meta({ description });

const publicStepSchema = z.looseObject({ id: z.string(), type: z.enum(['webhook', 'delay', 'split']) }).meta({
  id: 'Step',
  description:
    'A step as saved: `webhook` (url, headers with masked values, body, retry), `delay` (seconds) or `split` (condition, yes, no).',
});

const flowSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(FLOW_STATUSES),
    trigger: z.looseObject({ type: z.string() }),
    steps: z.array(publicStepSchema),
    reentry: document('`{ mode: never | always | after, seconds? }`').optional(),
    flowFilters: document('`{ groups: [{ conditions: [...] }] }`').optional(),
    triggerFilters: document('`{ groups: [{ conditions: [...] }] }`').optional(),
    version: z.number().int(),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .meta({ id: 'Flow' });

const stepCheckSchema = z.object({
  stepId: z.string(),
  ok: z.boolean(),
  live: z.boolean(),
  error: z.string().optional(),
  warnings: z.array(z.string()),
});

const savedFlowSchema = flowSchema
  .extend({
    checks: z.array(stepCheckSchema),
    signingSecrets: z
      .array(z.object({ stepId: z.string(), secret: z.string() }))
      .optional()
      .meta({ description: 'Signing secrets this save generated, in full: shown in this answer only.' }),
  })
  .meta({
    id: 'SavedFlow',
    description: 'A flow with the results of its save-time checks, one per webhook step.',
  });

const runsStartedSchema = z
  .object({ runs: z.array(z.object({ flowId: z.string(), runId: z.string() })) })
  .meta({ id: 'RunsStarted' });

const runStepSchema = z.object({
  id: z.string(),
  type: z.enum(['webhook', 'delay', 'split']),
  status: z.enum([
    'pending',
    'running',
    'retrying',
    'delivered',
    'failed',
    'skipped',
    'not_taken',
    'waiting',
    'completed',
  ]),
  parentId: z.string().optional(),
  branch: z.enum(['yes', 'no']).optional(),
  startedAt: isoTime.optional(),
  finishedAt: isoTime.optional(),
  wakeAt: isoTime.optional(),
  taken: z.enum(['yes', 'no']).optional(),
  deliveryId: z.string().optional(),
  attempts: z.number().int().optional(),
  lastHttpStatus: z.number().int().optional(),
  reason: z.string().optional(),
  nextAttemptAt: isoTime.optional(),
});

const runSchema = z
  .object({
    runId: z.string(),
    flowId: z.string(),
    flowVersion: z.number().int(),
    status: z.string().meta({
      description:
        "Temporal's execution status, lower-cased: running, completed, failed…; `queued` while the run is recorded but not yet started on Temporal, `unknown` when Temporal does not answer",
    }),
    startedAt: isoTime.nullable(),
    closedAt: isoTime.nullable(),
    temporalUrl: z.string(),
    steps: z.array(runStepSchema),
  })
  .meta({ id: 'Run' });

const deliveryStatus = z.enum(DELIVERY_STATUSES);
const countsSchema = z.object(
  Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, z.number().int()])) as Record<
    (typeof DELIVERY_STATUSES)[number],
    z.ZodNumber
  >,
);

const deliverySchema = z
  .object({
    id: z.string(),
    flowId: z.string(),
    flowVersion: z.number().int(),
    stepId: z.string(),
    runId: z.string(),
    profileId: z.string(),
    status: deliveryStatus,
    attempts: z.number().int(),
    firstAttemptAt: isoTime.nullable(),
    lastAttemptAt: isoTime.nullable(),
    nextAttemptAt: isoTime.nullable(),
    lastHttpStatus: z.number().int().nullable(),
    reason: z.string().nullable(),
    latencyMs: z.number().nullable(),
    createdAt: isoTime,
    manual: z.boolean(),
    resendOf: z.string().nullable(),
    resentTo: z.string().nullable(),
    resentAt: isoTime.nullable(),
  })
  .meta({ id: 'Delivery' });

const attemptSchema = z
  .object({
    attempt: z.number().int(),
    manual: z.boolean(),
    startedAt: isoTime,
    durationMs: z.number().int(),
    httpStatus: z.number().int().nullable(),
    errorClass: z.string().nullable(),
    class: z.enum(['delivered', 'retryable', 'non_retryable', 'sending', 'unknown']).meta({
      description:
        '`sending`: the request is out, no answer yet. `unknown`: the worker died mid-send, the endpoint may have received it.',
    }),
    reason: z.string(),
    responseExcerpt: z.string().nullable(),
  })
  .meta({ id: 'DeliveryAttempt' });

const statsSchema = z
  .object({
    from: isoTime,
    to: isoTime,
    counts: countsSchema,
    total: z.number().int(),
    successRate: z.number().nullable(),
    latencyMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
    attempts: z.array(z.object({ attempts: z.number().int(), count: z.number().int() })),
    series: z.object({
      interval: z.enum(['hour', 'day']),
      points: z.array(countsSchema.extend({ t: isoTime })),
    }),
  })
  .meta({ id: 'DeliveryStats' });

const resendTotalsSchema = z.object({
  resent: z.number().int(),
  alreadyRunning: z.number().int(),
  notResendable: z.number().int(),
  more: z.boolean(),
});

const object = (id: string, description: string) => z.looseObject({}).meta({ id, description });
const userSchema = object('User', '`{ id, email, role, twoStepEnabled, … }`');
const sessionSchema = z
  .looseObject({ token: z.string(), csrf: z.string(), expiresAt: isoTime, user: userSchema })
  .meta({ id: 'Session' });
const profileOut = z
  .looseObject({ id: z.string() })
  .meta({ id: 'Profile', description: 'A profile with its `id`.' });
const listOut = z.looseObject({ id: z.string(), name: z.string() }).meta({ id: 'List' });
const segmentOut = z.looseObject({ id: z.string(), name: z.string() }).meta({ id: 'Segment' });
const itemOut = z.looseObject({ id: z.string() }).meta({ id: 'CatalogItem' });

// ---------------------------------------------------------------------------------------------
// Routes. Paths are written as Express writes them; path parameters come from the path.
// ---------------------------------------------------------------------------------------------

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface ApiRoute {
  method: Method;
  /** Express style: `/api/flows/:id`. */
  path: string;
  summary: string;
  /** Who may call it: `public`, or the permission action it requires. */
  access: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The route reads a missing body as `{}`; every other body is required (a 422 without one). */
  bodyOptional?: true;
  /** The success status and its body (none for 204). */
  ok: [status: number, schema?: z.ZodType];
  /** Refusals this route may answer besides 401/403 (added for non-public routes). */
  errors?: number[];
  /** Other success statuses with the same body (e.g. 201 created beside 200 updated). */
  alsoOk?: number[];
}

const R = (
  method: Method,
  path: string,
  access: string,
  summary: string,
  ok: ApiRoute['ok'],
  more: Partial<Pick<ApiRoute, 'query' | 'body' | 'bodyOptional' | 'errors' | 'alsoOk'>> = {},
): ApiRoute => ({ method, path, access, summary, ok, ...more });

const listOf = (key: string, schema: z.ZodType) => z.object({ [key]: z.array(schema) });
const membersPage = z.looseObject({
  members: z.array(z.looseObject({})),
  next: z.string().nullable().optional(),
});

/** Every route of the JSON API (pages and assets are not part of it). */
export const API_ROUTES: readonly ApiRoute[] = [
  R('get', '/health', 'public', 'Liveness: the process answers (no dependency is asked)', [
    200,
    z.object({ status: z.literal('ok') }),
  ]),
  R(
    'get',
    '/ready',
    'public',
    'Readiness: database reachable, migrations applied, Temporal answering within 1 s',
    [
      200,
      z
        .object({
          status: z.enum(['ok', 'unavailable']),
          database: z.enum(['ok', 'unavailable']),
          migrations: z.enum(['ok', 'pending', 'unavailable']),
          temporal: z.enum(['ok', 'unavailable']),
          failed: z.array(z.string()),
        })
        .meta({ id: 'Readiness', description: 'Also the body of the 503 answer, naming what failed.' }),
    ],
    { errors: [503] },
  ),
  R('get', '/metrics', 'public', 'Prometheus metrics of this API process (text format)', [200]),
  R('get', '/api/openapi.json', 'public', 'This document', [200]),

  R(
    'post',
    '/api/auth/sign-in',
    'public',
    'Sign in with email, password and (two-step) code',
    [200, sessionSchema],
    {
      body: signInSchema,
      errors: [400, 401, 422, 429],
    },
  ),
  R(
    'post',
    '/api/setup',
    'public',
    'Create the first owner with the one-time setup token',
    [201, sessionSchema],
    {
      body: setupSchema,
      errors: [400, 403, 409, 422, 429],
    },
  ),
  R('post', '/api/auth/sign-out', 'public', 'End the session of the token or cookie sent', [204]),
  R('post', '/api/auth/password', 'account:manage', 'Change your password (signed-in user)', [204], {
    body: passwordSchema,
    errors: [400, 422, 429],
  }),
  R(
    'get',
    '/api/auth/me',
    'account:read',
    'Who is calling: user, session (with its CSRF token) or API key, scopes',
    [
      200,
      z.looseObject({
        user: userSchema,
        via: z.string(),
        scopes: z.array(z.string()).optional(),
        csrf: z.string().optional(),
      }),
    ],
  ),
  R(
    'post',
    '/api/auth/two-step/setup',
    'account:manage',
    'Start two-step authentication: an otpauth URI and its QR code',
    [200, z.looseObject({ otpauthUri: z.string(), qrSvg: z.string() })],
    { body: reauthSchema, errors: [400, 409, 422, 429] },
  ),
  R(
    'post',
    '/api/auth/two-step/confirm',
    'account:manage',
    'Confirm with a code; answers the recovery codes, once, and a new session (the old token stops working)',
    [
      200,
      z.looseObject({
        recoveryCodes: z.array(z.string()),
        token: z.string(),
        csrf: z.string(),
        expiresAt: isoTime,
        user: userSchema,
      }),
    ],
    { body: codeSchema, errors: [400, 409, 422] },
  ),
  R('post', '/api/auth/two-step/disable', 'account:manage', 'Turn two-step authentication off', [204], {
    body: codeSchema,
    errors: [400, 409, 422, 429],
  }),
  R('get', '/api/users', 'users:list', 'List users', [200, listOf('users', userSchema)]),
  R('post', '/api/users', 'users:manage', 'Create a user', [201, userSchema], {
    body: newUserSchema,
    errors: [400, 409, 422],
  }),
  R('patch', '/api/users/:id', 'users:manage', "Change a user's role", [200, userSchema], {
    body: roleSchema,
    errors: [400, 404, 409, 422],
  }),
  R('delete', '/api/users/:id', 'users:manage', 'Disable a user', [200, userSchema], { errors: [404, 409] }),
  R('get', '/api/keys', 'keys:manage', 'Your API keys (never their secret)', [
    200,
    listOf('keys', object('ApiKey', '`{ id, name, scopes, prefix, … }`')),
  ]),
  R(
    'post',
    '/api/keys',
    'keys:manage',
    'Create an API key; `key` is shown once',
    [201, z.looseObject({ id: z.string(), key: z.string() })],
    { body: keySchema, errors: [400, 422] },
  ),
  R('delete', '/api/keys/:id', 'keys:manage', 'Revoke an API key', [204], { errors: [404] }),

  R('post', '/api/flows', 'flows:write', 'Create a flow', [201, savedFlowSchema], {
    body: createFlowSchema,
    errors: [400, 422],
  }),
  R('get', '/api/flows', 'flows:read', 'List flows', [200, listOf('flows', flowSchema)]),
  R('get', '/api/flows/:id', 'flows:read', 'Read a flow', [200, flowSchema], { errors: [404] }),
  R('patch', '/api/flows/:id', 'flows:write', 'Change a flow: a new version', [200, savedFlowSchema], {
    body: patchFlowSchema,
    errors: [400, 404, 422],
  }),
  R('delete', '/api/flows/:id', 'flows:write', 'Delete a flow (runs in flight finish)', [204], {
    errors: [404],
  }),
  R(
    'post',
    '/api/flows/:id/add-past-profiles',
    'flows:write',
    "A live list flow: enter the list's current members, at most once each",
    [
      200,
      z.object({
        entered: z.number().int(),
        runs: z.array(z.object({ runId: z.string(), profileId: z.string() })),
      }),
    ],
    { errors: [404, 409, 422] },
  ),
  R(
    'get',
    '/api/flows/:id/variables',
    'flows:read',
    'Variables a template of this flow can use',
    [200, z.object({ variables: z.array(z.looseObject({})) })],
    { errors: [404] },
  ),
  R(
    'post',
    '/api/flows/:id/steps/:stepId/preview',
    'flows:read',
    'Render a webhook step with sample data',
    [200, object('Preview', 'The rendered URL, headers (masked) and body, or the template errors.')],
    { body: previewSchema, bodyOptional: true, errors: [400, 404, 422] },
  ),
  R(
    'post',
    '/api/flows/:id/steps/:stepId/signing-secret/rotate',
    'webhooks:change',
    "Rotate a webhook step's signing secret; the new one is shown once, the old one signs too for the grace period",
    [
      200,
      z.object({
        flowId: z.string(),
        version: z.number().int(),
        stepId: z.string(),
        secret: z.string(),
        previousValidUntil: isoTime,
      }),
    ],
    { errors: [404, 409] },
  ),
  R(
    'post',
    '/api/flows/:id/steps/:stepId/test',
    'webhooks:test',
    'Send a webhook step once to its endpoint',
    [200, object('TestSend', 'What the endpoint answered (status, excerpt) or why nothing was sent.')],
    { body: testSendSchema, bodyOptional: true, errors: [400, 404, 422] },
  ),

  R(
    'post',
    '/api/events',
    'events:write',
    'Ingest an event: one run per live flow it triggers',
    [202, runsStartedSchema],
    {
      body: eventSchema,
      errors: [400, 413, 422, 503],
    },
  ),

  R(
    'post',
    '/api/profiles',
    'profiles:write',
    'Create (201) or update (200) a profile by identifier',
    [200, profileOut],
    {
      body: profileSchema,
      alsoOk: [201],
      errors: [400, 422, 503],
    },
  ),
  R(
    'post',
    '/api/profiles/bulk',
    'profiles:write',
    'Create or update up to 1,000 profiles, all or nothing',
    [
      200,
      z.object({
        created: z.number().int(),
        updated: z.number().int(),
        profiles: z.array(z.object({ id: z.string(), created: z.boolean() })),
      }),
    ],
    { body: bulkProfilesSchema, errors: [400, 422, 503] },
  ),
  R(
    'get',
    '/api/profiles',
    'profiles:read',
    'Find profiles by one identifier',
    [200, listOf('profiles', profileOut)],
    {
      query: profileLookupSchema,
      errors: [422],
    },
  ),
  R('get', '/api/profiles/:id', 'profiles:read', 'Read a profile', [200, profileOut], { errors: [404] }),
  R('delete', '/api/profiles/:id', 'profiles:write', 'Delete a profile and its memberships', [204], {
    errors: [404],
  }),

  R('post', '/api/lists', 'profiles:write', 'Create a list', [201, listOut], {
    body: createListSchema,
    errors: [400, 422],
  }),
  R('get', '/api/lists', 'profiles:read', 'List lists', [200, listOf('lists', listOut)]),
  R('get', '/api/lists/:id', 'profiles:read', 'Read a list', [200, listOut], { errors: [404] }),
  R('patch', '/api/lists/:id', 'profiles:write', 'Change a list', [200, listOut], {
    body: patchListSchema,
    errors: [400, 404, 422],
  }),
  R('delete', '/api/lists/:id', 'profiles:write', 'Delete a list', [204], { errors: [404, 409] }),
  R(
    'get',
    '/api/lists/:id/members',
    'profiles:read',
    'Members in join order (keyset paging)',
    [200, membersPage],
    {
      query: membersPageSchema,
      errors: [404, 422],
    },
  ),
  R(
    'post',
    '/api/lists/:id/members',
    'profiles:write',
    'Add up to 1,000 members; starts list flows',
    [
      200,
      z.looseObject({
        added: z.array(z.looseObject({})),
        alreadyMembers: z.array(z.unknown()),
        runs: z.array(z.looseObject({})),
      }),
    ],
    { body: addMembersSchema, errors: [400, 404, 422, 503] },
  ),
  R('delete', '/api/lists/:id/members/:profileId', 'profiles:write', 'Remove a member', [204], {
    errors: [404],
  }),
  R(
    'post',
    '/api/lists/:id/members/:profileId/confirm',
    'profiles:write',
    'Double opt-in: confirm a pending member',
    [200, z.looseObject({})],
    { errors: [404, 409, 503] },
  ),
  R(
    'get',
    '/api/lists/:id/members/:profileId/history',
    'profiles:read',
    "A member's joins, confirmations and leaves",
    [200, z.object({ history: z.array(z.looseObject({})) })],
    { errors: [404] },
  ),

  R('post', '/api/segments', 'segments:write', 'Create a segment', [201, segmentOut], {
    body: createSegmentSchema,
    errors: [400, 422],
  }),
  R('get', '/api/segments', 'segments:read', 'List segments', [200, listOf('segments', segmentOut)]),
  R(
    'get',
    '/api/segments/:id',
    'segments:read',
    'Read a segment with its member count and recompute progress',
    [200, segmentOut],
    {
      errors: [404],
    },
  ),
  R('patch', '/api/segments/:id', 'segments:write', 'Change name and/or definition', [200, segmentOut], {
    body: patchSegmentSchema,
    errors: [400, 404, 422],
  }),
  R('delete', '/api/segments/:id', 'segments:write', 'Delete a segment', [204], { errors: [404, 409] }),
  R(
    'get',
    '/api/segments/:id/members',
    'segments:read',
    'Current members by profile id (keyset paging)',
    [200, membersPage],
    {
      query: membersQuerySchema,
      errors: [404, 422],
    },
  ),

  R(
    'put',
    '/api/catalog/items/:id',
    'catalog:write',
    'Create or replace an item; a lower price records a drop',
    [200, z.looseObject({ item: itemOut, drop: z.looseObject({}).nullable().optional() })],
    { body: itemSchema, errors: [400, 422, 503] },
  ),
  R(
    'post',
    '/api/catalog/items/bulk',
    'catalog:write',
    'Up to 1,000 items in one transaction',
    [200, z.looseObject({})],
    {
      body: bulkItemsSchema,
      errors: [400, 422, 503],
    },
  ),
  R(
    'get',
    '/api/catalog/items',
    'catalog:read',
    'Items by id (keyset paging)',
    [200, z.looseObject({ items: z.array(itemOut) })],
    {
      query: itemsPageSchema,
      errors: [422],
    },
  ),
  R('get', '/api/catalog/items/:id', 'catalog:read', 'An item with its price history', [200, itemOut], {
    errors: [404],
  }),
  R('delete', '/api/catalog/items/:id', 'catalog:write', 'Delete an item', [204], { errors: [404] }),
  R(
    'get',
    '/api/catalog/drops/:id',
    'catalog:read',
    'A price drop and its fan-out per flow',
    [200, z.looseObject({ id: z.string() })],
    {
      errors: [404],
    },
  ),

  R('get', '/api/runs/:runId', 'analytics:read', "A run and each step's status", [200, runSchema], {
    errors: [404],
  }),

  R(
    'get',
    '/api/webhooks/stats',
    'analytics:read',
    'Delivery counts, success rate, latency and series',
    [200, statsSchema],
    {
      query: statsQuery,
      errors: [422],
    },
  ),
  R(
    'get',
    '/api/webhooks/deliveries',
    'analytics:read',
    'Deliveries, newest first (cursor paging)',
    [200, z.object({ deliveries: z.array(deliverySchema), nextCursor: z.string().nullable() })],
    { query: listQuery, errors: [422] },
  ),
  R(
    'post',
    '/api/webhooks/deliveries/resend',
    'deliveries:resend',
    'Resend failed and skipped deliveries matching a filter',
    [202, resendTotalsSchema],
    { body: bulkBody, bodyOptional: true, errors: [400, 422] },
  ),
  R(
    'get',
    '/api/webhooks/deliveries/:id',
    'analytics:read',
    'One delivery with its attempts',
    [
      200,
      z.object({
        delivery: deliverySchema.extend({
          possibleDuplicate: z.boolean().meta({
            description:
              'The endpoint may have received the request more than once, with the same Idempotency-Key: an attempt of unknown outcome came before the delivered one, or two attempts were delivered.',
          }),
        }),
        attempts: z.array(attemptSchema),
        runUrl: z.string(),
      }),
    ],
    { errors: [404] },
  ),
  R(
    'post',
    '/api/webhooks/deliveries/:id/resend',
    'deliveries:resend',
    'Resend one delivery',
    [202, z.looseObject({})],
    {
      errors: [404, 409],
    },
  ),

  R(
    'get',
    '/api/destinations/paused',
    'analytics:read',
    "Destinations endpoint protection holds back (circuit open or half-open, or the endpoint's Retry-After hold)",
    [
      200,
      z.object({
        destinations: z.array(
          z.object({
            id: z.string(),
            origin: z.string(),
            circuit: z.enum(['open', 'half_open', 'held']),
            reason: z.string(),
            since: isoTime,
            until: isoTime.nullable(),
          }),
        ),
      }),
    ],
    { errors: [] },
  ),
  R(
    'post',
    '/api/destinations/:id/resume',
    'deliveries:resend',
    'Resume a paused destination now: its circuit closes and any hold ends (audited)',
    [200, z.object({ id: z.string(), circuit: z.literal('closed') })],
    { errors: [404] },
  ),

  R(
    'get',
    '/api/audit',
    'audit:read',
    'The audit log of webhook changes',
    [200, z.looseObject({ entries: z.array(z.looseObject({})) })],
    {
      query: auditQuery,
      errors: [422],
    },
  ),

  R('post', '/api/flows/:id/duplicate', 'flows:write', 'Copy a flow as a new draft', [201, savedFlowSchema], {
    errors: [404],
  }),
  R(
    'post',
    '/api/flows/:id/preview',
    'flows:read',
    'Render a draft body (not saved yet) with sample data',
    [200, object('DraftPreview', 'The rendered body, or the template errors with their positions.')],
    { body: draftPreviewSchema, errors: [400, 404, 422] },
  ),
  R(
    'get',
    '/api/events/metrics',
    'flows:read',
    'Metric names already seen, most recent first (for metric triggers)',
    [200, z.object({ metrics: z.array(z.string()) })],
    { query: metricsQuery, errors: [422] },
  ),
  R(
    'get',
    '/api/profiles/:id/events',
    'profiles:read',
    "A profile's events, newest first (keyset paging)",
    [200, z.object({ events: z.array(z.looseObject({})), next: z.string().nullable() })],
    { query: profileEventsQuerySchema, errors: [404, 422] },
  ),
];

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request (e.g. JSON that does not parse)',
  401: 'No valid API key, session token or session cookie (sign-in: wrong email, password or code)',
  403: 'Not allowed: missing scope or role, or two-step authentication required',
  404: 'Not found',
  409: 'Conflicts with the current state',
  413: 'Body too large',
  422: 'Invalid input; `details` names each field',
  429: 'Too many attempts; see Retry-After',
  503: 'A dependency is unavailable',
};

/** A 503 of a route that records runs: the `backlog_full` refusal. */
const BACKLOG_FULL_TEXT =
  'Too many runs are waiting for Temporal (`backlog_full`, HOOKFLOW_RUN_BACKLOG_MAX): nothing was stored; send the same request again after Retry-After seconds';

const RETRY_AFTER_HEADER = z.object({
  'Retry-After': z.string().meta({ description: 'Seconds to wait before sending the request again.' }),
});

/**
 * OpenAPI links from an answer that creates or lists something to the routes that act on it, for
 * clients and for the stateful phase of `make fuzz` (schemathesis follows them: create, then read,
 * change, delete). A route gets a link when it sits under `prefix` and every path parameter it
 * takes is given here, as a runtime expression into the answer's body.
 */
const LINKS: readonly { from: string; prefix: string; params: Record<string, string> }[] = [
  {
    from: 'post /api/flows',
    prefix: '/api/flows/:id',
    params: { id: '$response.body#/id', stepId: '$response.body#/steps/0/id' },
  },
  { from: 'post /api/flows/:id/duplicate', prefix: '/api/flows/:id', params: { id: '$response.body#/id' } },
  { from: 'post /api/lists', prefix: '/api/lists/:id', params: { id: '$response.body#/id' } },
  { from: 'post /api/segments', prefix: '/api/segments/:id', params: { id: '$response.body#/id' } },
  { from: 'post /api/profiles', prefix: '/api/profiles/:id', params: { id: '$response.body#/id' } },
  {
    from: 'put /api/catalog/items/:id',
    prefix: '/api/catalog/items/:id',
    params: { id: '$response.body#/item/id' },
  },
  { from: 'post /api/keys', prefix: '/api/keys/:id', params: { id: '$response.body#/id' } },
  { from: 'post /api/users', prefix: '/api/users/:id', params: { id: '$response.body#/id' } },
  { from: 'post /api/events', prefix: '/api/runs/:runId', params: { runId: '$response.body#/runs/0/runId' } },
  {
    from: 'get /api/webhooks/deliveries',
    prefix: '/api/webhooks/deliveries/:id',
    params: { id: '$response.body#/deliveries/0/id' },
  },
];

function operationId(route: ApiRoute): string {
  return `${route.method}${route.path.replace(/[^a-zA-Z0-9]+(\w)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`;
}

/** The links of `route`'s success answer (see {@link LINKS}), by the target's operation id. */
function linksOf(
  route: ApiRoute,
): Record<string, { operationId: string; parameters: Record<string, string> }> {
  const out: Record<string, { operationId: string; parameters: Record<string, string> }> = {};
  for (const link of LINKS.filter((l) => l.from === `${route.method} ${route.path}`)) {
    for (const target of API_ROUTES) {
      if (target === route || !(target.path === link.prefix || target.path.startsWith(`${link.prefix}/`)))
        continue;
      const names = [...target.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      if (!names.every((n) => n in link.params)) continue;
      const id = operationId(target);
      out[id] = { operationId: id, parameters: Object.fromEntries(names.map((n) => [n, link.params[n]!])) };
    }
  }
  return out;
}

/** `/api/flows/:id` → `/api/flows/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

function operation(route: ApiRoute): ZodOpenApiOperationObject {
  const pathParams = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const [okStatus, okSchema] = route.ok;
  const links = linksOf(route);
  const responses: Record<string, ZodOpenApiResponseObject> = {
    [okStatus]: okSchema
      ? {
          description: 'OK',
          content: { 'application/json': { schema: okSchema } },
          ...(Object.keys(links).length > 0 ? { links } : {}),
        }
      : route.path === '/metrics'
        ? { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } }
        : route.path === '/api/openapi.json'
          ? { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.looseObject({}) } } }
          : { description: 'No content' },
  };
  for (const status of route.alsoOk ?? []) responses[status] = responses[okStatus]!;
  const refusals = new Set(route.errors ?? []);
  // Every JSON body is bounded in size (413) and nesting depth (400) before the route sees it; one
  // with a NUL character is a 422 (src/api/no-nul.ts).
  if (route.body) {
    refusals.add(400);
    refusals.add(413);
    refusals.add(422);
  }
  // A path parameter that names nothing is a 404 (one with a NUL character included).
  if (pathParams.length > 0) refusals.add(404);
  if (route.access !== 'public') {
    refusals.add(401);
    refusals.add(403);
  }
  for (const status of [...refusals].sort()) {
    const ready = status === 503 && route.path === '/ready';
    const backlog = status === 503 && !ready;
    responses[status] = {
      description: backlog ? BACKLOG_FULL_TEXT : (STATUS_TEXT[status] ?? 'Refused'),
      ...(status === 429 || backlog ? { headers: RETRY_AFTER_HEADER } : {}),
      content: { 'application/json': { schema: ready ? readinessRef() : errorSchema } },
    };
  }
  const op: ZodOpenApiOperationObject = {
    operationId: operationId(route),
    summary: route.summary,
    description: route.access === 'public' ? 'Public: no credentials.' : `Requires \`${route.access}\`.`,
    responses,
    ...(route.access === 'public' ? { security: [] } : {}),
  };
  const params: NonNullable<ZodOpenApiOperationObject['requestParams']> = {};
  if (pathParams.length > 0)
    params.path = z.object(Object.fromEntries(pathParams.map((p) => [p, z.string()])));
  if (route.query) params.query = route.query;
  if (Object.keys(params).length > 0) op.requestParams = params;
  if (route.body)
    op.requestBody = {
      required: route.bodyOptional !== true,
      content: { 'application/json': { schema: route.body } },
    };
  return op;
}

/** The readiness answer is the same body for 200 and 503. */
function readinessRef(): z.ZodType {
  const ready = API_ROUTES.find((r) => r.path === '/ready')!;
  return ready.ok[1]!;
}

let built: ReturnType<typeof createDocument> | undefined;

/** The OpenAPI 3.1 document of the whole JSON API, built once from the zod schemas. */
export function openApiDocument(): ReturnType<typeof createDocument> {
  if (built) return built;
  const paths: ZodOpenApiPathsObject = {};
  for (const route of API_ROUTES) {
    const key = openApiPath(route.path);
    paths[key] = { ...paths[key], [route.method]: operation(route) };
  }
  built = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'hookflow',
      version: VERSION,
      description:
        'Durable flows: triggers, delays, splits and webhook actions on Temporal. Send `Authorization: Bearer <API key or session token>`.',
    },
    security: [{ bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (`hfk_…`) or a session token (`hfs_…`).',
        },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'hookflow_session',
          description: "The pages' session cookie.",
        },
      },
    },
    paths,
  });
  return built;
}

/** `GET /api/openapi.json`: public, like the API's own reference. */
export function openApiRouter(): Router {
  const r = Router();
  r.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  return r;
}
