/** The rows of an UPDATE … RETURNING run through `DataSource.query` (TypeORM's postgres driver answers UPDATE and DELETE with [rows, count]). */
export function updatedRows<T>(result: unknown): T[] {
  const r = result as unknown[];
  return (Array.isArray(r[0]) ? r[0] : r) as T[];
}
