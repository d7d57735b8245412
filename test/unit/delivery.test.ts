import { redactSecrets } from '../../src/webhooks/redact';
import { translateDjango } from '../../src/templates/django';

test('excerpts never carry header values, whole or as the token of a scheme', () => {
  const secrets = ['Bearer sk_live_abcdef123456', 'short'];
  expect(
    redactSecrets('{"auth":"Bearer sk_live_abcdef123456","t":"sk_live_abcdef123456","s":"short"}', secrets),
  ).toBe('{"auth":"[redacted]","t":"[redacted]","s":"[redacted]"}');
  expect(redactSecrets('nothing here', ['abc'])).toBe('nothing here');
});

test('translation keeps line numbers and marks each output by its JSON context', () => {
  const src = '{\n  "a": "{{ x|default:"y" }}",\n  "b": {{ n }}\n}';
  const out = translateDjango(src);
  expect(out.split('\n')).toHaveLength(4);
  expect(out).toContain('{{ ( x|default("y") ) | __json_in_string }}');
  expect(out).toContain('{{ ( n ) | __json_value }}');
  expect(translateDjango('{{- x -}}')).toBe('{{- ( x ) | __json_value -}}');
  expect(translateDjango('{% for k, v in d.items %}{% endfor %}')).toBe('{% for k, v in d %}{% endfor %}');
  expect(translateDjango('{% for i in event.items %}{% empty %}{% endfor %}')).toBe(
    '{% for i in event.items %}{% else %}{% endfor %}',
  );
});
