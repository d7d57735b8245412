import crypto from 'node:crypto';

/**
 * Django's built-in filters that make sense in a JSON body, and Klaviyo's own, with their
 * semantics (Django: `add` on integers adds, on strings concatenates; `default` replaces any
 * false value). Missing values arrive as `undefined` and behave like Django's empty string.
 */

type F = (value: unknown, ...args: unknown[]) => unknown;

const isNil = (v: unknown): v is null | undefined => v === null || v === undefined;
/** Array.isArray narrows to any[]; templates only ever hold unknown values. */
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

/** Django/Python truthiness: empty strings, lists and dicts, zero, None and False are false. */
export function djangoTruthy(v: unknown): boolean {
  if (isList(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

export function str(v: unknown): string {
  if (isNil(v)) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** Python's int(): integers and integer strings; floats truncate; anything else fails. */
function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return parseInt(v, 10);
  return undefined;
}

/** Python's float(): numbers and numeric strings. */
function toFloat(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function toList(v: unknown): unknown[] {
  if (isList(v)) return v;
  if (typeof v === 'string') return [...v];
  if (v !== null && typeof v === 'object') return Object.keys(v);
  return [];
}

/** What toLocaleString('en-US', …) does, without building a formatter per call (most of a render). */
const DECIMAL = new Intl.NumberFormat('en-US', { useGrouping: false, maximumFractionDigits: 20 });

/** Rounds a decimal string half away from zero to `places` (Django uses Decimal, ROUND_HALF_UP). */

export function roundDecimal(value: number, places: number): string {
  const neg = value < 0;
  const [intPart, fracPart = ''] = DECIMAL.format(Math.abs(value)).split('.') as [string, string?];
  const digits = (intPart + fracPart.padEnd(places + 1, '0')).split('').map(Number);
  const keep = intPart.length + places;
  let carry = (digits[keep] ?? 0) >= 5 ? 1 : 0;
  const kept = digits.slice(0, keep);
  for (let k = kept.length - 1; k >= 0 && carry; k--) {
    const d = kept[k]! + carry;
    kept[k] = d % 10;
    carry = d >= 10 ? 1 : 0;
  }
  if (carry) kept.unshift(1);
  const intLen = kept.length - places;
  const int = kept.slice(0, intLen).join('') || '0';
  const frac = kept.slice(intLen).join('');
  const out = places > 0 ? `${int}.${frac}` : int;
  return neg && /[1-9]/.test(out) ? `-${out}` : out;
}

function floatformat(value: unknown, arg: unknown = -1): string {
  const n = toFloat(value);
  if (n === undefined) return '';
  const p = toInt(arg) ?? -1;
  const places = Math.abs(p);
  const rounded = roundDecimal(n, places);
  if (p < 0 && Number(rounded) === Math.trunc(Number(rounded))) return roundDecimal(n, 0);
  return rounded;
}

/** Python slice syntax on lists and strings: "2", ":2", "1:", "1:3", "::2", negatives allowed. */
function pySlice(value: unknown, spec: unknown): unknown {
  const isString = typeof value === 'string';
  const list = isString ? [...value] : isList(value) ? value : undefined;
  if (!list) return value;
  const parts = str(spec).split(':');
  const num = (s: string | undefined) => (s === undefined || s.trim() === '' ? undefined : parseInt(s, 10));
  let out: unknown[];
  if (parts.length === 1) {
    const n = num(parts[0]);
    out = n === undefined ? list : list.slice(0, n);
  } else {
    const start = num(parts[0]);
    const end = num(parts[1]);
    const step = num(parts[2]) ?? 1;
    if (step === 0) return value;
    const len = list.length;
    const norm = (i: number | undefined, dflt: number) =>
      i === undefined
        ? dflt
        : i < 0
          ? Math.max(len + i, step < 0 ? -1 : 0)
          : Math.min(i, step < 0 ? len - 1 : len);
    const s = norm(start, step > 0 ? 0 : len - 1);
    const e = norm(end, step > 0 ? len : -1);
    out = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(list[i]);
  }
  return isString ? out.join('') : out;
}

// ---- dates ------------------------------------------------------------------------------------

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const MONTHS_AP = [
  'Jan.',
  'Feb.',
  'March',
  'April',
  'May',
  'June',
  'July',
  'Aug.',
  'Sept.',
  'Oct.',
  'Nov.',
  'Dec.',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v < 1e12 ? v * 1000 : v);
  if (typeof v === 'string' && v.trim() !== '') {
    const t = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) * 1000 : Date.parse(v);
    return Number.isNaN(t) ? undefined : new Date(t);
  }
  return undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Django's `date` format characters, rendered in UTC. */
export function formatDate(value: unknown, format: unknown = 'N j, Y'): string {
  const d = toDate(value);
  if (!d) return '';
  const f = str(format);
  const Y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  const H = d.getUTCHours();
  const i = d.getUTCMinutes();
  const s = d.getUTCSeconds();
  const w = d.getUTCDay();
  const start = Date.UTC(Y, 0, 1);
  const z = Math.floor((Date.UTC(Y, m, day) - start) / 86_400_000);
  const h12 = H % 12 === 0 ? 12 : H % 12;
  const leap = (Y % 4 === 0 && Y % 100 !== 0) || Y % 400 === 0;
  const suffix = () => {
    if (day % 100 >= 11 && day % 100 <= 13) return 'th';
    return ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[day % 10] ?? 'th';
  };
  const map: Record<string, () => string> = {
    d: () => pad(day),
    j: () => String(day),
    D: () => DAYS[w]!.slice(0, 3),
    l: () => DAYS[w]!,
    S: suffix,
    w: () => String(w),
    z: () => String(z),
    m: () => pad(m + 1),
    n: () => String(m + 1),
    M: () => MONTHS[m]!.slice(0, 3),
    b: () => MONTHS[m]!.slice(0, 3).toLowerCase(),
    F: () => MONTHS[m]!,
    N: () => MONTHS_AP[m]!,
    E: () => MONTHS[m]!,
    t: () => String(new Date(Date.UTC(Y, m + 1, 0)).getUTCDate()),
    L: () => (leap ? 'True' : 'False'),
    y: () => pad(Y % 100),
    Y: () => String(Y),
    o: () => String(Y),
    H: () => pad(H),
    G: () => String(H),
    h: () => pad(h12),
    g: () => String(h12),
    i: () => pad(i),
    s: () => pad(s),
    u: () => pad(d.getUTCMilliseconds() * 1000, 6),
    v: () => pad(d.getUTCMilliseconds(), 3),
    A: () => (H < 12 ? 'AM' : 'PM'),
    a: () => (H < 12 ? 'a.m.' : 'p.m.'),
    P: () =>
      H === 0 && i === 0
        ? 'midnight'
        : H === 12 && i === 0
          ? 'noon'
          : `${h12}${i ? `:${pad(i)}` : ''} ${H < 12 ? 'a.m.' : 'p.m.'}`,
    e: () => 'UTC',
    T: () => 'UTC',
    O: () => '+0000',
    Z: () => '0',
    I: () => '0',
    c: () => d.toISOString().replace('Z', '+00:00'),
    r: () =>
      `${DAYS[w]!.slice(0, 3)}, ${pad(day)} ${MONTHS[m]!.slice(0, 3)} ${Y} ${pad(H)}:${pad(i)}:${pad(s)} +0000`,
    U: () => String(Math.floor(d.getTime() / 1000)),
  };
  let out = '';
  for (let k = 0; k < f.length; k++) {
    const c = f[k]!;
    if (c === '\\') {
      out += f[k + 1] ?? '';
      k++;
    } else out += map[c]?.() ?? c;
  }
  return out;
}

// ---- the filters ------------------------------------------------------------------------------

function add(value: unknown, arg: unknown): unknown {
  const a = toInt(value);
  const b = toInt(arg);
  if (a !== undefined && b !== undefined) return a + b;
  if (typeof value === 'string' && typeof arg === 'string') return value + arg;
  if (isList(value) && isList(arg)) return [...value, ...arg];
  return '';
}

function floatOp(op: (a: number, b: number) => number) {
  return (value: unknown, arg: unknown): unknown => {
    const a = toFloat(value);
    const b = toFloat(arg);
    if (a === undefined || b === undefined) return '';
    const r = op(a, b);
    return Number.isFinite(r) ? r : '';
  };
}

const title = (v: unknown) =>
  str(v)
    .toLowerCase()
    .replace(/(^|[^\p{L}\p{N}'])(\p{Ll})/gu, (_m, p: string, c: string) => p + c.toUpperCase());

const capfirst = (v: unknown) => {
  const s = str(v);
  return s.charAt(0).toUpperCase() + s.slice(1);
};

function truncatechars(value: unknown, n: unknown): string {
  const s = str(value);
  const len = toInt(n);
  if (len === undefined || s.length <= len) return s; // never more characters than code units
  const chars = [...s];
  if (chars.length <= len) return s;
  return len <= 0 ? '…' : chars.slice(0, len - 1).join('') + '…';
}

function truncatewords(value: unknown, n: unknown): string {
  const words = str(value).trim().split(/\s+/).filter(Boolean);
  const len = toInt(n);
  if (len === undefined || words.length <= len) return words.join(' ');
  return `${words.slice(0, Math.max(len, 0)).join(' ')} …`;
}

function urlencode(value: unknown, safe: unknown = '/'): string {
  const keep = new Set(str(safe));
  return [...str(value)]
    .map((c) => (keep.has(c) || /[A-Za-z0-9_.~-]/.test(c) ? c : encodeURIComponent(c)))
    .join('');
}

function yesno(value: unknown, arg: unknown = 'yes,no,maybe'): string {
  const [yes = 'yes', no = 'no', maybe] = str(arg).split(',');
  if (isNil(value)) return maybe ?? no;
  return djangoTruthy(value) ? yes : no;
}

function pluralize(value: unknown, arg: unknown = 's'): string {
  const parts = str(arg).split(',');
  const [singular, plural] = parts.length > 1 ? [parts[0]!, parts[1]!] : ['', parts[0]!];
  const n = isList(value) ? value.length : toFloat(value);
  return n === 1 ? singular : plural;
}

function lookup(value: unknown, key: unknown): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  const k = typeof key === 'number' ? key : str(key);
  return Object.prototype.hasOwnProperty.call(value, k)
    ? (value as Record<string | number, unknown>)[k]
    : undefined;
}

const b64 = (v: unknown) => Buffer.from(str(v), 'utf8').toString('base64');
const unb64 = (v: unknown) =>
  Buffer.from(str(v).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
const hash = (alg: string) => (v: unknown) => crypto.createHash(alg).update(str(v)).digest('hex');

function numeric(fn: (n: number) => number) {
  return (v: unknown): unknown => {
    const n = toFloat(v);
    return n === undefined ? '' : fn(n);
  };
}

function sortList(value: unknown, key?: unknown): unknown[] {
  const list = [...toList(value)];
  const get = (x: unknown) => (key === undefined ? x : lookup(x, key));
  return list.sort((a, b) => {
    const x = get(a);
    const y = get(b);
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return str(x).localeCompare(str(y));
  });
}

function uniq(value: unknown, key?: unknown): unknown[] {
  const seen = new Set<string>();
  return toList(value).filter((x) => {
    const k = JSON.stringify(key === undefined ? x : lookup(x, key)) ?? 'undefined';
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The `json` filter: lists, objects and scalars as JSON text; missing becomes null. */
export function toJson(v: unknown): string {
  return JSON.stringify(v === undefined ? null : v) ?? 'null';
}

export const FILTERS: Record<string, F> = {
  // Django
  add,
  default: (v, d) => (djangoTruthy(v) ? v : d),
  default_if_none: (v, d) => (isNil(v) ? d : v),
  floatformat: (v, a) => floatformat(v, a),
  lower: (v) => str(v).toLowerCase(),
  upper: (v) => str(v).toUpperCase(),
  title,
  capfirst,
  length: (v) =>
    typeof v === 'string' || isList(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0,
  join: (v, sep = '') => (isList(v) ? v.map(str).join(str(sep)) : str(v)),
  first: (v) => (isList(v) ? v[0] : typeof v === 'string' ? v.charAt(0) : ''),
  last: (v) => (isList(v) ? v[v.length - 1] : typeof v === 'string' ? v.slice(-1) : ''),
  slice: pySlice,
  truncatechars,
  truncatewords,
  date: formatDate,
  time: (v, f = 'P') => formatDate(v, f),
  urlencode,
  striptags: (v) => str(v).replace(/<[^>]*>/g, ''),
  yesno,
  divisibleby: (v, n) => {
    const a = toInt(v);
    const b = toInt(n);
    return a !== undefined && b ? a % b === 0 : false;
  },
  pluralize,
  cut: (v, arg) => str(v).split(str(arg)).join(''),
  wordcount: (v) => str(v).trim().split(/\s+/).filter(Boolean).length,
  make_list: (v) => toList(str(v)),
  escapejs: (v) => JSON.stringify(str(v)).slice(1, -1),
  linebreaksbr: (v) => str(v).replace(/\r?\n/g, '<br>'),
  ljust: (v, n) => str(v).padEnd(toInt(n) ?? 0),
  rjust: (v, n) => str(v).padStart(toInt(n) ?? 0),
  center: (v, n) => {
    const s = str(v);
    const width = toInt(n) ?? 0;
    const left = Math.floor((width - s.length) / 2);
    return width > s.length ? s.padStart(s.length + left).padEnd(width) : s;
  },
  stringformat: (v) => str(v),
  dictsort: (v, key) => sortList(v, key),
  dictsortreversed: (v, key) => sortList(v, key).reverse(),
  safe: (v) => v,
  // Klaviyo
  lookup,
  floatadd: floatOp((a, b) => a + b),
  plus: floatOp((a, b) => a + b),
  floatsub: floatOp((a, b) => a - b),
  minus: floatOp((a, b) => a - b),
  multiply: floatOp((a, b) => a * b),
  divide: floatOp((a, b) => a / b),
  remainder: floatOp((a, b) => a % b),
  modulo: floatOp((a, b) => a % b),
  concat: (v, arg) => (isList(v) ? [...v, ...(isList(arg) ? arg : [arg])] : str(v) + str(arg)),
  count: (v) =>
    typeof v === 'string' || isList(v) ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0,
  size: (v) => (typeof v === 'string' || isList(v) ? v.length : 0),
  abs: numeric(Math.abs),
  ceil: numeric(Math.ceil),
  floor: numeric(Math.floor),
  round: (v, places = 0) => {
    const n = toFloat(v);
    return n === undefined ? '' : Number(roundDecimal(n, toInt(places) ?? 0));
  },
  at_least: (v, n) => {
    const a = toFloat(v);
    const b = toFloat(n);
    return a === undefined || b === undefined ? '' : Math.max(a, b);
  },
  at_most: (v, n) => {
    const a = toFloat(v);
    const b = toFloat(n);
    return a === undefined || b === undefined ? '' : Math.min(a, b);
  },
  append: (v, s) => str(v) + str(s),
  prepend: (v, s) => str(s) + str(v),
  capitalize: capfirst,
  downcase: (v) => str(v).toLowerCase(),
  upcase: (v) => str(v).toUpperCase(),
  strip: (v) => str(v).trim(),
  lstrip: (v) => str(v).trimStart(),
  rstrip: (v) => str(v).trimEnd(),
  strip_html: (v) => str(v).replace(/<[^>]*>/g, ''),
  strip_newlines: (v) => str(v).replace(/\r?\n/g, ''),
  remove: (v, s) => str(v).split(str(s)).join(''),
  replace: (v, a, b) => str(v).split(str(a)).join(str(b)),
  split: (v, sep = ' ') => str(v).split(str(sep)),
  compact: (v) => toList(v).filter((x) => !isNil(x)),
  reverse: (v) => (typeof v === 'string' ? [...v].reverse().join('') : [...toList(v)].reverse()),
  sort: (v, key) => sortList(v, key),
  uniq,
  trim_slash: (v) => str(v).replace(/\/+$/, ''),
  base64_encode: b64,
  base64_decode: unb64,
  base64_url_safe_encode: (v) => b64(v).replace(/\+/g, '-').replace(/\//g, '_'),
  base64_url_safe_decode: unb64,
  md5_hash: hash('md5'),
  sha_1: hash('sha1'),
  sha_256: hash('sha256'),
  urldecode: (v) => {
    try {
      return decodeURIComponent(str(v).replace(/\+/g, ' '));
    } catch {
      return str(v);
    }
  },
  // hookflow
  json: toJson,
  string: str,
  int: (v) => toInt(v) ?? toInt(toFloat(v)) ?? 0,
  float: (v) => toFloat(v) ?? 0,
};
