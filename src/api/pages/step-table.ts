/**
 * The Webhook Analytics table: one row per webhook step, sorted and filtered as the query string
 * says, so it works without JavaScript. Pure: the page gathers the rows, this orders them.
 */

export const SORT_KEYS = [
  'failures',
  'flow',
  'step',
  'host',
  'delivered',
  'retrying',
  'failed',
  'skipped',
  'success',
  'p95',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';

export interface StepRow {
  flowId: string;
  flowName: string;
  flowStatus: string;
  stepId: string;
  stepName: string;
  host: string;
  delivered: number;
  /** Retrying and pending: still on their way. */
  retrying: number;
  failed: number;
  skipped: number;
  successRate: number | null;
  p95Ms: number | null;
}

export interface TableQuery {
  sort: SortKey;
  dir: SortDir;
  /** Matched, case-insensitively, against the flow name, the step name and the host. */
  text: string;
  /** Only steps with failed or skipped deliveries. */
  failuresOnly: boolean;
  flowId: string | undefined;
}

/** The direction a column sorts in when first clicked: numbers biggest first, names A to Z. */
export function defaultDir(key: SortKey): SortDir {
  return key === 'flow' || key === 'step' || key === 'host' ? 'asc' : 'desc';
}

/** Reads the table's query string; anything unknown falls back to the default (failures first). */
export function parseTableQuery(q: Record<string, unknown>): TableQuery {
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const sort = (SORT_KEYS as readonly string[]).includes(str(q.sort)) ? (str(q.sort) as SortKey) : 'failures';
  const dir = str(q.dir) === 'asc' || str(q.dir) === 'desc' ? (str(q.dir) as SortDir) : defaultDir(sort);
  const flowId = str(q.flow).trim();
  return {
    sort,
    dir,
    text: str(q.q).trim().slice(0, 200),
    failuresOnly: str(q.status) === 'failures',
    flowId: flowId === '' ? undefined : flowId,
  };
}

const failures = (r: StepRow) => r.failed + r.skipped;

function value(r: StepRow, key: SortKey): string | number | null {
  switch (key) {
    case 'failures':
      return failures(r);
    case 'flow':
      return r.flowName.toLowerCase();
    case 'step':
      return r.stepName.toLowerCase();
    case 'host':
      return r.host.toLowerCase();
    case 'success':
      return r.successRate;
    case 'p95':
      return r.p95Ms;
    default:
      return r[key];
  }
}

function compare(a: string | number | null, b: string | number | null): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * Filters then sorts. Steps without a value for the column (no delivery ended, no latency) come
 * last whichever the direction; ties go to the most failures, then retrying, then flow and step name.
 */
export function tableRows(rows: readonly StepRow[], q: TableQuery): StepRow[] {
  const text = q.text.toLowerCase();
  const kept = rows.filter(
    (r) =>
      (q.flowId === undefined || r.flowId === q.flowId) &&
      (!q.failuresOnly || failures(r) > 0) &&
      (text === '' ||
        r.flowName.toLowerCase().includes(text) ||
        r.stepName.toLowerCase().includes(text) ||
        r.host.toLowerCase().includes(text)),
  );
  const sign = q.dir === 'asc' ? 1 : -1;
  return kept.sort((a, b) => {
    const [x, y] = [value(a, q.sort), value(b, q.sort)];
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1;
    } else {
      const c = compare(x, y);
      if (c !== 0) return sign * c;
    }
    return (
      failures(b) - failures(a) ||
      b.retrying - a.retrying ||
      a.flowName.localeCompare(b.flowName) ||
      a.stepName.localeCompare(b.stepName)
    );
  });
}
