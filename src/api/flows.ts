import { Router } from 'express';
import type { ListService } from '../audience/lists';
import type { EventStore } from '../db/event-store';
import { createFlowSchema, patchFlowSchema } from '../flows/model';
import type { FlowService, SaveResult } from '../flows/service';
import { toPublicFlow } from '../flows/service';
import type { StepTools } from '../flows/step-tools';
import { draftPreviewSchema, previewSchema, testSendSchema } from '../flows/step-tools';
import { listVariables } from '../flows/variables';
import type { Response } from 'express';
import { permissionError } from '../permissions';
import { actorOf, currentPrincipal, requires } from './auth';
import { parseBody } from './validation';

/**
 * A preview or test of a stored profile or event shows that profile's data: the caller must be
 * allowed to read profiles too (a key with `flows:read` only must not read profiles this way).
 */
function mayReadChosen(
  res: Response,
  input: { profileId?: string | undefined; eventId?: string | undefined },
): void {
  if (input.profileId === undefined && input.eventId === undefined) return;
  const refused = permissionError(currentPrincipal(res), 'profiles:read');
  if (refused) throw refused;
}

/** A saved flow with the per-webhook-step results of its save-time checks. */
const saved = ({ flow, checks, signingSecrets }: SaveResult) => ({
  ...toPublicFlow(flow),
  checks,
  // Shown in this answer only: reads answer the masked form.
  ...(signingSecrets.length ? { signingSecrets } : {}),
});

/** Flows: create, list, read, change, delete; a flow's variables; preview (of a step or a draft body) and test send. */
export function flowsRouter(deps: {
  flows: FlowService;
  lists: ListService;
  stepTools: StepTools;
  eventStore: EventStore;
}): Router {
  const r = Router();

  r.post('/', requires('flows:write'), async (req, res) => {
    res.status(201).json(saved(await deps.flows.create(parseBody(createFlowSchema, req.body), actorOf(res))));
  });
  r.get('/', requires('flows:read'), async (_req, res) => {
    res.json({ flows: (await deps.flows.list()).map(toPublicFlow) });
  });
  r.get('/:id', requires('flows:read'), async (req, res) => {
    res.json(toPublicFlow(await deps.flows.get(req.params.id)));
  });
  r.patch('/:id', requires('flows:write'), async (req, res) => {
    const patch = parseBody(patchFlowSchema, req.body);
    res.json(saved(await deps.flows.patch(req.params.id, patch, actorOf(res))));
  });
  r.delete('/:id', requires('flows:write'), async (req, res) => {
    await deps.flows.delete(req.params.id, actorOf(res));
    res.status(204).end();
  });

  r.post('/:id/duplicate', requires('flows:write'), async (req, res) => {
    res.status(201).json(saved(await deps.flows.duplicate(req.params.id, actorOf(res))));
  });

  r.post('/:id/add-past-profiles', requires('flows:write'), async (req, res) => {
    const { entered, runs } = await deps.lists.addPastProfiles(req.params.id);
    res.json({ entered, runs: runs.map((x) => ({ runId: x.runId, profileId: x.profileId })) });
  });

  r.get('/:id/variables', requires('flows:read'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    res.json({ variables: await listVariables(flow, deps.eventStore) });
  });
  r.post('/:id/steps/:stepId/preview', requires('flows:read'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    const input = parseBody(previewSchema, req.body ?? {});
    mayReadChosen(res, input);
    res.json(await deps.stepTools.preview(flow, req.params.stepId, input));
  });
  r.post('/:id/preview', requires('flows:read'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    const input = parseBody(draftPreviewSchema, req.body);
    mayReadChosen(res, input);
    res.json(await deps.stepTools.previewDraft(flow, input));
  });
  r.post('/:id/steps/:stepId/signing-secret/rotate', requires('webhooks:change'), async (req, res) => {
    const r = await deps.flows.rotateSigningSecret(req.params.id, req.params.stepId, actorOf(res));
    res.json({
      flowId: r.flow.id,
      version: r.flow.version,
      stepId: r.stepId,
      secret: r.secret,
      previousValidUntil: r.previousValidUntil,
    });
  });
  r.post('/:id/steps/:stepId/test', requires('webhooks:test'), async (req, res) => {
    const flow = await deps.flows.get(req.params.id);
    const input = parseBody(testSendSchema, req.body ?? {});
    mayReadChosen(res, input);
    res.json(await deps.stepTools.testSend(flow, req.params.stepId, input));
  });

  return r;
}
