import crypto from 'node:crypto';
import type { FieldProblem } from '../errors';
import type { SealedValue, SecretBox } from '../secrets';
import { looksMasked, maskSealed } from '../secrets';
import { compileTemplate, TemplateError } from '../templates';
import { checkHeaderName, checkHeaderValue, checkWebhookUrl, MAX_HEADERS } from '../webhooks/rules';
import { ConditionSyntaxError, parseCondition } from '../shared/condition';
import type { Step, StepInput, WebhookStep } from './model';
import { MAX_NESTING, MAX_STEPS, walkSteps } from './model';

/**
 * Turns validated step input into stored steps: gives ids to steps without one, seals header
 * values, keeps values sent back in their masked form, and collects every rule a step breaks.
 */
export function normalizeSteps(
  input: readonly StepInput[],
  previous: readonly Step[],
  secrets: SecretBox,
): { steps: Step[]; problems: FieldProblem[]; paths: Map<string, string> } {
  const problems: FieldProblem[] = [];
  const previousById = new Map<string, Step>();
  for (const s of walkSteps(previous)) previousById.set(s.id, s);
  const seen = new Set<string>();
  const paths = new Map<string, string>();
  let count = 0;

  const visit = (list: readonly StepInput[], path: string, depth: number): Step[] =>
    list.map((raw, i): Step => {
      const at = `${path}.${i}`;
      count++;
      const id = raw.id ?? `s_${crypto.randomBytes(4).toString('hex')}`;
      if (seen.has(id))
        problems.push({ path: `${at}.id`, message: `step id "${id}" is used twice in this flow` });
      seen.add(id);
      paths.set(id, at);
      switch (raw.type) {
        case 'delay':
          return { id, type: 'delay', seconds: raw.seconds };
        case 'split': {
          try {
            parseCondition(raw.condition);
          } catch (err) {
            if (!(err instanceof ConditionSyntaxError)) throw err;
            problems.push({ path: `${at}.condition`, message: `is not a valid condition: ${err.message}` });
          }
          if (depth >= MAX_NESTING) {
            problems.push({ path: at, message: `splits may be nested at most ${MAX_NESTING} deep` });
            return { id, type: 'split', condition: raw.condition, yes: [], no: [] };
          }
          return {
            id,
            type: 'split',
            condition: raw.condition,
            yes: visit(raw.yes, `${at}.yes`, depth + 1),
            no: visit(raw.no, `${at}.no`, depth + 1),
          };
        }
        case 'webhook': {
          const urlProblem = checkWebhookUrl(raw.url);
          if (urlProblem)
            problems.push({ path: `${at}.url`, message: `${urlProblem.message} [${urlProblem.rule}]` });
          try {
            compileTemplate(raw.body);
          } catch (err) {
            if (!(err instanceof TemplateError)) throw err;
            const where = err.line !== undefined ? ` (line ${err.line}, column ${err.column ?? 0})` : '';
            const problem: FieldProblem = {
              path: `${at}.body`,
              message: `template error${where}: ${err.message}`,
            };
            if (err.line !== undefined) problem.line = err.line;
            if (err.column !== undefined) problem.column = err.column;
            problems.push(problem);
          }
          const prev = previousById.get(id);
          const headers = sealHeaders(
            raw.headers ?? {},
            prev?.type === 'webhook' ? prev : undefined,
            `${at}.headers`,
            secrets,
            problems,
          );
          const step: WebhookStep = { id, type: 'webhook', url: raw.url.trim(), headers, body: raw.body };
          if (raw.name !== undefined) step.name = raw.name;
          if (raw.retry !== undefined) step.retry = raw.retry;
          return step;
        }
      }
    });

  const steps = visit(input, 'steps', 0);
  if (count > MAX_STEPS) problems.push({ path: 'steps', message: `a flow has at most ${MAX_STEPS} steps` });
  return { steps, problems, paths };
}

function sealHeaders(
  headers: Record<string, string>,
  previous: WebhookStep | undefined,
  path: string,
  secrets: SecretBox,
  problems: FieldProblem[],
): Record<string, SealedValue> {
  const out: Record<string, SealedValue> = {};
  const names = Object.keys(headers);
  if (names.length > MAX_HEADERS) problems.push({ path, message: `at most ${MAX_HEADERS} headers` });
  const lowerSeen = new Set<string>();
  for (const name of names) {
    const value = headers[name] ?? '';
    const at = `${path}.${name}`;
    const nameProblem = checkHeaderName(name);
    if (nameProblem) {
      problems.push({ path: at, message: nameProblem.message });
      continue;
    }
    if (lowerSeen.has(name.toLowerCase())) {
      problems.push({ path: at, message: `header "${name}" is given twice (names are case-insensitive)` });
      continue;
    }
    lowerSeen.add(name.toLowerCase());
    if (looksMasked(value)) {
      // A masked value sent back unchanged keeps the stored secret (see README, "Secret headers").
      const kept = previous && findHeader(previous.headers, name);
      if (kept && maskSealed(kept) === value) out[name] = kept;
      else {
        problems.push({
          path: at,
          message:
            'is a masked value that does not match the value stored for this header of this step; send the masked value unchanged to keep it, or the full new value',
        });
      }
      continue;
    }
    const valueProblem = checkHeaderValue(value);
    if (valueProblem) {
      problems.push({ path: at, message: valueProblem.message });
      continue;
    }
    out[name] = secrets.seal(value);
  }
  return out;
}

function findHeader(headers: Record<string, SealedValue>, name: string): SealedValue | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
