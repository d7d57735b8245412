import type { Generated } from 'kysely';
import type { DeliveryState } from '../shared/delivery-outcome';
import { DELIVERY_STATUSES } from '../shared/delivery-outcome';
import type { CircuitState } from '../shared/destination-guard';

/** Timestamps are ISO-8601 strings in UTC: they sort correctly as text in SQLite and PostgreSQL alike. */
type Iso = string;

/** A flow is a draft until it is made live; only live flows start runs. */
export const FLOW_STATUSES = ['draft', 'live'] as const;
export type FlowStatus = (typeof FLOW_STATUSES)[number];

export interface FlowsTable {
  id: string;
  name: string;
  status: FlowStatus;
  trigger_type: string;
  trigger_metric: string | null;
  /** The list or segment a list- or segment-triggered flow listens to. */
  trigger_ref: string | null;
  version: number;
  created_at: Iso;
  updated_at: Iso;
}

/** Every saved version of a flow, kept after the flow is deleted so runs in flight can still load their steps. */
export interface FlowVersionsTable {
  flow_id: string;
  version: number;
  /** JSON of the whole flow at that version: name, status, trigger, steps. */
  definition: string;
  created_at: Iso;
  /** The user who saved this version, and the API key they used (null: a session); null before 0011. */
  saved_by_user: string | null;
  saved_by_key: string | null;
}

export interface ProfilesTable {
  id: string;
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  /** JSON of the latest profile as sent with an event. */
  data: string;
  created_at: Iso;
  updated_at: Iso;
}

export interface EventsTable {
  id: string;
  metric: string;
  profile_id: string;
  /** JSON snapshot of the profile as it arrived with this event. */
  profile: string;
  /** JSON of the event's properties. */
  properties: string;
  unique_id: string | null;
  time: Iso;
  received_at: Iso;
}

export interface RunsTable {
  id: string;
  flow_id: string;
  flow_version: number;
  /** The event that started the run; null for list and segment entries. */
  event_id: string | null;
  /** The profile a list or segment entry runs for (metric runs read it from the event). */
  profile_id: string | null;
  /** JSON of the template context of a list or segment entry, fixed when the entry was recorded. */
  context: string | null;
  /** Set once Temporal accepted the workflow; a row without it is queued (the outbox). */
  started_at: Iso | null;
  created_at: Iso;
  /** The process (API or worker) whose run starter holds the run until `claim_expires_at`. */
  claimed_by: string | null;
  /** When the claim lapses and any starter may take the run; {@link UNCLAIMED} when none holds it. */
  claim_expires_at: Generated<Iso>;
}

/** `runs.claim_expires_at` of a run no starter holds: before every real time, so claimable at once. */
export const UNCLAIMED = '1970-01-01T00:00:00.000Z';

/** Where a delivery stands: declared once, in the pure shared folder the workflow also reads. */
export { DELIVERY_STATUSES };
export type DeliveryStatus = DeliveryState;
export type AttemptClass = 'delivered' | 'retryable' | 'non_retryable';
/**
 * What an attempt row holds: an outcome, or `sending` (written before the request goes out and
 * completed after it), or `unknown` (a `sending` row whose worker died before completing it).
 */
export type AttemptRowOutcome = AttemptClass | 'sending' | 'unknown';

export interface DeliveriesTable {
  id: string;
  run_id: string;
  flow_id: string;
  flow_version: number;
  step_id: string;
  profile_id: string;
  status: DeliveryStatus;
  attempts: number;
  first_attempt_at: Iso | null;
  last_attempt_at: Iso | null;
  next_attempt_at: Iso | null;
  last_http_status: number | null;
  reason: string | null;
  latency_ms: number | null;
  created_at: Iso;
  updated_at: Iso;
  /** JSON of the template context (person, event) the delivery was made with; a resend reuses it. */
  context: string | null;
  /** 1 for a resend started by a user. */
  manual: number;
  /** For a resend: the delivery it sends again. */
  resend_of: string | null;
  /** For an original: its latest resend, and when it was asked for. */
  resent_to: string | null;
  resent_at: Iso | null;
}

/** `h`: an hour, period `YYYY-MM-DDTHH`; `d`: a day, period `YYYY-MM-DD` (UTC, of the delivery's creation). */
export type Grain = 'h' | 'd';

export interface DeliveryRollupsTable {
  grain: Grain;
  period: string;
  flow_id: string;
  step_id: string;
  status: DeliveryStatus;
  attempts: number;
  count: number;
}

export interface LatencyRollupsTable {
  grain: Grain;
  period: string;
  flow_id: string;
  step_id: string;
  /** Index of a logarithmic latency bucket; see `latencyBucket`. */
  bucket: number;
  count: number;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: string;
  attempt: number;
  manual: number;
  started_at: Iso;
  duration_ms: number;
  http_status: number | null;
  error_class: string | null;
  outcome: AttemptRowOutcome;
  reason: string;
  response_excerpt: string | null;
}

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  role: 'owner' | 'admin' | 'manager' | 'analyst' | 'support';
  /** Sealed (SecretBox JSON) TOTP secret once two-step authentication is on. */
  totp_secret: string | null;
  /** Sealed secret between setup and the first confirmed code. */
  totp_pending: string | null;
  /** The last TOTP time step accepted, so a code is never accepted twice. */
  totp_last_step: Generated<number>;
  created_at: Iso;
  updated_at: Iso;
  /** Set when an owner removed the user: no sign-in, sessions ended, keys revoked. */
  disabled_at: Iso | null;
}

export interface RecoveryCodesTable {
  id: Generated<number>;
  user_id: string;
  code_hash: string;
  used_at: Iso | null;
}

export interface SessionsTable {
  /** SHA-256 of the session token; the token itself is only ever in the client's hands. */
  token_hash: string;
  user_id: string;
  csrf: string;
  created_at: Iso;
  expires_at: Iso;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  created_at: Iso;
  last_used_at: Iso | null;
  revoked_at: Iso | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: Iso;
  user_id: string;
  api_key_id: string | null;
  action: string;
  flow_id: string | null;
  step_id: string | null;
  /** JSON: which fields changed; never values of secrets. */
  fields: string;
}

/**
 * A profile's membership of a list (issue 11). `pending` until a double-opt-in list's member
 * confirms; a member who left has no row (history is kept apart).
 */
export interface ListMembersTable {
  list_id: string;
  profile_id: string;
  status: 'pending' | 'subscribed';
  joined_at: Iso;
  confirmed_at: Iso | null;
}

export interface ListsTable {
  id: string;
  name: string;
  double_opt_in: number;
  created_at: Iso;
  updated_at: Iso;
}

/** What happened to a membership, by whom: `user:<id>`, `key:<id>` or `import`. */
export interface ListMemberHistoryTable {
  id: string;
  list_id: string;
  profile_id: string;
  action: 'joined' | 'confirmed' | 'left';
  by: string;
  at: Iso;
}

/**
 * One entry of a profile into a flow; the latest `entered_at` per flow and profile answers the
 * re-entry rule and "has not been in this flow in the last N days".
 */
export interface FlowEntriesTable {
  flow_id: string;
  profile_id: string;
  run_id: string;
  entered_at: Iso;
  /** `once` when the flow never lets a profile re-enter (a unique key refuses a second), else the change id. */
  entry_key: string;
}

/** A profile currently in a segment (issue 11); exits delete the row (history is kept apart). */
export interface SegmentMembersTable {
  segment_id: string;
  profile_id: string;
  entered_at: Iso;
}

export const RECOMPUTE_STATUSES = ['idle', 'running'] as const;
export type RecomputeStatus = (typeof RECOMPUTE_STATUSES)[number];

/** A segment (issue 11): its definition and the background recompute a definition edit starts. */
export interface SegmentsTable {
  id: string;
  name: string;
  /** JSON of the segment definition (`segmentDefinitionSchema`). */
  definition: string;
  version: number;
  recompute_status: RecomputeStatus;
  /** The last profile id the recompute handled (profiles are visited in id order); null: from the start. */
  recompute_cursor: string | null;
  recompute_processed: number;
  recompute_total: number;
  recompute_started_at: Iso | null;
  recompute_finished_at: Iso | null;
  created_at: Iso;
  updated_at: Iso;
}

/** One stay of a profile in a segment; `organic` 1 when the profile's data changed (not a definition edit). */
export interface SegmentMembershipHistoryTable {
  id: Generated<number>;
  segment_id: string;
  profile_id: string;
  entered_at: Iso;
  exited_at: Iso | null;
  organic: number;
}

/** How far the sweep of a date flow has looked: occurrences up to `swept_to` have been entered. */
export interface DateSweepsTable {
  flow_id: string;
  swept_to: Iso;
}

/** The occurrence a date-flow run was started for (`YYYY-MM-DD`) and the instant it was due. */
export interface DateRunsTable {
  run_id: string;
  occurrence: string;
  send_at: Iso;
}

/** First-owner setup links not used yet (migration 0012). */
export interface SetupTokensTable {
  token_hash: string;
  created_at: string;
}

/** One row (id 1) counting flow saves and deletions (migration 0014): a cache key for live flows. */
export interface FlowChangesTable {
  id: number;
  n: number;
}

export interface Database {
  setup_tokens: SetupTokensTable;
  flow_changes: FlowChangesTable;
  flows: FlowsTable;
  flow_versions: FlowVersionsTable;
  profiles: ProfilesTable;
  events: EventsTable;
  runs: RunsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  delivery_rollups: DeliveryRollupsTable;
  latency_rollups: LatencyRollupsTable;
  users: UsersTable;
  recovery_codes: RecoveryCodesTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  list_member_history: ListMemberHistoryTable;
  flow_entries: FlowEntriesTable;
  segment_members: SegmentMembersTable;
  segments: SegmentsTable;
  segment_membership_history: SegmentMembershipHistoryTable;
  date_sweeps: DateSweepsTable;
  date_runs: DateRunsTable;
  catalog_items: CatalogItemsTable;
  catalog_price_history: CatalogPriceHistoryTable;
  price_drops: PriceDropsTable;
  price_drop_fanouts: PriceDropFanoutsTable;
  destinations: DestinationsTable;
  destination_leases: DestinationLeasesTable;
  destination_outcomes: DestinationOutcomesTable;
}

/** A destination's shared protection state (issue 16); times in ms since the epoch. */
export interface DestinationsTable {
  /** `dst_` and a hash of the origin. */
  id: string;
  /** `https://host:port` */
  origin: string;
  circuit: CircuitState;
  opened_at: number | null;
  reason: string | null;
  reopen_at: number | null;
  probe_until: number | null;
  hold_until: number | null;
  tokens: number;
  tokens_at: number;
  updated_at: number;
}

/** One request in flight to a destination; a lapsed lease no longer counts. */
export interface DestinationLeasesTable {
  id: string;
  destination_id: string;
  expires_at: number;
}

/** A destination's attempts and failures in one minute (the breaker's window). */
export interface DestinationOutcomesTable {
  destination_id: string;
  /** Minutes since the epoch. */
  minute: number;
  attempts: number;
  failures: number;
}

export interface CatalogItemsTable {
  id: string;
  title: string;
  url: string | null;
  image_url: string | null;
  price: number;
  /** ISO 4217, upper case; fixed once the item exists. */
  currency: string;
  in_stock: number;
  created_at: Iso;
  updated_at: Iso;
}

export interface CatalogPriceHistoryTable {
  id: Generated<number>;
  item_id: string;
  price: number;
  currency: string;
  changed_at: Iso;
}

export interface PriceDropsTable {
  id: string;
  item_id: string;
  previous_price: number;
  price: number;
  currency: string;
  created_at: Iso;
}

/** The fan-out states, in order: recorded, running (its workflow started), done or stopped (out of stock). */
export const FANOUT_STATUSES = ['recorded', 'running', 'done', 'stopped_out_of_stock'] as const;
export type FanoutStatus = (typeof FANOUT_STATUSES)[number];

export interface PriceDropFanoutsTable {
  drop_id: string;
  flow_id: string;
  flow_version: number;
  status: FanoutStatus;
  /** The last profile id of the last page entered (keyset). */
  cursor: string | null;
  /** Profiles with a matching view or checkout in the lookback, counted when the fan-out began. */
  candidates: number;
  processed: number;
  started: number;
  workflow_started_at: Iso | null;
  created_at: Iso;
  updated_at: Iso;
}
