import { ApiError, api } from '../lib/http';
import { h } from '../lib/dom';
import { exampleText } from './variable-paths';
import type { TriggerType } from './types';

/** A profile as `GET /api/profiles?email=` answers it. */
export interface SampleProfile extends Record<string, unknown> {
  id: string;
}

/** An event as `GET /api/profiles/:id/events` answers it. */
export interface SampleEvent {
  id: string;
  metric: string;
  time: string;
  properties: Record<string, unknown>;
}

export interface Sample {
  profile?: SampleProfile;
  event?: SampleEvent;
}

export interface SamplePickerOptions {
  idPrefix: string;
  /** The choice is remembered under this key for the page's life (the builder remounts the panel on save). */
  rememberAs: string;
  triggerType: TriggerType;
  /** The metrics whose events may be the sample: the trigger's metric, or a price drop's audience metrics. */
  metrics(): Promise<string[]>;
  onChange(sample: Sample): void;
}

const EVENT_PAGE = 25;

/** The sample chosen per flow while the page lives: an email and the event picked. */
const remembered = new Map<string, { email: string; eventId?: string }>();

/**
 * Chooses a real profile (by email) and, for flows with an event, one of its recent events of the
 * trigger, to preview and test with. Without a choice the API uses the latest event of the trigger.
 */
export class SamplePicker {
  readonly element: HTMLElement;
  private readonly email: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly eventSelect: HTMLSelectElement | undefined;
  private readonly hasEvent: boolean;
  private events: SampleEvent[] = [];
  private sample: Sample = {};

  constructor(private readonly opts: SamplePickerOptions) {
    this.hasEvent = opts.triggerType === 'metric' || opts.triggerType === 'price_drop';
    const emailId = `${opts.idPrefix}-sample-email`;
    const statusId = `${opts.idPrefix}-sample-status`;
    this.email = h('input', {
      id: emailId,
      type: 'email',
      'data-testid': 'sample-email',
      placeholder: 'customer@example.com',
      autocomplete: 'off',
      'aria-describedby': statusId,
      onkeydown: (e: Event) => {
        if ((e as KeyboardEvent).key === 'Enter') {
          e.preventDefault();
          void this.find();
        }
      },
    });
    this.status = h(
      'p',
      { id: statusId, class: 'wh-muted', role: 'status', 'data-testid': 'sample-status' },
      this.hasEvent
        ? 'No profile chosen: previews use the latest event of the trigger, or sample data.'
        : 'No profile chosen: previews use the most recent profile, or sample data.',
    );
    const eventId = `${opts.idPrefix}-sample-event`;
    this.eventSelect = this.hasEvent
      ? h('select', {
          id: eventId,
          'data-testid': 'sample-event',
          disabled: true,
          onchange: () => this.pickEvent(),
        })
      : undefined;
    this.element = h(
      'section',
      {
        class: 'wh-sample',
        'data-testid': 'sample-picker',
        'aria-labelledby': `${opts.idPrefix}-sample-title`,
      },
      h(
        'h4',
        { id: `${opts.idPrefix}-sample-title` },
        this.hasEvent ? 'Sample profile and event' : 'Sample profile',
      ),
      h('label', { for: emailId, class: 'wh-label' }, 'Profile email'),
      h(
        'div',
        { class: 'wh-row' },
        this.email,
        h(
          'button',
          { type: 'button', 'data-testid': 'sample-find', onclick: () => void this.find() },
          'Use profile',
        ),
      ),
      this.status,
      this.eventSelect
        ? h(
            'div',
            {},
            h('label', { for: eventId, class: 'wh-label' }, 'Event of this profile'),
            this.eventSelect,
          )
        : null,
    );
  }

  /** Picks the sample remembered for this flow again (after the panel was remounted). */
  restore(): void {
    const r = remembered.get(this.opts.rememberAs);
    if (!r) return;
    this.email.value = r.email;
    void this.find(r.eventId);
  }

  get current(): Sample {
    return this.sample;
  }

  private setSample(sample: Sample): void {
    this.sample = sample;
    if (sample.profile) {
      const r: { email: string; eventId?: string } = { email: this.email.value.trim() };
      if (sample.event) r.eventId = sample.event.id;
      remembered.set(this.opts.rememberAs, r);
    } else remembered.delete(this.opts.rememberAs);
    this.opts.onChange(sample);
  }

  private async find(eventId?: string): Promise<void> {
    const email = this.email.value.trim();
    if (email === '') {
      this.setSample({});
      this.status.textContent = 'No profile chosen.';
      this.resetEvents([]);
      return;
    }
    this.status.textContent = 'Looking up…';
    try {
      const { profiles } = await api<{ profiles: SampleProfile[] }>(
        'GET',
        `/api/profiles?email=${encodeURIComponent(email)}`,
      );
      const profile = profiles[0];
      if (!profile) {
        this.status.textContent = `No profile has the email ${email}.`;
        this.setSample({});
        this.resetEvents([]);
        return;
      }
      this.status.textContent = `Using ${typeof profile.email === 'string' ? profile.email : email} (${profile.id}).`;
      this.setSample({ profile });
      if (this.hasEvent) await this.loadEvents(profile, eventId);
    } catch (err) {
      this.status.textContent = err instanceof ApiError ? err.describe() : 'The lookup failed; try again.';
    }
  }

  private async loadEvents(profile: SampleProfile, eventId: string | undefined): Promise<void> {
    const metrics = await this.opts.metrics();
    const query =
      metrics.length === 1
        ? `?metric=${encodeURIComponent(metrics[0]!)}&limit=${EVENT_PAGE}`
        : `?limit=${EVENT_PAGE * 4}`;
    const { events } = await api<{ events: SampleEvent[] }>(
      'GET',
      `/api/profiles/${encodeURIComponent(profile.id)}/events${query}`,
    );
    this.resetEvents(
      events.filter((e) => metrics.length === 0 || metrics.includes(e.metric)).slice(0, EVENT_PAGE),
      eventId,
    );
    if (this.events.length === 0) {
      this.status.textContent += ` It has no ${metrics.join(' or ')} event yet: previews use sample event data.`;
    }
  }

  private resetEvents(events: SampleEvent[], choose?: string): void {
    this.events = events;
    if (!this.eventSelect) return;
    const none = h('option', { value: '' }, events.length ? 'Choose an event…' : 'No event to choose');
    const options = events.map((e) =>
      h(
        'option',
        { value: e.id },
        `${e.metric} · ${new Date(e.time).toLocaleString()} · ${exampleText(e.properties)}`,
      ),
    );
    this.eventSelect.replaceChildren(none, ...options);
    this.eventSelect.disabled = events.length === 0;
    const chosen = events.find((e) => e.id === choose) ?? events[0];
    if (chosen) {
      this.eventSelect.value = chosen.id;
      this.pickEvent();
    }
  }

  private pickEvent(): void {
    const id = this.eventSelect?.value ?? '';
    const event = this.events.find((e) => e.id === id);
    const next: Sample = {};
    if (this.sample.profile) next.profile = this.sample.profile;
    if (event) next.event = event;
    this.setSample(next);
  }
}
