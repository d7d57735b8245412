/**
 * The builder's contract: the flow as the API shows it (`GET /api/flows/:id`) and the interface
 * between the builder (client/builder/builder.ts: the flow drawn, drag and drop, triggers, Save)
 * and the webhook action's settings panel (client/builder/webhook-editor.ts).
 */
export type TriggerType = 'metric' | 'list' | 'segment' | 'date' | 'price_drop';

export interface RetryOverride {
  maxAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maxIntervalMs?: number;
}

/** Header values as the API returns them: masked (sent back unchanged, they keep the stored secret). */
export interface WebhookStepDraft {
  id: string;
  type: 'webhook';
  name?: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  retry?: RetryOverride;
  /** Endpoint protection limits over the defaults (set through the API; kept as they are on Save). */
  limits?: { concurrency?: number; ratePerSecond?: number };
  /** Standard Webhooks signing; absent on a step not saved yet (new steps sign by default). */
  signing?: boolean;
  /** The signing secret, masked; sent back unchanged it keeps the secret. */
  signingSecret?: string;
}
export interface DelayStepDraft {
  id: string;
  type: 'delay';
  seconds: number;
}
export interface SplitStepDraft {
  id: string;
  type: 'split';
  condition: string;
  yes: StepDraft[];
  no: StepDraft[];
}
export type StepDraft = WebhookStepDraft | DelayStepDraft | SplitStepDraft;

/** One webhook step's save-time check (`checks` of a save's answer, or of its 422 error). */
export interface StepCheck {
  stepId: string;
  ok: boolean;
  /** Whether the endpoint was contacted (live flows only). */
  live: boolean;
  /** Why the URL cannot be used (blocks going live), as a sentence for the user. */
  error?: string;
  /** Worth knowing, does not block (e.g. unreachable just now). */
  warnings: string[];
}

export interface FlowView {
  id: string;
  name: string;
  status: 'draft' | 'live';
  version: number;
  trigger: { type: TriggerType } & Record<string, unknown>;
  steps: StepDraft[];
  reentry?: { mode: 'never' | 'always' | 'after'; seconds?: number };
  flowFilters?: unknown;
  triggerFilters?: unknown;
  createdAt: string;
  updatedAt: string;
}

/** What the builder page embeds for its script (`<script type="application/json" id="builder-data">`). */
export interface BuilderPageData {
  flow: FlowView;
  viewer: { email: string; role: string; twoStepEnabled: boolean };
  /** From the permissions table: may this viewer change flows / webhook steps at all? */
  canEditFlow: boolean;
  canEditWebhooks: boolean;
  /** Why the page is read-only, when it is (shown in a banner). */
  readOnlyReason?: string;
  /** Where two-step authentication is set up (returns to `?next=`). */
  twoStepSetupUrl: string;
  /** Webhook Analytics of each webhook step: `/webhooks/steps/<flowId>/<stepId>`. */
  analyticsBase: string;
}

/** A problem of the last save that belongs to one step: `path` relative to the step (`body`, `url`, `headers.X`). */
export interface StepProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export interface WebhookEditorOptions {
  flowId: string;
  /** Whether the step exists in the saved flow (preview and test send of a saved step use its id). */
  saved: boolean;
  step: WebhookStepDraft;
  triggerType: TriggerType;
  readOnly: boolean;
  /** The builder calls this on every change; the builder owns the draft and saves it. */
  onChange(step: WebhookStepDraft): void;
  /**
   * Called before the first edit of the URL, headers or body: resolves true when the viewer may go
   * on (two-step authentication is on), false when the edit must be undone (the modal stayed open
   * or was dismissed). The builder owns the modal.
   */
  requireTwoStep(): Promise<boolean>;
}

export interface WebhookEditorHandle {
  /** After a save: the step's checks and problems (empty arrays clear them). */
  showSaveResult(check: StepCheck | undefined, problems: StepProblem[]): void;
  /** The step was saved (its id now exists on the server): preview/test of the saved step are possible. */
  markSaved(step: WebhookStepDraft): void;
  destroy(): void;
}

export type MountWebhookEditor = (container: HTMLElement, opts: WebhookEditorOptions) => WebhookEditorHandle;
