import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface UiServerOptions {
  executable: string;
  /** Folder for its config file (written at each start). */
  configDir: string;
  /** The Temporal frontend, host:port. */
  temporalAddress: string;
  port: number;
  /** @default "127.0.0.1" */
  host?: string;
  defaultNamespace: string;
  /**
   * hookflow's codec endpoint (`<API URL>/codec`): the UI decodes payloads through it, sending the
   * browser's hookflow session cookie (includeCredentials), so only signed-in members see them.
   */
  codecEndpoint?: string;
}

/**
 * The Temporal Web UI server (`github.com/temporalio/ui-server/v2/cmd/server`, the UI's assets
 * embedded). It reads `<configDir>/base.yaml` then `<configDir>/<env>.yaml`; we write one file.
 */
export function spawnUiServer(opts: UiServerOptions): ChildProcess {
  fs.mkdirSync(opts.configDir, { recursive: true });
  fs.writeFileSync(
    path.join(opts.configDir, 'hookflow.yaml'),
    [
      '# Written by hookflow (src/cluster/ui-server.ts) at each start.',
      `temporalGrpcAddress: ${opts.temporalAddress}`,
      `host: ${opts.host ?? '127.0.0.1'}`,
      `port: ${opts.port}`,
      'enableUi: true',
      `defaultNamespace: ${opts.defaultNamespace}`,
      // No calls out of the machine: the UI would fetch release news and version notes.
      'disableNewsFetch: true',
      'notifyOnNewVersion: false',
      'showTemporalSystemNamespace: false',
      ...(opts.codecEndpoint
        ? ['codec:', `  endpoint: ${opts.codecEndpoint}`, '  includeCredentials: true']
        : []),
      'cors:',
      '  cookieInsecure: true',
      '',
    ].join('\n'),
  );
  return spawn(opts.executable, ['--root', opts.configDir, '--config', '.', '--env', 'hookflow', 'start'], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
