import jsep from 'jsep';

/**
 * Split conditions: a small, side-effect-free expression language over `person` and `event`,
 * parsed by jsep and evaluated by the walker below. It runs inside workflow code, so it must be
 * pure and deterministic: no calls, no assignment, no access to prototypes.
 *
 * Supported: literals (numbers, strings, true, false, null), member access (`event.items[0].price`,
 * `person["Loyalty ID"]`), arithmetic (+ - * / %), comparisons (== != < <= > >=; `==` is strict
 * equality except that null and a missing value are equal), `in` (array membership or substring),
 * boolean `&&`/`and`, `||`/`or`, `!`/`not`, and parentheses.
 */

jsep.addBinaryOp('and', 2); // same precedence as &&
jsep.addBinaryOp('or', 1); // same precedence as ||
jsep.addBinaryOp('in', 7);
jsep.addUnaryOp('not');
// jsep has `this` as a keyword and ternaries only through a plugin; neither is needed.

export type ConditionScope = { person: unknown; event: unknown };

const ROOTS = new Set(['person', 'event']);
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);
const BINARY = new Set(['+', '-', '*', '/', '%', '==', '!=', '===', '!==', '<', '<=', '>', '>=', 'in']);
const LOGICAL = new Set(['&&', '||', 'and', 'or']);
const UNARY = new Set(['!', '-', '+', 'not']);

export class ConditionSyntaxError extends Error {
  override readonly name = 'ConditionSyntaxError';
}

/** Parses and checks a condition; throws {@link ConditionSyntaxError} with a message for the user. */
export function parseCondition(source: string): jsep.Expression {
  let ast: jsep.Expression;
  try {
    ast = jsep(source);
  } catch (err) {
    throw new ConditionSyntaxError((err as Error).message);
  }
  check(ast);
  return ast;
}

function check(node: jsep.Expression): void {
  switch (node.type) {
    case 'Literal':
      return;
    case 'Identifier': {
      const name = (node as jsep.Identifier).name;
      if (!ROOTS.has(name)) {
        throw new ConditionSyntaxError(
          `unknown name "${name}": conditions read person.<field> or event.<field>`,
        );
      }
      return;
    }
    case 'MemberExpression': {
      const m = node as jsep.MemberExpression;
      check(m.object);
      if (m.computed) {
        if (m.property.type !== 'Literal') {
          throw new ConditionSyntaxError('only constant keys may be used in brackets, e.g. event.items[0]');
        }
      } else if (m.property.type !== 'Identifier') {
        throw new ConditionSyntaxError('invalid property access');
      }
      const key = String(memberKey(m));
      if (FORBIDDEN_KEYS.has(key)) throw new ConditionSyntaxError(`"${key}" may not be read`);
      return;
    }
    case 'BinaryExpression': {
      const b = node as jsep.BinaryExpression;
      if (!BINARY.has(b.operator) && !LOGICAL.has(b.operator)) {
        throw new ConditionSyntaxError(`operator "${b.operator}" is not supported`);
      }
      check(b.left);
      check(b.right);
      return;
    }
    case 'UnaryExpression': {
      const u = node as jsep.UnaryExpression;
      if (!UNARY.has(u.operator)) throw new ConditionSyntaxError(`operator "${u.operator}" is not supported`);
      check(u.argument);
      return;
    }
    case 'ArrayExpression':
      for (const el of (node as jsep.ArrayExpression).elements) if (el) check(el);
      return;
    case 'CallExpression':
      throw new ConditionSyntaxError('function calls are not allowed in conditions');
    case 'Compound':
      throw new ConditionSyntaxError('a condition is a single expression');
    default:
      throw new ConditionSyntaxError(`${node.type} is not supported in conditions`);
  }
}

function memberKey(m: jsep.MemberExpression): string | number {
  if (m.computed) {
    const v = (m.property as jsep.Literal).value;
    return typeof v === 'number' ? v : String(v);
  }
  return (m.property as jsep.Identifier).name;
}

function readKey(target: unknown, key: string | number): unknown {
  if (target === null || typeof target !== 'object') {
    if (typeof target === 'string' && key === 'length') return target.length;
    return undefined;
  }
  if (Array.isArray(target) && key === 'length') return target.length;
  // Own properties only: no path reaches Object.prototype or functions.
  if (!Object.prototype.hasOwnProperty.call(target, key)) return undefined;
  const value = (target as Record<string | number, unknown>)[key];
  return typeof value === 'function' ? undefined : value;
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (a == null && b == null) return true;
  return a === b;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  // Ordering is only meaningful between two numbers or two strings; anything else is false.
  const bothNumbers = typeof a === 'number' && typeof b === 'number';
  const bothStrings = typeof a === 'string' && typeof b === 'string';
  if (!bothNumbers && !bothStrings) return false;
  const x = a;
  const y = b;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function arithmetic(op: string, a: unknown, b: unknown): unknown {
  if (op === '+' && (typeof a === 'string' || typeof b === 'string')) return `${str(a)}${str(b)}`;
  if (typeof a !== 'number' || typeof b !== 'number') return undefined;
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? undefined : a / b;
    default:
      return b === 0 ? undefined : a % b;
  }
}

function str(v: unknown): string {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function evaluate(node: jsep.Expression, scope: ConditionScope): unknown {
  switch (node.type) {
    case 'Literal':
      return (node as jsep.Literal).value;
    case 'Identifier':
      return (node as jsep.Identifier).name === 'person' ? scope.person : scope.event;
    case 'MemberExpression': {
      const m = node as jsep.MemberExpression;
      return readKey(evaluate(m.object, scope), memberKey(m));
    }
    case 'ArrayExpression':
      return (node as jsep.ArrayExpression).elements.map((e) => (e ? evaluate(e, scope) : undefined));
    case 'UnaryExpression': {
      const u = node as jsep.UnaryExpression;
      const v = evaluate(u.argument, scope);
      if (u.operator === '!' || u.operator === 'not') return !truthy(v);
      if (typeof v !== 'number') return undefined;
      return u.operator === '-' ? -v : v;
    }
    case 'BinaryExpression': {
      const b = node as jsep.BinaryExpression;
      const op = b.operator;
      if (op === '&&' || op === 'and')
        return truthy(evaluate(b.left, scope)) && truthy(evaluate(b.right, scope));
      if (op === '||' || op === 'or')
        return truthy(evaluate(b.left, scope)) || truthy(evaluate(b.right, scope));
      const left = evaluate(b.left, scope);
      const right = evaluate(b.right, scope);
      switch (op) {
        case '==':
        case '===':
          return looseEqual(left, right);
        case '!=':
        case '!==':
          return !looseEqual(left, right);
        case '<':
        case '<=':
        case '>':
        case '>=':
          return compare(op, left, right);
        case 'in':
          if (Array.isArray(right)) return right.some((x) => looseEqual(x, left));
          if (typeof right === 'string' && typeof left === 'string') return right.includes(left);
          return false;
        default:
          return arithmetic(op, left, right);
      }
    }
    default:
      return undefined;
  }
}

/** Truthiness as users of Django templates expect it: empty strings, lists and objects are false. */
export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Evaluates a condition (already validated at save) to true or false. */
export function evaluateCondition(source: string, scope: ConditionScope): boolean {
  return truthy(evaluate(parseCondition(source), scope));
}
