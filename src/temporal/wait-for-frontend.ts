import { Connection } from '@temporalio/client';

/**
 * Waits until a Temporal frontend answers `GetSystemInfo`: the dev server we start and the cluster's
 * server alike. `failed()` names a reason to give up early (the process exited); `what` names the
 * server in errors.
 */
export async function waitForFrontend(
  address: string,
  timeoutMs: number,
  failed: () => string | undefined = () => undefined,
  what = 'the Temporal server',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const reason = failed();
    if (reason) throw new Error(`${what} ${reason} while starting`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.getSystemInfo({});
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what} did not answer on ${address} within ${timeoutMs} ms`, { cause: lastError });
}
