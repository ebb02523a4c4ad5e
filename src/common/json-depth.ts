/** Deepest nesting a JSON request body may have. DLS's DTOs nest two levels; 32 leaves room for free-form fields. */
export const MAX_JSON_DEPTH = 32;

/**
 * True when `value` nests arrays/objects deeper than `max` levels (a scalar is depth 0, `[]` and `{}` depth 1).
 * Iterative, so it never overflows the stack on the very input it guards against: JSON.parse accepts bodies nested
 * thousands deep, and class-transformer and class-validator recurse into them until "Maximum call stack size exceeded".
 */
export function jsonDepthExceeds(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
