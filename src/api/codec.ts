import express, { Router } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import type { Accounts } from '../auth/accounts';
import { HttpError } from '../errors';
import { permissionError } from '../permissions';
import { tokenOf } from './auth';
import { parseBody } from './validation';

/** What the Web UI sends on top of a simple request (its codec client, and a bearer when configured). */
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';
/** Decoding shows customer data: the same right as reading runs and their deliveries. */
const ACTION = 'analytics:read';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
/** Temporal's codec server protocol: Payloads as protobuf JSON (bytes in base64). */
const payloadsSchema = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), base64).optional(),
      data: base64.optional(),
    }),
  ),
});
type JsonPayload = z.infer<typeof payloadsSchema>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): { metadata: Record<string, string>; data: string } => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v ?? new Uint8Array()).toString('base64'),
    ]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export interface CodecRouterDeps {
  codec: PayloadCodec;
  accounts: Pick<Accounts, 'authenticate'>;
  /** Web UI origins answered cross-origin. */
  origins: readonly string[];
}

/**
 * CORS for the configured Web UI origins only, with credentials (the UI sends hookflow's session
 * cookie when its codec setting includes credentials). A browser request from any other site is
 * refused before it is read, which is the Origin check the rest of the API does for writes.
 */
function webUiCors(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin === undefined || origin === `${req.protocol}://${req.get('host') ?? ''}`) return next();
    if (!allowed.has(origin)) {
      return next(
        new HttpError(
          403,
          'cross_origin',
          `the codec endpoint answers only the Temporal Web UI (HOOKFLOW_CODEC_ORIGINS), not ${origin}`,
        ),
      );
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

/**
 * The caller must be signed in with a role that reads runs (session cookie or API key). No CSRF
 * token is asked of a session here, unlike the API's writes: neither route changes anything —
 * decode only shows the caller data (and only an allowed origin may read the answer), encode only
 * returns ciphertext — and the origin check above already refuses other sites' browsers.
 */
function mayDecode(accounts: CodecRouterDeps['accounts']): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = tokenOf(req);
    const principal = token ? await accounts.authenticate(token) : undefined;
    next(permissionError(principal, ACTION));
  };
}

/**
 * Temporal's codec server (`POST /codec/decode`, `POST /codec/encode`): the Web UI and `temporal`
 * CLI show decrypted payloads through it, while Temporal's database keeps only ciphertext.
 */
export function codecRouter(deps: CodecRouterDeps): Router {
  const r = Router();
  r.use(webUiCors(deps.origins));
  // Histories can hold many payloads at once; the rest of the API keeps its smaller limit.
  r.use(express.json({ limit: '4mb' }));
  r.use(mayDecode(deps.accounts));
  for (const op of ['decode', 'encode'] as const) {
    r.post(`/${op}`, async (req, res) => {
      const { payloads } = parseBody(payloadsSchema, req.body);
      try {
        const out = await deps.codec[op](payloads.map(fromJson));
        res.json({ payloads: out.map(toJson) });
      } catch (err) {
        throw new HttpError(422, 'payload_not_decodable', (err as Error).message, [], { cause: err });
      }
    });
  }
  return r;
}
