import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { clusterToolPaths } from '../../src/cluster/tools';
import { spawnUiServer } from '../../src/cluster/ui-server';
import { freePort } from '../../src/temporal/ports';
import { poll, ROOT } from '../harness/stack';

/**
 * The cluster's Web UI server (`make start-cluster`) is configured with hookflow's codec endpoint
 * and sends credentials with it, so a browser signed in to hookflow sees payloads decoded
 * (the browser side is test/integration/payload-codec.test.ts, on the dev server's UI).
 */

let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGTERM');
});

test('the UI server tells the browser the codec endpoint, with credentials included', async () => {
  const executable = clusterToolPaths(ROOT).uiServer;
  if (!fs.existsSync(executable)) throw new Error(`${executable} is missing: run "make cluster-tools"`);
  const port = await freePort();
  child = spawnUiServer({
    executable,
    configDir: fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-ui-codec-')),
    temporalAddress: '127.0.0.1:7233',
    port,
    defaultNamespace: 'default',
    codecEndpoint: 'http://127.0.0.1:3000/codec',
  });
  const settings = await poll(
    () =>
      fetch(`http://127.0.0.1:${port}/api/v1/settings`).then(
        (r) => (r.ok ? (r.json() as Promise<{ Codec: Record<string, unknown> }>) : undefined),
        () => undefined,
      ),
    (s) => s !== undefined,
  );
  expect(settings!.Codec).toMatchObject({
    Endpoint: 'http://127.0.0.1:3000/codec',
    IncludeCredentials: true,
    PassAccessToken: false,
  });
}, 60_000);
