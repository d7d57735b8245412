/** Percentile by nearest rank over an unsorted list; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(
  n: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) await task(next++);
  });
  await Promise.all(lanes);
}

/** Peak resident set size of a process (VmHWM), in MiB; NaN when unreadable. */
export function peakRssMiB(pid: number | undefined, read: (file: string) => string): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The order event the benchmarks post (two line items): `seq` identifies it at the receiver. */
export function orderEvent(
  metric: string,
  seq: number,
  email: string,
  uniqueId: string,
): Record<string, unknown> {
  return {
    metric,
    profile: { email, first_name: 'Bench', properties: { tier: 'gold' } },
    properties: {
      seq,
      value: 42.5,
      items: [
        { name: 'Tea', price: 10 },
        { name: 'Cup', price: 32.5 },
      ],
    },
    unique_id: uniqueId,
  };
}

/** CPU time a process has used (user + system), in ms; NaN when unreadable. */
export function cpuMs(pid: number | undefined, read: (file: string) => string): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name (which may hold spaces, so split after its closing paren).
    const fields = read(`/proc/${pid}/stat`).split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}
