import fs from 'node:fs';
import type { Stack } from '../test/harness/stack';

/**
 * The memory budgets of issue 18 §3, in MiB of resident memory at the peak of `make bench`: each
 * worker process and the API process. The Temporal dev server is printed beside them, without one.
 */
export const MEMORY_BUDGETS_MIB = { worker: 200, api: 120 } as const;

/** One process's memory, read from /proc when the load is over. */
export interface ProcessMemory {
  label: string;
  /** Highest resident set size over the process's life (VmHWM). */
  peakMiB: number;
  /** Resident now, and the part of it that is files: the node binary, native addons, libraries. */
  nowMiB: number;
  filesMiB: number;
  budgetMiB: number | undefined;
}

/** `VmHWM`, `VmRSS` and `RssFile` of a /proc/<pid>/status text, in MiB (NaN when absent). */
export function parseStatus(status: string): { peakMiB: number; nowMiB: number; filesMiB: number } {
  const kib = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { peakMiB: kib('VmHWM'), nowMiB: kib('VmRSS'), filesMiB: kib('RssFile') };
}

function readProcess(label: string, pid: number | undefined, budgetMiB?: number): ProcessMemory {
  let status = '';
  try {
    if (pid !== undefined) status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // Exited: its figures print as n/a.
  }
  return { label, ...parseStatus(status), budgetMiB };
}

/**
 * The memory of a stack's processes, read before it stops: its Temporal dev server (when it
 * started one), the API and each worker process. `prefix` names the engine in the labels.
 */
export function stackMemory(
  stack: Stack,
  opts: { prefix?: string; devServerPid?: number } = {},
): ProcessMemory[] {
  const p = opts.prefix ? `${opts.prefix} ` : '';
  const rows: ProcessMemory[] = [];
  if (opts.devServerPid !== undefined) rows.push(readProcess(`${p}Temporal dev server`, opts.devServerPid));
  rows.push(readProcess(`${p}API`, stack.apiPid, MEMORY_BUDGETS_MIB.api));
  const workers = stack.workerPids;
  workers.forEach((pid, i) =>
    rows.push(
      readProcess(`${p}worker${workers.length > 1 ? ` ${i + 1}` : ''}`, pid, MEMORY_BUDGETS_MIB.worker),
    ),
  );
  return rows;
}

const mib = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

/** One line: `worker  184.2 / 200 MiB budget  within   (now 170.1, of which 69.0 files)`. */
export function formatMemoryLine(m: ProcessMemory, width: number): string {
  const budget =
    m.budgetMiB === undefined
      ? ''.padEnd(20)
      : `/ ${m.budgetMiB} MiB budget  ${!Number.isFinite(m.peakMiB) ? '' : m.peakMiB <= m.budgetMiB ? 'within' : `OVER by ${mib(m.peakMiB - m.budgetMiB)}`}`;
  return `  ${m.label.padEnd(width)} ${mib(m.peakMiB).padStart(6)} ${budget.padEnd(36)} (now ${mib(m.nowMiB)}, of which ${mib(m.filesMiB)} files)`;
}

/** Prints peak RSS per process beside its budget. */
export function printMemory(rows: readonly ProcessMemory[]): void {
  console.log('peak RSS per process (MiB; files: the node binary, native addons and libraries mapped)');
  const width = Math.max(...rows.map((r) => r.label.length));
  for (const r of rows) console.log(formatMemoryLine(r, width));
}
