import crypto from 'node:crypto';
import type { FlowStore } from '../db/flow-store';
import { HttpError, NotFoundError, ValidationError } from '../errors';
import type { SecretBox } from '../secrets';
import { maskSealed } from '../secrets';
import type { CreateFlowInput, Flow, PatchFlowInput, Step } from './model';
import { normalizeSteps } from './normalize';

/** A step as the API shows it: header values masked, never in full. */
export type PublicStep =
  | (Omit<Extract<Step, { type: 'webhook' }>, 'headers'> & { headers: Record<string, string> })
  | Extract<Step, { type: 'delay' }>
  | (Omit<Extract<Step, { type: 'split' }>, 'yes' | 'no'> & { yes: PublicStep[]; no: PublicStep[] });

export type PublicFlow = Omit<Flow, 'steps'> & { steps: PublicStep[] };

export function toPublicSteps(steps: readonly Step[]): PublicStep[] {
  return steps.map((s): PublicStep => {
    if (s.type === 'webhook') {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.headers)) headers[k] = maskSealed(v);
      return { ...s, headers };
    }
    if (s.type === 'split') return { ...s, yes: toPublicSteps(s.yes), no: toPublicSteps(s.no) };
    return s;
  });
}

export function toPublicFlow(flow: Flow): PublicFlow {
  return { ...flow, steps: toPublicSteps(flow.steps) };
}

/** Creating, changing and deleting flows; every change saves a new version. */
export class FlowService {
  constructor(
    private readonly store: FlowStore,
    private readonly secrets: SecretBox,
  ) {}

  async create(input: CreateFlowInput): Promise<Flow> {
    const { steps, problems } = normalizeSteps(input.steps, [], this.secrets);
    if (problems.length) throw new ValidationError(problems);
    const now = new Date().toISOString();
    const flow: Flow = {
      id: `flw_${crypto.randomBytes(8).toString('hex')}`,
      name: input.name,
      status: input.status,
      trigger: input.trigger,
      steps,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insert(flow);
    return flow;
  }

  async get(id: string): Promise<Flow> {
    const flow = await this.store.get(id);
    if (!flow) throw new NotFoundError(`flow ${id}`);
    return flow;
  }

  list(): Promise<Flow[]> {
    return this.store.list();
  }

  async patch(id: string, patch: PatchFlowInput): Promise<Flow> {
    const current = await this.get(id);
    let steps = current.steps;
    if (patch.steps !== undefined) {
      const normalized = normalizeSteps(patch.steps, current.steps, this.secrets);
      if (normalized.problems.length) throw new ValidationError(normalized.problems);
      steps = normalized.steps;
    }
    const next: Flow = {
      ...current,
      name: patch.name ?? current.name,
      status: patch.status ?? current.status,
      trigger: patch.trigger ?? current.trigger,
      steps,
      version: current.version + 1,
      updatedAt: new Date().toISOString(),
    };
    if (!(await this.store.update(next, current.version))) {
      throw new HttpError(
        409,
        'conflict',
        `flow ${id} was changed by another request; fetch it and try again`,
      );
    }
    return next;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.delete(id))) throw new NotFoundError(`flow ${id}`);
  }
}
