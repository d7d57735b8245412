import { compileTemplate, renderJsonBody, TemplateError } from '../../src/templates';

const ctx = {
  person: { email: 'ada@example.com', first_name: 'Ada', loyalty_id: 'L-1' },
  event: { value: 120.5, items: [{ name: 'Tea', price: 10 }] },
};

describe('templates', () => {
  test('renders person and event variables; missing ones render empty', () => {
    const t = compileTemplate('{"e": "{{ person.email }}", "v": {{ event.value }}, "m": "{{ event.nope }}"}');
    expect(JSON.parse(t.render(ctx))).toEqual({ e: 'ada@example.com', v: 120.5, m: '' });
  });
  test('loops and conditions', () => {
    const t = compileTemplate(
      '[{% for i in event.items %}{"n": "{{ i.name }}"}{% if not loop.last %},{% endif %}{% endfor %}]',
    );
    expect(JSON.parse(t.render(ctx))).toEqual([{ n: 'Tea' }]);
  });
  test('syntax errors carry line and column', () => {
    let caught: unknown;
    try {
      compileTemplate('{\n "a": {{ person.email \n}');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    // The unclosed tag is detected where the next line starts.
    expect((caught as TemplateError).line).toBe(3);
  });
  test('no includes: there is nothing to load', () => {
    const t = compileTemplate('{% include "/etc/passwd" %}');
    expect(() => t.render(ctx)).toThrow(TemplateError);
  });
  test('renderJsonBody reports output that is not JSON', () => {
    const bad = renderJsonBody(compileTemplate('{"a": {{ event.nope }} }'), ctx);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.message).toMatch(/not valid JSON/);
    expect(renderJsonBody(compileTemplate('{"a": 1}'), ctx)).toEqual({ ok: true, body: '{"a": 1}' });
  });
});
