import type { Transaction } from 'kysely';
import type { Database } from '../db';

/** What starts list- and segment-triggered runs: a profile newly joined a list or entered a segment. */
export type EntryTrigger = { type: 'list'; listId: string } | { type: 'segment'; segmentId: string };

/** A run recorded in the same transaction as the change that caused it, to be started after commit. */
export interface PendingEntry {
  runId: string;
  flowId: string;
  profileId: string;
}

/**
 * How membership changes start flows, durably: the change and the runs it causes are one
 * transaction ({@link EntryQueue.enqueue} inside the caller's transaction), then the runs are
 * started after commit with deterministic workflow ids ({@link EntryQueue.start}), so a retry or
 * the run starter taking over after a crash never starts a second run.
 */
export interface EntryQueue {
  /**
   * For every live flow triggered by `trigger`: checks re-entry (atomically, inside `trx`) and
   * records the entry and its run. `changeId` identifies the membership change (the same change
   * always maps to the same run id). Returns the runs to start once `trx` has committed.
   */
  enqueue(
    trx: Transaction<Database>,
    trigger: EntryTrigger,
    profileId: string,
    changeId: string,
    now: string,
  ): Promise<PendingEntry[]>;
  /** Starts recorded runs after commit; starting one twice is a no-op. */
  start(entries: readonly PendingEntry[]): Promise<void>;
}
