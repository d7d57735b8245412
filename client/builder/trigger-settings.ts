import { api } from '../lib/http';
import { h } from '../lib/dom';
import type { FlowView, TriggerType } from './types';
import { UNITS } from './model';

/** What the trigger panel edits: the trigger, re-entry, and the two filters as JSON text. */
export interface TriggerDraft {
  trigger: FlowView['trigger'];
  reentry: { mode: 'never' | 'always' | 'after'; seconds?: number };
  flowFiltersText: string;
  triggerFiltersText: string;
}

const TYPES: { value: TriggerType; label: string }[] = [
  { value: 'metric', label: 'Metric (an event happens)' },
  { value: 'list', label: 'Added to a list' },
  { value: 'segment', label: 'Enters a segment' },
  { value: 'date', label: 'Date property (birthday, renewal…)' },
  { value: 'price_drop', label: 'Price drop of a catalog item' },
];

/** Each trigger type's starting values: the API's defaults. */
export function defaultTrigger(type: TriggerType): FlowView['trigger'] {
  switch (type) {
    case 'metric':
      return { type, metric: '' };
    case 'list':
      return { type, listId: '' };
    case 'segment':
      return { type, segmentId: '' };
    case 'date':
      return {
        type,
        property: '',
        offset: { value: 0, unit: 'days', direction: 'after' },
        recurrence: 'annually',
        time: '09:00',
        timezone: 'profile',
      };
    case 'price_drop':
      return { type, threshold: { percent: 10 }, audience: ['viewed', 'started_checkout'], lookbackDays: 30 };
  }
}

/** List and segment flows let a profile in once by default; the others every time. */
export function defaultReentry(type: TriggerType): TriggerDraft['reentry'] {
  return type === 'metric' || type === 'date' ? { mode: 'always' } : { mode: 'never' };
}

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback: number): number => (typeof v === 'number' ? v : fallback);

let metricsCache: Promise<string[]> | undefined;
let listsCache: Promise<{ id: string; name: string }[]> | undefined;
let segmentsCache: Promise<{ id: string; name: string }[]> | undefined;

function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('p', { class: 'field-note', id: `${control.id}-hint` }, hint) : null,
  );
}

function select(
  id: string,
  options: [string, string][],
  value: string,
  disabled: boolean,
): HTMLSelectElement {
  const el = h('select', { id, disabled }, ...options.map(([v, l]) => h('option', { value: v }, l)));
  el.value = value;
  return el;
}

/**
 * Draws the trigger settings into `container` (again on every change of trigger type). `onChange`
 * runs after each edit; the draft object is edited in place.
 */
export function renderTriggerSettings(
  container: HTMLElement,
  draft: TriggerDraft,
  readOnly: boolean,
  onChange: () => void,
): void {
  const t = draft.trigger;
  const typeSelect = select(
    'trigger-type',
    TYPES.map((x) => [x.value, x.label]),
    t.type,
    readOnly,
  );
  typeSelect.addEventListener('change', () => {
    const type = typeSelect.value as TriggerType;
    draft.trigger = defaultTrigger(type);
    draft.reentry = defaultReentry(type);
    if (type !== 'metric') draft.triggerFiltersText = '';
    onChange();
    renderTriggerSettings(container, draft, readOnly, onChange);
    document.getElementById('trigger-type')?.focus();
  });
  const specific: HTMLElement[] = [];
  const set = (key: string, value: unknown) => {
    (draft.trigger as Record<string, unknown>)[key] = value;
    onChange();
  };

  if (t.type === 'metric') {
    const input = h('input', {
      id: 'trigger-metric',
      list: 'metric-suggestions',
      value: str(t.metric),
      autocomplete: 'off',
      placeholder: 'Placed Order',
      disabled: readOnly,
    });
    const datalist = h('datalist', { id: 'metric-suggestions' });
    input.addEventListener('input', () => set('metric', input.value));
    metricsCache ??= api<{ metrics: string[] }>('GET', '/api/events/metrics?limit=100').then(
      (r) => r.metrics,
    );
    metricsCache
      .then((ms) => datalist.replaceChildren(...ms.map((m) => h('option', { value: m }))))
      .catch(() => undefined); // suggestions only: typing a name still works
    specific.push(field('Metric', input, 'The event name; names already received are suggested.'), datalist);
  } else if (t.type === 'list' || t.type === 'segment') {
    const key = t.type === 'list' ? 'listId' : 'segmentId';
    const id = t.type === 'list' ? 'trigger-list' : 'trigger-segment';
    const current = str(t[key]);
    const sel = select(id, [['', current ? current : 'Choose…']], current, readOnly);
    sel.addEventListener('change', () => set(key, sel.value));
    const load =
      t.type === 'list'
        ? (listsCache ??= api<{ lists: { id: string; name: string }[] }>('GET', '/api/lists').then(
            (r) => r.lists,
          ))
        : (segmentsCache ??= api<{ segments: { id: string; name: string }[] }>('GET', '/api/segments').then(
            (r) => r.segments,
          ));
    load
      .then((items) => {
        sel.replaceChildren(
          h('option', { value: '' }, 'Choose…'),
          ...items.map((x) => h('option', { value: x.id }, `${x.name} (${x.id})`)),
        );
        if (current && !items.some((x) => x.id === current))
          sel.append(h('option', { value: current }, current));
        sel.value = current;
      })
      .catch((e: unknown) => sel.after(h('p', { class: 'field-note bad' }, `Could not load: ${String(e)}`)));
    specific.push(field(t.type === 'list' ? 'List' : 'Segment', sel));
  } else if (t.type === 'date') {
    const offset = (t.offset ?? { value: 0, unit: 'days', direction: 'after' }) as {
      value: number;
      unit: string;
      direction: string;
    };
    const prop = h('input', {
      id: 'trigger-property',
      value: str(t.property),
      placeholder: 'birthday',
      disabled: readOnly,
    });
    prop.addEventListener('input', () => set('property', prop.value));
    const value = h('input', {
      id: 'trigger-offset',
      type: 'number',
      min: 0,
      value: offset.value,
      disabled: readOnly,
    });
    const unit = select(
      'trigger-offset-unit',
      [
        ['days', 'days'],
        ['weeks', 'weeks'],
        ['months', 'months'],
      ],
      offset.unit,
      readOnly,
    );
    const dir = select(
      'trigger-offset-direction',
      [
        ['before', 'before'],
        ['after', 'after'],
      ],
      offset.direction,
      readOnly,
    );
    const syncOffset = () =>
      set('offset', { value: Number(value.value || 0), unit: unit.value, direction: dir.value });
    for (const c of [value, unit, dir]) c.addEventListener('input', syncOffset);
    const rec = select(
      'trigger-recurrence',
      [
        ['annually', 'every year'],
        ['monthly', 'every month'],
        ['weekly', 'every week'],
        ['never', 'once'],
      ],
      str(t.recurrence, 'annually'),
      readOnly,
    );
    rec.addEventListener('change', () => set('recurrence', rec.value));
    const time = h('input', {
      id: 'trigger-time',
      type: 'time',
      value: str(t.time, '09:00'),
      disabled: readOnly,
    });
    time.addEventListener('input', () => set('time', time.value));
    const tz = h('input', {
      id: 'trigger-timezone',
      value: str(t.timezone, 'profile'),
      placeholder: 'profile or Europe/Paris',
      disabled: readOnly,
    });
    tz.addEventListener('input', () => set('timezone', tz.value.trim()));
    specific.push(
      field('Date property', prop, 'The profile property holding the date.'),
      h(
        'fieldset',
        { class: 'inline' },
        h('legend', {}, 'Offset from the date'),
        h('label', { for: value.id, class: 'visually-hidden' }, 'Offset amount'),
        value,
        h('label', { for: unit.id, class: 'visually-hidden' }, 'Offset unit'),
        unit,
        h('label', { for: dir.id, class: 'visually-hidden' }, 'Before or after'),
        dir,
      ),
      field('Repeats', rec),
      field('Local time', time),
      field('Time zone', tz, '"profile" uses each profile\'s own time zone.'),
    );
  } else if (t.type === 'price_drop') {
    const th = (t.threshold ?? { percent: 10 }) as { amount?: number; percent?: number };
    const kind = select(
      'trigger-threshold-kind',
      [
        ['percent', 'percent'],
        ['amount', 'amount'],
      ],
      th.amount !== undefined ? 'amount' : 'percent',
      readOnly,
    );
    const amount = h('input', {
      id: 'trigger-threshold',
      type: 'number',
      min: 0,
      step: 'any',
      value: th.amount ?? th.percent ?? 10,
      disabled: readOnly,
    });
    const syncTh = () => set('threshold', { [kind.value]: Number(amount.value || 0) });
    kind.addEventListener('change', syncTh);
    amount.addEventListener('input', syncTh);
    const audience = Array.isArray(t.audience) ? (t.audience as string[]) : ['viewed', 'started_checkout'];
    const boxes = (['viewed', 'started_checkout'] as const).map((a) => {
      const box = h('input', {
        type: 'checkbox',
        id: `trigger-audience-${a}`,
        checked: audience.includes(a),
        disabled: readOnly,
      });
      box.addEventListener('change', () =>
        set(
          'audience',
          boxes.filter((b) => b.box.checked).map((b) => b.a),
        ),
      );
      return { a, box };
    });
    const lookback = h('input', {
      id: 'trigger-lookback',
      type: 'number',
      min: 1,
      max: 365,
      value: num(t.lookbackDays, 30),
      disabled: readOnly,
    });
    lookback.addEventListener('input', () => set('lookbackDays', Number(lookback.value || 0)));
    specific.push(
      h(
        'fieldset',
        { class: 'inline' },
        h('legend', {}, 'A drop of at least'),
        h('label', { for: amount.id, class: 'visually-hidden' }, 'Threshold'),
        amount,
        h('label', { for: kind.id, class: 'visually-hidden' }, 'Threshold kind'),
        kind,
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'For profiles that'),
        ...boxes.map(({ a, box }) =>
          h(
            'div',
            {},
            box,
            ' ',
            h('label', { for: box.id }, a === 'viewed' ? 'viewed the item' : 'started a checkout with it'),
          ),
        ),
      ),
      field('Looking back (days)', lookback),
    );
  }

  // Re-entry: never, always, or after a pause given with a unit.
  const mode = select(
    'reentry-mode',
    [
      ['always', 'every time'],
      ['never', 'only once'],
      ['after', 'again after a pause'],
    ],
    draft.reentry.mode,
    readOnly,
  );
  const pause = h('input', { id: 'reentry-amount', type: 'number', min: 1, disabled: readOnly });
  const pauseUnit = select(
    'reentry-unit',
    UNITS.map((u) => [String(u.seconds), u.name]),
    '86400',
    readOnly,
  );
  const seconds = draft.reentry.seconds ?? 86_400;
  const u = UNITS.find((x) => seconds % x.seconds === 0) ?? UNITS[3];
  pause.value = String(seconds / u.seconds);
  pauseUnit.value = String(u.seconds);
  const pauseBox = h(
    'div',
    { class: 'inline', hidden: draft.reentry.mode !== 'after' },
    h('label', { for: pause.id, class: 'visually-hidden' }, 'Pause'),
    pause,
    h('label', { for: pauseUnit.id, class: 'visually-hidden' }, 'Pause unit'),
    pauseUnit,
  );
  const syncReentry = () => {
    const m = mode.value as TriggerDraft['reentry']['mode'];
    draft.reentry =
      m === 'after' ? { mode: m, seconds: Number(pause.value || 0) * Number(pauseUnit.value) } : { mode: m };
    pauseBox.hidden = m !== 'after';
    onChange();
  };
  for (const c of [mode, pause, pauseUnit]) c.addEventListener('input', syncReentry);

  const filtersArea = (id: string, key: 'flowFiltersText' | 'triggerFiltersText') => {
    const area = h('textarea', {
      id,
      rows: 4,
      class: 'code',
      spellcheck: 'false',
      disabled: readOnly,
      placeholder: '{ "groups": [ { "conditions": [ … ] } ] }',
    });
    area.value = draft[key];
    area.addEventListener('input', () => {
      draft[key] = area.value;
      onChange();
    });
    return area;
  };

  container.replaceChildren(
    field('Starts when', typeSelect),
    ...specific,
    h('div', { class: 'field' }, h('label', { for: mode.id }, 'A profile may enter'), mode, pauseBox),
    h(
      'details',
      { class: 'filters', open: draft.flowFiltersText !== '' || draft.triggerFiltersText !== '' },
      h('summary', {}, 'Filters'),
      field(
        'Flow filters (JSON)',
        filtersArea('flow-filters', 'flowFiltersText'),
        'Conditions on the profile, checked at entry and before every webhook. Empty: none.',
      ),
      t.type === 'metric'
        ? field(
            'Trigger filters (JSON)',
            filtersArea('trigger-filters', 'triggerFiltersText'),
            'Conditions on the triggering event, checked once at entry. Empty: none.',
          )
        : null,
    ),
  );
}
