/**
 * Stand-in for the generated module `dls-api` while the repository itself is type-checked or linted: the real one is
 * openapi-typescript's output for the live `/docs-json`, written to a temp dir by test/e2e/api-contract.e2e-spec.ts,
 * whose own `tsc` run maps `dls-api` there and leaves this file out.
 */
declare module 'dls-api' {
  export type paths = any;
  export type components = any;
}
