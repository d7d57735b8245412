import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TemplateContext } from '../../src/templates';
import { TemplateRenderer } from '../../src/templates';
import { contextFits, inProcessVerdict, MAX_CONTEXT_CHARS } from '../../src/templates/in-process';
import { renderThreadFromSource } from '../support/render-thread';

/** The worker's renderer (small templates on its own thread) against threads only. */
const threadFile = renderThreadFromSource();
let mixed: TemplateRenderer;
let threadsOnly: TemplateRenderer;

beforeAll(() => {
  mixed = new TemplateRenderer({ timeoutMs: 2000, threadFile });
  threadsOnly = new TemplateRenderer({ timeoutMs: 2000, threadFile, inProcess: false });
});
afterAll(async () => {
  await mixed.close();
  await threadsOnly.close();
});

const order: TemplateContext = {
  person: { email: 'ada@example.com', first_name: 'ada', 'Loyalty ID': 'L-1' },
  event: {
    value: 123.456,
    time: '2026-11-29T10:00:00Z',
    note: 'says "hi"\nthen leaves',
    items: [
      { name: 'Tea', price: 9.99, quantity: 2 },
      { name: 'A cup with a fairly long descriptive name', price: 5, quantity: 1 },
    ],
  },
};

const list = (n: number): TemplateContext => ({
  person: {},
  event: { list: Array.from({ length: n }, (_, i) => i) },
});

describe('a template cleared for the worker thread renders as in a thread', () => {
  const cases: [string, string, TemplateContext][] = [
    [
      'an order with a loop and filters',
      '{"email": "{{ person.email }}", "name": "{{ person.first_name|title }}", "id": "{{ person|lookup:"Loyalty ID" }}", ' +
        '"total": {{ event.value|floatformat:2 }}, "at": "{{ event.time|date:"Y-m-d H:i" }}", "note": "{{ event.note }}", ' +
        '"items": [{% for i in event.items %}{"n": "{{ i.name|truncatechars:12 }}", "t": {{ i.price|multiply:i.quantity }}}' +
        '{% if not forloop.last %},{% endif %}{% endfor %}]}',
      order,
    ],
    ['output that is not JSON', '{"n": {{ event.nope }}}', order],
    ['a missing comma', '{"a": 1 "b": {{ event.value }}}', order],
    [
      'a template error while rendering',
      '{"x": {{ event.value|date:"Y" }}{{ event.items.name.first }}}',
      order,
    ],
    [
      'past the in-process meter: 2,000 iterations',
      '[{% for a in event.list %}{{ a }},{% endfor %}0]',
      list(2000),
    ],
  ];

  test.each(cases)('%s', async (_label, source, context) => {
    expect(inProcessVerdict(source).inProcess).toBe(true);
    const expected = await threadsOnly.render(source, context);
    expect(await mixed.render(source, context)).toEqual(expected);
  });
});

test('templates that could run long are judged to need a thread', () => {
  const needsThread = [
    '{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}',
    '{% set s = "x" %}{{ s }}',
    '{% with a=event.x %}{{ a }}{% endwith %}',
    '{{ event.x|ljust:100000000 }}',
    '{{ event.x|join:event.y }}',
    '{{ event.x|indent(4) }}',
    'x'.repeat(9000),
  ];
  for (const source of needsThread) expect(inProcessVerdict(source)).toMatchObject({ inProcess: false });
  expect(inProcessVerdict('{{ event.x|ljust:10 }}{{ event.v|floatformat:2 }}').inProcess).toBe(true);
  expect(contextFits(list(100))).toBe(true);
  expect(contextFits({ person: {}, event: { text: 'x'.repeat(MAX_CONTEXT_CHARS) } })).toBe(false);
});

test('a cleared template renders on the caller thread; any other goes to a thread', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookflow-marker-thread-'));
  const marker = path.join(dir, 'thread.js');
  fs.writeFileSync(marker, 'module.exports = () => ({ ok: true, body: \'"from a thread"\' });\n');
  const renderer = new TemplateRenderer({ threadFile: marker });
  try {
    expect(await renderer.render('{"n": {{ event.list|length }}}', list(3))).toEqual({
      ok: true,
      body: '{"n": 3}',
    });
    // No thread (and its heap) until a template needs one.
    expect(renderer.threadsStarted).toBe(false);
    // Past the meter (1,000 iterations in process), a thread renders it.
    expect(await renderer.render('[{% for a in event.list %}{{ a }},{% endfor %}0]', list(1500))).toEqual({
      ok: true,
      body: '"from a thread"',
    });
    expect(renderer.threadsStarted).toBe(true);
    // Too large a context, whatever the template.
    const big = { person: {}, event: { list: [], text: 'x'.repeat(MAX_CONTEXT_CHARS) } };
    expect(await renderer.render('{"n": {{ event.list|length }}}', big)).toEqual({
      ok: true,
      body: '"from a thread"',
    });
    expect(await renderer.render('{% set n = 1 %}{"n": {{ n }}}', list(1))).toEqual({
      ok: true,
      body: '"from a thread"',
    });
  } finally {
    await renderer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a cleared template that turns out slow is stopped by the time limit in a thread', async () => {
  const slow = new TemplateRenderer({ timeoutMs: 1000, threads: 1, threadFile });
  try {
    // Cleared by its shape and its small context, but 90,000 hashes of 20,000 characters: its
    // meter stops it on the caller's thread within a few hashes, the thread's time limit after 1 s.
    const src =
      '{% for a in event.list %}{% for b in event.list %}{{ event.text|sha_256 }}{% endfor %}{% endfor %}{}';
    const context = { person: {}, event: { list: list(300).event.list, text: 'y'.repeat(20_000) } };
    expect(inProcessVerdict(src).inProcess).toBe(true);
    expect(contextFits(context)).toBe(true);
    const started = Date.now();
    expect(await slow.render(src, context)).toEqual({
      ok: false,
      error: { message: 'template error: rendering took longer than 1000 ms' },
    });
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    await slow.close();
  }
});
