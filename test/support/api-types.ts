import type { RunView } from '../../src/runs/service';
import type { PublicFlow } from '../../src/flows/service';

export type { RunView, PublicFlow };

export interface RunsResponse {
  runs: { flowId: string; runId: string }[];
}

export interface ErrorResponse {
  error: { code: string; message: string; details: { path: string; message: string }[] };
}
