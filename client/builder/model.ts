import type { StepDraft, WebhookStepDraft } from './types';

/**
 * The flow's steps as the builder edits them: lists addressed by key (`root`, `<splitId>.yes`,
 * `<splitId>.no`), new steps with ids made here, and the API's error paths (`steps.0.yes.1.url`)
 * traced back to the step they belong to.
 */
export type StepType = StepDraft['type'];
export const ROOT = 'root';

/** A fresh id matching the API's step id rule (/^[A-Za-z0-9_-]{1,64}$/). */
export function newStepId(type: StepType, taken: ReadonlySet<string>): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    const id = `${type}-${Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('')}`;
    if (!taken.has(id)) return id;
  }
}

export function* walk(steps: readonly StepDraft[]): Generator<StepDraft> {
  for (const s of steps) {
    yield s;
    if (s.type === 'split') {
      yield* walk(s.yes);
      yield* walk(s.no);
    }
  }
}

export function stepIds(steps: readonly StepDraft[]): Set<string> {
  return new Set(Array.from(walk(steps), (s) => s.id));
}

export function newStep(type: StepType, taken: ReadonlySet<string>): StepDraft {
  const id = newStepId(type, taken);
  if (type === 'webhook') return { id, type, url: '', headers: {}, body: '' };
  if (type === 'delay') return { id, type, seconds: 3600 };
  return { id, type, condition: '', yes: [], no: [] };
}

/** The array behind a list key, or undefined when the key names no list of this flow. */
export function listOf(steps: StepDraft[], key: string): StepDraft[] | undefined {
  if (key === ROOT) return steps;
  const dot = key.lastIndexOf('.');
  const id = key.slice(0, dot);
  const branch = key.slice(dot + 1);
  for (const s of walk(steps)) {
    if (s.id === id && s.type === 'split')
      return branch === 'yes' ? s.yes : branch === 'no' ? s.no : undefined;
  }
  return undefined;
}

export interface Place {
  list: StepDraft[];
  key: string;
  index: number;
  step: StepDraft;
}

export function findPlace(steps: StepDraft[], id: string, key = ROOT): Place | undefined {
  for (const [index, step] of steps.entries()) {
    if (step.id === id) return { list: steps, key, index, step };
    if (step.type === 'split') {
      const found = findPlace(step.yes, id, `${step.id}.yes`) ?? findPlace(step.no, id, `${step.id}.no`);
      if (found) return found;
    }
  }
  return undefined;
}

export function findStep(steps: StepDraft[], id: string): StepDraft | undefined {
  return findPlace(steps, id)?.step;
}

/** Whether list `key` lies inside step `id` (a split cannot be moved into its own branches). */
export function isInside(steps: StepDraft[], id: string, key: string): boolean {
  if (key === ROOT) return false;
  const step = findStep(steps, id);
  if (!step || step.type !== 'split') return false;
  const owner = key.slice(0, key.lastIndexOf('.'));
  return owner === id || findStep([...step.yes, ...step.no], owner) !== undefined;
}

/** Moves a step; false (and nothing changed) when the move is not possible. */
export function moveStep(steps: StepDraft[], id: string, toKey: string, toIndex: number): boolean {
  const from = findPlace(steps, id);
  const to = listOf(steps, toKey);
  if (!from || !to || isInside(steps, id, toKey)) return false;
  from.list.splice(from.index, 1);
  to.splice(Math.max(0, Math.min(toIndex, to.length)), 0, from.step);
  return true;
}

export function insertStep(steps: StepDraft[], step: StepDraft, key: string, index: number): boolean {
  const to = listOf(steps, key);
  if (!to) return false;
  to.splice(Math.max(0, Math.min(index, to.length)), 0, step);
  return true;
}

/** A problem path of the API traced to its step: `steps.0.yes.1.url` → that step and `url`. */
export function stepOfPath(
  steps: readonly StepDraft[],
  path: string,
): { step: StepDraft; rest: string } | undefined {
  const parts = path.split('.');
  if (parts[0] !== 'steps') return undefined;
  let list: readonly StepDraft[] = steps;
  let found: StepDraft | undefined;
  let i = 1;
  while (i < parts.length) {
    const n = Number(parts[i]);
    if (!Number.isInteger(n) || !list[n]) break;
    found = list[n];
    i++;
    const branch = parts[i];
    if (found.type === 'split' && (branch === 'yes' || branch === 'no') && /^\d+$/.test(parts[i + 1] ?? '')) {
      list = found[branch];
      i++;
      continue;
    }
    break;
  }
  return found && { step: found, rest: parts.slice(i).join('.') };
}

export function isWebhook(s: StepDraft | undefined): s is WebhookStepDraft {
  return s?.type === 'webhook';
}

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** "3600" seconds in the largest whole unit: 1 hour. */
export const UNITS = [
  { name: 'days', seconds: 86_400 },
  { name: 'hours', seconds: 3600 },
  { name: 'minutes', seconds: 60 },
  { name: 'seconds', seconds: 1 },
] as const;

export function describeSeconds(seconds: number): string {
  const unit = UNITS.find((u) => seconds > 0 && seconds % u.seconds === 0) ?? UNITS[3];
  const n = seconds / unit.seconds;
  return `${n} ${n === 1 ? unit.name.slice(0, -1) : unit.name}`;
}
