/**
 * Control characters in API input. PostgreSQL cannot store U+0000 in `text` or `jsonb` (it answers "invalid byte
 * sequence … 0x00" or "unsupported Unicode escape sequence"), and the other C0 controls have no business in names,
 * paths or boot parameters (terminal escapes in logs, truncation in C tools). Pure: no Nest, no TypeORM.
 */

/** C0 controls except TAB, LF and CR (free text such as descriptions may span lines), plus DEL. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const FORBIDDEN_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** One offending string: the path of the field (`name`, `tags.2`, `networkConfig.a.b`, `3.hostname`) and why. */
export interface ControlCharacterProblem {
  field: string;
  message: string;
}

/** How many problems one walk reports (a huge bad body answers with the first few, not thousands of lines). */
const MAX_PROBLEMS = 20;

/**
 * Every string (and every object key) inside `value` that holds a forbidden control character, with its path. Walks
 * plain objects and arrays without recursion (a deeply nested body cannot overflow the stack); other objects
 * (Buffers, streams) are left alone. `root` prefixes the paths (a named `@Body('x')` or `@Param('mac')`).
 */
export function findControlCharacters(value: unknown, root = ''): ControlCharacterProblem[] {
  const problems: ControlCharacterProblem[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length && problems.length < MAX_PROBLEMS) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      const m = FORBIDDEN_CONTROL.exec(v);
      if (m)
        problems.push({ field: path || '(value)', message: `${path || 'value'} must not contain control characters (found ${codePoint(m[0])})` });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], join(path, String(i))]);
    } else if (isPlainObject(v)) {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        const m = FORBIDDEN_CONTROL.exec(key);
        if (m) {
          const field = join(path, JSON.stringify(key));
          problems.push({ field, message: `${field}: a property name must not contain control characters (found ${codePoint(m[0])})` });
        } else {
          stack.push([v[key], join(path, key)]);
        }
      }
    }
  }
  return problems.sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function codePoint(ch: string): string {
  return `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
