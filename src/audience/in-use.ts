import type { Transaction } from 'kysely';
import type { Database } from '../db';
import { ConflictError } from '../errors';
import { FlowStore } from '../flows/store';

/**
 * Refuses to delete a list or segment while a flow's trigger names it: its runs and its future
 * entries would point at something gone. Checked inside the deleting transaction.
 */
export async function refuseIfTriggering(
  trx: Transaction<Database>,
  type: 'list' | 'segment',
  id: string,
): Promise<void> {
  const flows = await new FlowStore(trx).idsByRef(type, id);
  if (flows.length > 0) {
    throw new ConflictError(
      `${type}_in_use`,
      `${type} ${id} triggers flow ${flows.join(', ')}; change or delete the flow first`,
    );
  }
}
