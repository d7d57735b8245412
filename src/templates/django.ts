/**
 * Rewrites a Django-style template into the nunjucks dialect it renders with, keeping every
 * newline in place so nunjucks' line numbers are the user's line numbers.
 *
 * - `{{ value|filter:arg }}` → `{{ value|filter(arg) }}` (either syntax is accepted)
 * - `None`/`True`/`False` → `none`/`true`/`false`
 * - `forloop.counter`, `.counter0`, `.revcounter`, `.revcounter0`, `.first`, `.last` → `loop.*`
 * - `{% empty %}` inside `for` → `{% else %}`; `for k, v in d.items` → `for k, v in d`
 * - `{% with a=b c=d %}` / `{% with b as a %}` → the `with` extension's `{% with a=b, c=d %}`
 * - `{% comment %}…{% endcomment %}` → a nunjucks comment
 * - every `{{ … }}` gets a final escaping filter chosen by where it stands in the JSON text:
 *   inside a JSON string it is escaped as string content, elsewhere it is written as a JSON value.
 */

export const JSON_STRING_FILTER = '__json_in_string';
export const JSON_VALUE_FILTER = '__json_value';

const FORLOOP: Record<string, string> = {
  counter: 'index',
  counter0: 'index0',
  revcounter: 'revindex',
  revcounter0: 'revindex0',
  first: 'first',
  last: 'last',
  length: 'length',
};

type Token = { kind: 'str' | 'ident' | 'num' | 'space' | 'punct'; text: string };

/** Splits a tag's inside into string literals, identifiers, numbers, whitespace and punctuation. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out.push({ kind: 'str', text: src.slice(i, Math.min(j + 1, src.length)) });
      i = j + 1;
    } else if (/\s/.test(c)) {
      let j = i;
      while (j < src.length && /\s/.test(src[j]!)) j++;
      out.push({ kind: 'space', text: src.slice(i, j) });
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      out.push({ kind: 'ident', text: src.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      // Digits, and a fraction only when a digit follows the dot (`items.0.name` is a path).
      let j = i;
      while (j < src.length && /[0-9]/.test(src[j]!)) j++;
      if (src[j] === '.' && /[0-9]/.test(src[j + 1] ?? '')) {
        j++;
        while (j < src.length && /[0-9]/.test(src[j]!)) j++;
      }
      out.push({ kind: 'num', text: src.slice(i, j) });
      i = j;
    } else {
      out.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return out;
}

/** Translates one expression (the inside of `{{ }}` or the arguments of a tag). */
export function translateExpression(src: string): string {
  const t = tokenize(src);
  let out = '';
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const prev = t[i - 1];
    if (tok.kind === 'ident' && !(prev?.kind === 'punct' && prev.text === '.')) {
      if (tok.text === 'None') {
        out += 'none';
        continue;
      }
      if (tok.text === 'True' || tok.text === 'False') {
        out += tok.text.toLowerCase();
        continue;
      }
      const dot = t[i + 1];
      const field = t[i + 2];
      if (tok.text === 'forloop' && dot?.text === '.' && field?.kind === 'ident' && FORLOOP[field.text]) {
        out += `loop.${FORLOOP[field.text]}`;
        i += 2;
        continue;
      }
    }
    // `|name:arg` → `|name(arg)`: the argument is one literal or one variable path.
    if (tok.kind === 'punct' && tok.text === ':' && prev?.kind === 'ident' && isFilterName(t, i - 1)) {
      let j = i + 1;
      let arg = '';
      const first = t[j];
      if (first && (first.kind === 'str' || first.kind === 'num')) {
        arg = first.text;
        j++;
      } else if (first?.kind === 'punct' && first.text === '-' && t[j + 1]?.kind === 'num') {
        arg = `-${t[j + 1]!.text}`;
        j += 2;
      } else {
        while (j < t.length) {
          const a = t[j]!;
          if (a.kind === 'ident' || a.kind === 'num' || (a.kind === 'punct' && a.text === '.')) {
            arg += a.kind === 'ident' && a.text === 'None' ? 'none' : a.text;
            j++;
          } else if (a.kind === 'punct' && a.text === '[') {
            const close = findClose(t, j);
            arg += t
              .slice(j, close + 1)
              .map((x) => x.text)
              .join('');
            j = close + 1;
          } else break;
        }
      }
      out += `(${translateExpression(arg)})`;
      i = j - 1;
      continue;
    }
    // Django indexes lists with a dot (`items.0`); nunjucks needs brackets.
    if (
      tok.kind === 'punct' &&
      tok.text === '.' &&
      t[i + 1]?.kind === 'num' &&
      (prev?.kind === 'ident' || prev?.text === ']')
    ) {
      out += `[${t[i + 1]!.text}]`;
      i++;
      continue;
    }
    out += tok.text;
  }
  return out;
}

function isFilterName(t: Token[], nameIndex: number): boolean {
  let k = nameIndex - 1;
  while (k >= 0 && t[k]!.kind === 'space') k--;
  return k >= 0 && t[k]!.kind === 'punct' && t[k]!.text === '|';
}

function findClose(t: Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < t.length; k++) {
    if (t[k]!.text === '[') depth++;
    else if (t[k]!.text === ']' && --depth === 0) return k;
  }
  return t.length - 1;
}

/** Index just past the closing delimiter, skipping string literals inside the tag. */
function findTagEnd(src: string, from: number, close: string): number {
  let i = from;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      i = j + 1;
      continue;
    }
    if (src.startsWith(close, i)) return i + close.length;
    i++;
  }
  return -1;
}

function translateTag(inner: string): string {
  const m = /^(\s*-?\s*)([A-Za-z_]+)([\s\S]*?)(\s*-?\s*)$/.exec(inner);
  if (!m) return translateExpression(inner);
  const [, lead, name, rest, trail] = m as unknown as [string, string, string, string, string];
  switch (name) {
    case 'empty':
      return `${lead}else${trail}`;
    case 'for': {
      // `for k, v in d.items` iterates a dict's pairs; nunjucks does that for `for k, v in d`.
      const body = translateExpression(rest).replace(/^(\s*\w+\s*,\s*\w+\s+in\s+[\s\S]+?)\.items\s*$/, '$1');
      return `${lead}for${body}${trail}`;
    }
    case 'with': {
      const legacy = /^\s+([\s\S]+?)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(rest);
      if (legacy) return `${lead}with ${legacy[2]}=${translateExpression(legacy[1]!)}${trail}`;
      // Django separates assignments with spaces; the extension reads keyword arguments.
      const parts = splitAssignments(rest);
      return `${lead}with ${parts.map(([k, v]) => `${k}=${translateExpression(v)}`).join(', ')}${trail}`;
    }
    default:
      return `${lead}${name}${translateExpression(rest)}${trail}`;
  }
}

/** `a=x.y b="q r" c=d|upper` → [[a, x.y], [b, "q r"], [c, d|upper]]. */
function splitAssignments(src: string): [string, string][] {
  const t = tokenize(src);
  const out: [string, string][] = [];
  let i = 0;
  while (i < t.length) {
    while (i < t.length && t[i]!.kind === 'space') i++;
    if (i >= t.length) break;
    const name = t[i]!;
    if (name.kind !== 'ident' || t[i + 1]?.text !== '=') {
      // Leave it to the extension's parser to report what is wrong.
      out.push([
        t
          .slice(i)
          .map((x) => x.text)
          .join(''),
        '',
      ]);
      break;
    }
    i += 2;
    let value = '';
    let depth = 0;
    while (i < t.length && (depth > 0 || t[i]!.kind !== 'space')) {
      const x = t[i]!;
      if (x.text === '(' || x.text === '[') depth++;
      if (x.text === ')' || x.text === ']') depth--;
      value += x.text;
      i++;
    }
    out.push([name.text, value]);
  }
  return out;
}

/** Is position `i` of the literal text inside a JSON string, given the state at its start? */
function scanJsonText(text: string, inString: boolean): boolean {
  let state = inString;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && state) i++;
    else if (c === '"') state = !state;
  }
  return state;
}

export function translateDjango(source: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < source.length) {
    const next = source.slice(i).search(/\{[{%#]/);
    if (next < 0) {
      out += source.slice(i);
      break;
    }
    const text = source.slice(i, i + next);
    out += text;
    inString = scanJsonText(text, inString);
    const at = i + next;
    const kind = source[at + 1];
    if (kind === '#') {
      const end = source.indexOf('#}', at + 2);
      const stop = end < 0 ? source.length : end + 2;
      out += source.slice(at, stop);
      i = stop;
      continue;
    }
    const close = kind === '{' ? '}}' : '%}';
    const end = findTagEnd(source, at + 2, close);
    if (end < 0) {
      // Unclosed: hand it to nunjucks unchanged so it reports the line.
      out += source.slice(at);
      break;
    }
    const inner = source.slice(at + 2, end - 2);
    if (kind === '{') {
      // Whitespace control (`{{-` and `-}}`) stays outside the wrapped expression.
      const lead = inner.startsWith('-') ? '-' : '';
      const trail = inner.endsWith('-') && inner.length > lead.length ? '-' : '';
      const expr = translateExpression(inner.slice(lead.length, inner.length - trail.length));
      const filter = inString ? JSON_STRING_FILTER : JSON_VALUE_FILTER;
      out += expr.trim() === '' ? `{{${inner}}}` : `{{${lead} (${expr}) | ${filter} ${trail}}}`;
      i = end;
      continue;
    }
    if (/^\s*-?\s*comment\b/.test(inner)) {
      const endTag = /\{%-?\s*endcomment\s*-?%\}/g;
      endTag.lastIndex = end;
      const m = endTag.exec(source);
      const stop = m ? m.index + m[0].length : source.length;
      // Keep the newlines so later line numbers do not move.
      out += `{#${source.slice(at + 2, stop - 2).replace(/[^\n]/g, ' ')}#}`;
      i = stop;
      continue;
    }
    out += `{%${translateTag(inner)}%}`;
    i = end;
  }
  return out;
}
