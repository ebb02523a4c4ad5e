import { jsonBodyProblem } from './json-body';

const nested = (depth: number, asArray: boolean): unknown =>
  JSON.parse((asArray ? '[' : '{"a":').repeat(depth) + '1' + (asArray ? ']' : '}').repeat(depth));

describe('jsonBodyProblem', () => {
  it('counts scalars as depth 0 and each array/object level as one', () => {
    expect(jsonBodyProblem(1, 0)).toBeUndefined();
    expect(jsonBodyProblem('x', 0)).toBeUndefined();
    expect(jsonBodyProblem(null, 0)).toBeUndefined();
    expect(jsonBodyProblem({}, 0)).toBe('nested deeper than 0 levels');
    expect(jsonBodyProblem({}, 1)).toBeUndefined();
    expect(jsonBodyProblem({ a: [1] }, 1)).toBe('nested deeper than 1 levels');
    expect(jsonBodyProblem({ a: [1] }, 2)).toBeUndefined();
  });

  it.each([true, false])('accepts 32 levels and refuses 33 (arrays: %s)', (asArray) => {
    expect(jsonBodyProblem(nested(32, asArray))).toBeUndefined();
    expect(jsonBodyProblem(nested(33, asArray))).toBe('nested deeper than 32 levels');
  });

  it('walks 100 000 levels without overflowing the stack', () => {
    expect(jsonBodyProblem(nested(100_000, true))).toBe('nested deeper than 32 levels');
  });

  it('finds a deep branch beside shallow ones', () => {
    expect(jsonBodyProblem({ a: 1, b: [2, 3], c: { d: nested(40, false) } })).toBe('nested deeper than 32 levels');
  });

  it.each([
    ['{"constructor":1}', 'key constructor is not allowed'],
    ['{"cpuCores":{"constructor":1}}', 'key cpuCores.constructor is not allowed'],
    ['[{"a":1},{"b":{"__proto__":{"isAdmin":true}}}]', 'key [1].b.__proto__ is not allowed'],
    ['{"x":[{"prototype":null}]}', 'key x[0].prototype is not allowed'],
  ])('refuses prototype keys at any depth: %s', (json, problem) => {
    expect(jsonBodyProblem(JSON.parse(json))).toBe(problem);
  });

  it('accepts ordinary bodies, including values that merely say "constructor"', () => {
    expect(jsonBodyProblem({ name: 'constructor', tags: ['__proto__'], networkConfig: { vlan: 10 } })).toBeUndefined();
  });
});
