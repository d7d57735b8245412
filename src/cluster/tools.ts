import fs from 'node:fs';
import path from 'node:path';

/**
 * The Temporal binaries `make cluster-tools` builds from their Go modules into `.tools/` (the
 * Makefile pins the same versions; test/unit/cluster-tools.test.ts keeps the two equal). v1.32.1
 * is the last server release that builds with the Go on our machines; ui-server v2.55.0 likewise.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.32.1';
export const TEMPORAL_UI_SERVER_VERSION = 'v2.55.0';

export interface ClusterTools {
  /** `go.temporal.io/server/cmd/server`. */
  server: string;
  /** `go.temporal.io/server/cmd/tools/sql`: creates and migrates the PostgreSQL schemas. */
  sqlTool: string;
  /** `github.com/temporalio/ui-server/v2/cmd/server`: the Web UI. */
  uiServer: string;
}

/** Where the binaries are under the repository `root` (by default the one this file was built into). */
export function clusterToolPaths(root: string = path.join(__dirname, '..', '..')): ClusterTools {
  const tools = path.resolve(root, '.tools');
  const serverDir = path.join(tools, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  return {
    server: path.join(serverDir, 'server'),
    sqlTool: path.join(serverDir, 'sql'),
    uiServer: path.join(tools, `temporal-ui-server-${TEMPORAL_UI_SERVER_VERSION}`, 'server'),
  };
}

/** Throws naming the command that builds them when the server or the schema tool is missing. */
export function requireServerTools(tools: ClusterTools): void {
  const missing = [tools.server, tools.sqlTool].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new Error(`Temporal server tools missing (${missing.join(', ')}): run "make cluster-tools"`);
  }
}
