/** Deepest nesting a JSON request body may have. DLS's DTOs nest two levels; 32 leaves room for free-form fields. */
export const MAX_JSON_DEPTH = 32;

/**
 * Keys no JSON body may carry at any depth: `constructor` crashes class-transformer (it reads `value.constructor` as
 * the value's class: a 500), and `__proto__`/`prototype` are prototype-pollution probes no DTO field is named.
 */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Why a parsed JSON body is refused before validation, or undefined when it is fine: nested deeper than `max` levels
 * (a scalar is depth 0, `[]` and `{}` depth 1), or carrying a {@link FORBIDDEN_JSON_KEYS} key. Iterative, so it
 * never overflows the stack on the very input it guards against: JSON.parse accepts bodies nested thousands deep,
 * and class-transformer and class-validator recurse into them until "Maximum call stack size exceeded".
 */
export function jsonBodyProblem(value: unknown, max: number = MAX_JSON_DEPTH): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, at] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return `nested deeper than ${max} levels`;
    if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push([child, depth + 1, `${at}[${i}]`]));
      continue;
    }
    for (const k of Object.keys(v)) {
      const path = at ? `${at}.${k}` : k;
      if (FORBIDDEN_JSON_KEYS.has(k)) return `key ${path} is not allowed`;
      stack.push([(v as Record<string, unknown>)[k], depth + 1, path]);
    }
  }
  return undefined;
}
