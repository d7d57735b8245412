import type { ConnectionOptions } from '@temporalio/client';

/**
 * gRPC's reconnect backoff grows by 1.6× per failed attempt up to 120 s by default, so after a long
 * Temporal outage a client could wait minutes before it tries again. Capped at 2 s, a client is back
 * within about 2 s of the frontend answering again, whatever the outage length; an attempt to a
 * closed local port costs nothing.
 */
export const RECONNECT_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2000,
} as const;

/** Options of every hookflow Temporal client connection (API and worker). */
export function clientConnectionOptions(address: string): ConnectionOptions {
  return { address, channelArgs: { ...RECONNECT_CHANNEL_ARGS } };
}
