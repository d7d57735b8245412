import { TemplateRenderer } from '../../src/templates';
import { renderThreadFromSource } from '../support/render-thread';

/** The thread pool the worker renders with, its threads running the source of today (no build needed). */
const threadFile = renderThreadFromSource();

const list = (n: number) => ({ person: {}, event: { list: Array.from({ length: n }, (_, i) => i) } });
let renderer: TemplateRenderer;

beforeAll(() => {
  renderer = new TemplateRenderer({ timeoutMs: 2000, threadFile });
});
afterAll(() => renderer.close());

test('renders valid JSON and reports invalid output', async () => {
  expect(await renderer.render('{"n": {{ event.list|length }}}', list(3))).toEqual({
    ok: true,
    body: '{"n": 3}',
  });
  const bad = await renderer.render('{"n": {{ event.nope }}}', list(3));
  expect(bad).toMatchObject({ ok: false, error: { line: 1, column: 7 } });
});

test('runaway templates end with a clear error, and the pool keeps working', async () => {
  const loops = await renderer.render(
    '{% for a in event.list %}{% for b in event.list %}{% endfor %}{% endfor %}{}',
    list(400),
  );
  expect(loops).toEqual({
    ok: false,
    error: { message: 'template error: the template loops more than 100000 times' },
  });
  const grows = await renderer.render(
    '{% set s = "x" %}{% for i in event.list %}{% set s = s ~ s %}{% endfor %}{}',
    list(40),
  );
  expect(grows).toEqual({
    ok: false,
    error: { message: 'template error: the rendered text grows too large' },
  });
  const recursion = await renderer.render('{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}', list(1));
  expect(recursion).toEqual({
    ok: false,
    error: { message: 'template error: the template recurses too deeply' },
  });
  expect(await renderer.render('{"ok": true}', list(1))).toEqual({ ok: true, body: '{"ok": true}' });
});

test('a render that takes longer than the limit is stopped with its thread', async () => {
  const slow = new TemplateRenderer({ timeoutMs: 1000, threads: 1, threadFile });
  try {
    const src = '{% for a in event.list %}{{ event.list|join:","|sha_256 }}{% endfor %}{}';
    const r = await slow.render(src, list(90_000));
    expect(r).toEqual({
      ok: false,
      error: { message: 'template error: rendering took longer than 1000 ms' },
    });
    expect(await slow.render('{"after": 1}', list(1))).toEqual({ ok: true, body: '{"after": 1}' });
  } finally {
    await slow.close();
  }
});
