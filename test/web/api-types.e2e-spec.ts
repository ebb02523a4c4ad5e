import { readFileSync } from 'node:fs';
import { API_TYPES_FILE, apiTypesFor } from '../../scripts/web-api-types';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(240_000);

/** The dashboard's API types (web/src/api/schema.d.ts) are what the live /docs-json generates: the UI can't drift. */
describe('dashboard API types (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  it('web/src/api/schema.d.ts is current (else run `npm run api:gen` and commit it)', async () => {
    const doc = (await t.http.get('/docs-json').expect(200)).body as unknown;
    const expected = await apiTypesFor(doc);
    const actual = readFileSync(API_TYPES_FILE, 'utf8');
    if (actual !== expected) {
      const a = actual.split('\n');
      const e = expected.split('\n');
      const line = e.findIndex((l, i) => l !== a[i]);
      throw new Error(
        `web/src/api/schema.d.ts is stale: run \`npm run api:gen\` and commit it. First difference at line ${line + 1}:\n` +
          `  checked in: ${a[line] ?? '<end of file>'}\n  generated:  ${e[line] ?? '<end of file>'}`,
      );
    }
  });
});
