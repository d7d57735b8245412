import { ConditionSyntaxError, evaluateCondition, parseCondition } from '../../src/shared/condition';

const scope = {
  person: { email: 'ada@example.com', tags: ['vip', 'beta'], 'Loyalty ID': 'L-1', age: 36 },
  event: { value: 120.5, items: [{ name: 'Tea', price: 10 }], coupon: '', country: 'FR' },
};

describe('split conditions', () => {
  test.each([
    ['event.value > 100', true],
    ['event.value <= 100', false],
    ['event.items[0].price == 10', true],
    ['event.items.length >= 1', true],
    ['person["Loyalty ID"] == "L-1"', true],
    ['"vip" in person.tags', true],
    ['"FR" in ["FR", "DE"] and event.value > 0', true],
    ['event.country == "US" or person.age > 30', true],
    ['not event.coupon', true],
    ['!event.missing', true],
    ['event.missing == null', true],
    ['event.missing > 5', false],
    ['event.value * 2 > 200', true],
    ['(event.value > 1000 || person.age < 40) && person.email != null', true],
    ['person.email > 5', false],
  ])('%s → %s', (expr, expected) => {
    expect(evaluateCondition(expr, scope)).toBe(expected);
  });

  test.each([
    ['event.value >', /./],
    ['foo.bar == 1', /unknown name "foo"/],
    ['event.value = 1', /./],
    ['event.constructor', /may not be read/],
    ['person.__proto__', /may not be read/],
    ['event[event.key]', /constant keys/],
    ['process.exit()', /./],
    ['event.items.map(1)', /function calls/],
    ['this', /./],
    ['event.a; event.b', /single expression/],
  ])('rejects %s', (expr, message) => {
    expect(() => parseCondition(expr)).toThrow(ConditionSyntaxError);
    expect(() => parseCondition(expr)).toThrow(message);
  });

  test('never reaches prototypes or functions', () => {
    expect(evaluateCondition('event.toString', { person: {}, event: {} })).toBe(false);
    expect(evaluateCondition('event.items.length == 0', { person: {}, event: { items: [] } })).toBe(true);
  });
});
