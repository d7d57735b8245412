import type { Request, Response } from 'express';
import { Router } from 'express';
import type { FlowStore } from '../../flows/store';
import { toPublicFlow } from '../../flows/service';
import { permissionError, TWO_STEP_SETUP_URL } from '../../permissions';
import { currentPrincipal } from '../auth';
import type { Render } from './views';
import { signedInPage } from './views';

/**
 * JSON for a `<script type="application/json">` element: `<`, `>`, `&` and the two line separators
 * are escaped so that no value (a flow name, a webhook body) can close the element or open markup.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The flow builder page: the flow, who is looking and what they may change, for client/pages/builder.ts. */
export function builderPages(deps: { flows: FlowStore; render: Render }): Router {
  const { render } = deps;
  const r = Router();

  r.get('/flows/:id', signedInPage, async (req: Request<{ id: string }>, res: Response) => {
    const flow = await deps.flows.get(req.params.id);
    if (!flow) {
      res.status(404);
      return render(res, 'message.njk', {
        title: 'Flow not found',
        heading: 'Flow not found',
        message: `There is no flow ${req.params.id}. It may have been deleted.`,
      });
    }
    const p = currentPrincipal(res)!;
    const flowRefusal = permissionError(p, 'flows:write');
    const webhookRefusal = permissionError(p, 'webhooks:change');
    const data = {
      flow: toPublicFlow(flow),
      viewer: { email: p.user.email, role: p.user.role, twoStepEnabled: p.user.twoStepEnabled },
      canEditFlow: flowRefusal === undefined,
      // Missing two-step authentication is not read-only: the page asks for it in a modal.
      canEditWebhooks: webhookRefusal === undefined || webhookRefusal.code === 'two_step_required',
      ...(flowRefusal
        ? { readOnlyReason: `You can view this flow but not change it: ${flowRefusal.message}.` }
        : {}),
      twoStepSetupUrl: TWO_STEP_SETUP_URL,
      analyticsBase: '/webhooks/steps',
    };
    render(res, 'builder.njk', {
      title: flow.name,
      section: 'flows',
      flowName: flow.name,
      dataJson: scriptJson(data),
    });
  });

  return r;
}
