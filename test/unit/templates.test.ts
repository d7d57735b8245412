import { buildContext, compileTemplate, renderJson, TemplateError } from '../../src/templates';
import { translateDjango } from '../../src/templates/django';
import { FILTERS, formatDate, roundDecimal } from '../../src/templates/filters';

const ctx = {
  person: {
    email: 'ada@example.com',
    first_name: 'Ada',
    loyalty_id: 'L-1',
    'Loyalty ID': 'LY-9',
    points: 5,
    tags: ['vip', 'beta'],
    nothing: null,
  },
  event: {
    value: 120.5,
    items: [
      { name: 'Tea', price: 10, qty: 2 },
      { name: 'Cup', price: 32.5, qty: 1 },
    ],
    coupon: '',
    time: '2026-11-29T10:05:09Z',
  },
};

/** Renders a template whose output is plain text (no JSON check). */
const text = (src: string, c = ctx) => compileTemplate(src).render(c);
/** Renders a JSON body and parses it. */
const json = (src: string, c = ctx): unknown => {
  const r = renderJson(compileTemplate(src), c);
  if (!r.ok) throw new Error(r.error.message);
  return JSON.parse(r.body);
};

describe('Django syntax', () => {
  test('filter arguments with ":" and with "()" in either quote style', () => {
    expect(text('{{ person.first_name|default:"x" }}')).toBe('Ada');
    expect(text("{{ event.missing|default:'none here' }}")).toBe('none here');
    expect(text('{{ event.missing|default("paren") }}')).toBe('paren');
    expect(text('{{ person|lookup:"Loyalty ID" }}')).toBe('LY-9');
    expect(text("{{ person|lookup:'Loyalty ID'|lower }}")).toBe('ly-9');
    expect(text('{{ event.value|add:person.points }}')).toBe('125');
    expect(text('{{ event.value|floatadd:-0.5 }}')).toBe('120');
  });
  test('if / elif / else, comparisons, and, or, not, in, None/True/False', () => {
    const src =
      '{% if person.points > 10 %}gold{% elif person.points >= 5 and "vip" in person.tags %}silver{% else %}none{% endif %}';
    expect(text(src)).toBe('silver');
    expect(text('{% if not event.coupon %}no coupon{% endif %}')).toBe('no coupon');
    expect(text('{% if person.nothing == None %}null{% endif %}')).toBe('null');
    expect(text('{% if "x" not in person.tags or False %}yes{% endif %}')).toBe('yes');
    expect(text('{% if person|lookup:"Loyalty ID" == "LY-9" %}ok{% endif %}')).toBe('ok');
  });
  test('for with forloop.counter, first, last and empty', () => {
    const src =
      '{% for i in event.items %}{{ forloop.counter }}:{{ i.name }}{% if forloop.first %}^{% endif %}{% if not forloop.last %},{% endif %}{% empty %}none{% endfor %}';
    expect(text(src)).toBe('1:Tea^,2:Cup');
    expect(text('{% for i in event.nope %}x{% empty %}none{% endfor %}')).toBe('none');
    expect(text('{% for i in event.items %}{{ forloop.counter0 }}{{ forloop.revcounter }}{% endfor %}')).toBe(
      '0211',
    );
  });
  test('with, in both Django forms, scoped to its body', () => {
    expect(
      text(
        '{% with total=event.value name=person.first_name %}{{ name }}:{{ total }}{% endwith %}[{{ name }}]',
      ),
    ).toBe('Ada:120.5[]');
    expect(text('{% with person.first_name as n %}{{ n|upper }}{% endwith %}')).toBe('ADA');
  });
  test('comments: {# #} and {% comment %} keep line numbers', () => {
    expect(text('a{# note #}b{% comment %}\nhidden {{ x }}\n{% endcomment %}c')).toBe('abc');
    expect(translateDjango('{% comment %}\n\n{% endcomment %}').split('\n')).toHaveLength(3);
  });
  test('unknown filters and tags are errors naming them and their line', () => {
    const err = (src: string) => {
      try {
        compileTemplate(src);
      } catch (e) {
        return e as TemplateError;
      }
      throw new Error('no error');
    };
    expect(err('{\n"a": "{{ person.email|shout }}"}')).toMatchObject({
      message: 'unknown filter "shout"',
      line: 2,
    });
    expect(err('{\n\n{% frobnicate %}')).toMatchObject({ message: 'unknown tag "frobnicate"', line: 3 });
  });
});

describe('JSON safety', () => {
  const hostile = [
    'quote " and backslash \\ done',
    'line\nbreak\r\ttab',
    'control \u0000\u0001\u001f chars',
    'emoji 🎉 and \u2028 separators \u2029',
    '"}, "admin": true, "x": {"',
    '</script><b>html</b>',
    '{{ person.email }} {% if %}',
  ];
  test.each(hostile)('a value inside a JSON string parses back to the original: %j', (value) => {
    const body = json('{"name": "{{ person.first_name }}", "note": "Hi {{ person.first_name }}!"}', {
      ...ctx,
      person: { ...ctx.person, first_name: value },
    });
    expect(body).toEqual({ name: value, note: `Hi ${value}!` });
  });
  test('values outside strings are JSON values: numbers, booleans, null, lists and objects', () => {
    expect(
      json(
        '{"v": {{ event.value }}, "b": {{ person.points > 1 }}, "n": {{ person.nothing }}, "t": {{ person.tags }}, "i": {{ event.items.0 }}}',
      ),
    ).toEqual({ v: 120.5, b: true, n: null, t: ['vip', 'beta'], i: { name: 'Tea', price: 10, qty: 2 } });
  });
  test('the json filter emits line items as JSON, and as a string inside quotes', () => {
    expect(json('{"items": {{ event.items|json }}}')).toEqual({ items: ctx.event.items });
    expect(json('{"items": "{{ event.items|json }}"}')).toEqual({ items: JSON.stringify(ctx.event.items) });
  });
  test('a loop writing JSON objects stays valid', () => {
    const src =
      '{"lines": [{% for i in event.items %}{"sku": "{{ i.name }}", "total": {{ i.price|floatmul:i.qty|default:0 }}}{% if not forloop.last %},{% endif %}{% endfor %}]}';
    expect(() => compileTemplate(src)).toThrow(/unknown filter "floatmul"/);
    const ok = src.replace('floatmul', 'multiply');
    expect(json(ok)).toEqual({
      lines: [
        { sku: 'Tea', total: 20 },
        { sku: 'Cup', total: 32.5 },
      ],
    });
  });
  test('missing variables render empty, so default works', () => {
    expect(
      json(
        '{"a": "{{ event.nope }}", "b": "{{ event.nope|default:"n/a" }}", "c": {{ event.nope|default:0 }}}',
      ),
    ).toEqual({
      a: '',
      b: 'n/a',
      c: 0,
    });
  });
  test('output that is not JSON is reported with line, column and the text around', () => {
    const r = renderJson(compileTemplate('{\n  "a": {{ event.nope }},\n  "b": 1\n}'), ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message).toMatch(/not valid JSON/);
    expect(r.error.line).toBe(2);
    expect(r.error.excerpt).toContain('"a": ,');
  });
});

describe('sandbox and bounds', () => {
  test.each([
    '{{ person.constructor }}',
    '{{ person.__proto__ }}',
    '{{ constructor }}',
    '{{ toString }}',
    '{{ person.email.toUpperCase }}',
    '{{ event.items.push }}',
    '{{ range }}{{ cycler }}{{ joiner }}',
  ])('%s renders nothing', (src) => {
    expect(text(src)).toBe('');
  });
  test.each([
    '{{ person.constructor.constructor("return process")() }}',
    '{{ constructor.constructor("return process")() }}',
    '{{ range.constructor("return 1")() }}',
    '{{ person.email.constructor.fromCharCode(65) }}',
  ])('%s cannot call into JavaScript', (src) => {
    expect(() => text(src)).toThrow(TemplateError);
  });
  const atSave = (src: string): TemplateError => {
    try {
      compileTemplate(src, { atSave: true });
    } catch (err) {
      if (err instanceof TemplateError) return err;
      throw err;
    }
    throw new Error(`${src} was accepted at save`);
  };
  test.each([
    ['{{ profile.constructor.constructor("return process")() }}', /"constructor" may not be read/, 1, 12],
    ['{{ "".constructor }}', /"constructor" may not be read/, 1, 7],
    ['{\n  "a": {{ person.__proto__ }}\n}', /"__proto__" may not be read/, 2, 18],
    ['{{ person["prototype"] }}', /"prototype" may not be read/, 1, 12],
    ['{{ constructor }}', /"constructor" may not be read/, 1, 4],
    ['{{ toString }}', /"toString" may not be read/, 1, 4],
    ['{% with c=person.__proto__ %}{{ c }}{% endwith %}', /"__proto__" may not be read/, 1, 18],
    ['{{ range(3) }}', /cannot call functions \("range" is not a macro/, 1, 4],
    ['{{ person.email.toUpperCase() }}', /cannot call functions; use filters/, 1, 17],
    ['{% set x = joiner() %}{{ x }}', /cannot call functions/, 1, 12],
  ])('%s is refused at save with where it is', (src, why, line, column) => {
    const err = atSave(src);
    expect(err.message).toMatch(why);
    expect({ line: err.line, column: err.column }).toEqual({ line, column });
  });
  test('macros the template defines may be called, with caller; data keys and filters stay usable', () => {
    const src =
      '{% macro wrap(x) %}[{{ x }}{{ caller() if caller }}]{% endmacro %}' +
      '{% set w = wrap(person.first_name) %}{% call wrap(1) %}!{% endcall %}{{ person.email | upper }}{{ event.items.length }}';
    expect(compileTemplate(src, { atSave: true }).render(ctx)).toContain('ADA@EXAMPLE.COM2');
  });
  test('data with prototype keys (as JSON.parse makes them) reaches nothing when rendered', () => {
    const profile = JSON.parse(
      '{"email": "x@example.com", "properties": {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}}',
    ) as Record<string, unknown>;
    const event = JSON.parse(
      '{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": true}}}',
    ) as Record<string, unknown>;
    const c = buildContext(profile, event, 'p1');
    const out = compileTemplate(
      '{{ person.polluted }}{{ event.polluted }}{{ event.a.polluted }}{{ person.email }}',
    ).render(c);
    expect(out).toBe('x@example.com');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(c.event)).toBe(Object.prototype);
  });
  test('no includes, imports or extends: there is nothing to load', () => {
    expect(() => text('{% include "/etc/passwd" %}')).toThrow(TemplateError);
    expect(() => text('{% extends "base.html" %}')).toThrow(TemplateError);
  });
  test('loop iterations and output size are bounded', () => {
    const many = { ...ctx, event: { ...ctx.event, list: Array.from({ length: 1000 }, (_, i) => i) } };
    const nested = '{% for a in event.list %}{% for b in event.list %}{% endfor %}{% endfor %}';
    expect(() =>
      compileTemplate(nested).render(many, { maxIterations: 10_000, maxOutputChars: 1e6 }),
    ).toThrow(/loops more than 10000 times/);
    const big = '{% for a in event.list %}{{ person.email }}{% endfor %}';
    expect(() => compileTemplate(big).render(many, { maxIterations: 1e6, maxOutputChars: 1000 })).toThrow(
      /larger than 1000/,
    );
  });
  test('recursion ends with an error, not a crash', () => {
    expect(() => text('{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}')).toThrow(TemplateError);
  });
});

describe('filters', () => {
  const f = (name: string, ...args: unknown[]) => FILTERS[name]!(...(args as [unknown, ...unknown[]]));
  test.each([
    ['add', [5, 3], 8],
    ['add', ['5', '3'], 8],
    ['add', ['ab', 'cd'], 'abcd'],
    ['add', [[1], [2]], [1, 2]],
    ['add', [5.7, 1], 6],
    ['add', ['x', 1], ''],
    ['default', ['', 'd'], 'd'],
    ['default', [0, 'd'], 'd'],
    ['default', ['v', 'd'], 'v'],
    ['default_if_none', [null, 'd'], 'd'],
    ['default_if_none', ['', 'd'], ''],
    ['floatformat', [34.23234], '34.2'],
    ['floatformat', [34.0], '34'],
    ['floatformat', [34.26], '34.3'],
    ['floatformat', [34.23234, 3], '34.232'],
    ['floatformat', [34, 3], '34.000'],
    ['floatformat', [34.26, -3], '34.260'],
    ['floatformat', [34, -3], '34'],
    ['floatformat', [2.675, 2], '2.68'],
    ['floatformat', ['x'], ''],
    ['lower', ['AbC'], 'abc'],
    ['upper', ['abc'], 'ABC'],
    ['title', ["my FIRST post's title"], "My First Post's Title"],
    ['capfirst', ['ada lovelace'], 'Ada lovelace'],
    ['length', [[1, 2, 3]], 3],
    ['length', ['abcd'], 4],
    ['join', [['a', 'b'], ', '], 'a, b'],
    ['first', [['a', 'b']], 'a'],
    ['last', [['a', 'b']], 'b'],
    ['slice', [[1, 2, 3, 4], ':2'], [1, 2]],
    ['slice', [[1, 2, 3, 4], '1:3'], [2, 3]],
    ['slice', [[1, 2, 3, 4], '-2:'], [3, 4]],
    ['slice', [[1, 2, 3, 4], '::2'], [1, 3]],
    ['slice', ['abcdef', '2:4'], 'cd'],
    ['truncatechars', ['Joel is a slug', 7], 'Joel i…'],
    ['truncatewords', ['Joel is a slug', 2], 'Joel is …'],
    ['urlencode', ['https://www.example.org/foo?a=b&c=d'], 'https%3A//www.example.org/foo%3Fa%3Db%26c%3Dd'],
    ['striptags', ['<b>Joel</b> <button>is</button> a <span>slug</span>'], 'Joel is a slug'],
    ['yesno', [true, 'yeah,no,maybe'], 'yeah'],
    ['yesno', [null, 'yeah,no,maybe'], 'maybe'],
    ['yesno', [null, 'yeah,no'], 'no'],
    ['divisibleby', [21, 3], true],
    ['pluralize', [1], ''],
    ['pluralize', [2], 's'],
    ['pluralize', [2, 'y,ies'], 'ies'],
    ['pluralize', [[1, 2], 'es'], 'es'],
    ['cut', ['String with spaces', ' '], 'Stringwithspaces'],
    ['lookup', [{ 'A B': 1 }, 'A B'], 1],
    ['lookup', [{}, 'constructor'], undefined],
    ['floatadd', [1, 1.1], 2.1],
    ['concat', ['hello', ' world'], 'hello world'],
    ['concat', [[1], [2, 3]], [1, 2, 3]],
    ['count', ['hello'], 5],
    ['abs', [-1.2], 1.2],
    ['append', ['hello', ' world'], 'hello world'],
    ['at_least', [1, 5.0], 5],
    ['at_most', [1, -1.0], -1],
    ['base64_encode', ['ada@example.com'], 'YWRhQGV4YW1wbGUuY29t'],
    ['base64_decode', ['YWRhQGV4YW1wbGUuY29t'], 'ada@example.com'],
    ['base64_url_safe_encode', ['??>'], 'Pz8-'],
    ['capitalize', ['hello'], 'Hello'],
    ['ceil', [5.01], 6],
    ['floor', [5.9], 5],
    ['round', [5.05, 1], 5.1],
    ['compact', [[1, null, 2, undefined]], [1, 2]],
    ['sha_256', ['a'], 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'],
  ])('%s(%j) → %j', (name, args, expected) => {
    expect(f(name, ...args)).toEqual(expected);
  });

  test('date uses Django format characters', () => {
    expect(formatDate('2026-11-29T10:05:09Z', 'Y-m-d')).toBe('2026-11-29');
    expect(formatDate('2026-11-29T10:05:09Z', 'D, d M Y H:i:s')).toBe('Sun, 29 Nov 2026 10:05:09');
    expect(formatDate('2026-11-29T10:05:09Z', 'jS F Y, g:i A')).toBe('29th November 2026, 10:05 AM');
    expect(formatDate('2026-03-01T00:00:00Z', 'N j, Y \\a\\t P')).toBe('March 1, 2026 at midnight');
    expect(formatDate(1764410709, 'c')).toBe('2025-11-29T10:05:09.000+00:00');
    expect(formatDate('not a date', 'Y')).toBe('');
    expect(text('{{ event.time|date:"Y-m-d" }}')).toBe('2026-11-29');
  });
  test('roundDecimal rounds half up on the decimal digits', () => {
    expect(roundDecimal(0.125, 2)).toBe('0.13');
    expect(roundDecimal(-2.5, 0)).toBe('-3');
    expect(roundDecimal(9.995, 2)).toBe('10.00');
    expect(roundDecimal(1e-7, 2)).toBe('0.00');
  });
});
