import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { contractProblems, ERROR_SCHEMA, OpenApiDoc, operationsOf } from '../contract/openapi-contract';
import { createTestApp, TestApp } from '../support/test-app';

jest.setTimeout(240_000);

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const USAGE = path.join(ROOT, 'test/contract/__fixtures__/client-usage.ts');

/**
 * Error responses documented with another body than the global error filter's, and why. Each must still exist
 * (the checker reports an entry that matches nothing).
 */
const ALLOWED: Record<string, string> = {
  'GET /api/v1/health/ready 503': "terminus' readiness result, the same shape as the 200 (which part is down), for load balancers and probes",
};

/**
 * The API contract (test/contract/openapi-contract.ts) over the live `/docs-json`, and a typed client generated from
 * it: openapi-typescript writes the types into a temp dir and `tsc --noEmit` checks a small program using them with
 * openapi-fetch (test/contract/__fixtures__/client-usage.ts), so a renamed field or route breaks this test.
 */
describe('API contract (e2e)', () => {
  let t: TestApp;
  let doc: OpenApiDoc;
  let tmp: string;

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http.get('/docs-json').expect(200)).body as OpenApiDoc;
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'dls-contract-'));
  });
  afterAll(async () => {
    await t?.close();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('the checker finds what it is there to find (sanity check of the walk itself)', () => {
    const bad: OpenApiDoc = {
      paths: {
        '/things/{id}': {
          get: { security: [{ bearer: [] }], parameters: [{ name: 'id', in: 'path' }], responses: { '200': { description: '' } } },
          patch: {
            summary: 'change a thing',
            parameters: [{ name: 'id', in: 'path' }],
            requestBody: {},
            responses: {
              '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
              '400': { content: { 'application/json': { schema: { type: 'object' } } } },
              '404': { content: { 'text/plain': { schema: { type: 'string' } } } },
            },
          },
        },
      },
      components: { schemas: {} },
    };
    expect(contractProblems(bad, { 'DELETE /gone 500': 'stale' })).toEqual([
      '$ref #/components/schemas/Thing resolves to nothing',
      'GET /things/{id}: 200 has no content (a body needs a schema or a content type; no body: 204)',
      'GET /things/{id}: GET of an editable record documents no ETag header on its 200',
      'GET /things/{id}: has a record id in its path but documents no 404',
      'GET /things/{id}: needs a token but documents no 401',
      'GET /things/{id}: needs a token but documents no 403',
      'GET /things/{id}: no summary',
      'GET /things/{id}: takes input (body, query or path parameters) but documents no 400',
      'PATCH /things/{id}: 400 application/json is not ApiErrorResponse',
      'PATCH /things/{id}: 404 is documented as text/plain: the global error filter answers application/json (ApiErrorResponse)',
      'PATCH /things/{id}: PATCH documents no 412 (If-Match does not match)',
      'PATCH /things/{id}: PATCH documents no ETag header on its success',
      'PATCH /things/{id}: PATCH documents no If-Match header',
      'allowed exception "DELETE /gone 500" matches no documented error response',
      `components.schemas: no ${ERROR_SCHEMA} (the global error body)`,
    ]);
  });

  it('every operation in /docs-json meets the contract (summary, success schema, error schema, If-Match/ETag)', () => {
    const ops = operationsOf(doc);
    // The walk sees the API, the boot routes and the Swagger-documented error body.
    expect(ops.length).toBeGreaterThan(50);
    expect(ops.map((o) => o.key)).toEqual(expect.arrayContaining(['PATCH /api/v1/clients/{id}', 'GET /boot/{mac}.ipxe']));
    expect(doc.components?.schemas?.[ERROR_SCHEMA]).toBeDefined();
    expect(contractProblems(doc, ALLOWED)).toEqual([]);
  });

  /** openapi-typescript's types for `spec`, then `tsc --noEmit` over the usage program; tsc's output on failure. */
  async function typecheckAgainst(spec: OpenApiDoc, dir: string): Promise<{ ok: boolean; output: string }> {
    await fs.mkdir(dir, { recursive: true });
    const specFile = path.join(dir, 'docs.json');
    const typesFile = path.join(dir, 'dls-api.ts');
    await fs.writeFile(specFile, JSON.stringify(spec));
    // --default-non-nullable false: a property with a default stays optional (PATCH bodies are shared schemas).
    await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), specFile, '--output', typesFile, '--default-non-nullable', 'false'],
      { cwd: ROOT },
    );
    const tsconfig = path.join(dir, 'tsconfig.json');
    await fs.writeFile(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          module: 'ESNext',
          moduleResolution: 'Bundler',
          skipLibCheck: true,
          types: [],
          paths: { 'dls-api': [typesFile] },
        },
        files: [USAGE],
      }),
    );
    try {
      await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--pretty', 'false'], { cwd: ROOT });
      return { ok: true, output: '' };
    } catch (e) {
      const x = e as { stdout?: string; stderr?: string; message: string };
      return { ok: false, output: `${x.stdout ?? ''}${x.stderr ?? ''}` || x.message };
    }
  }

  it('a client generated from /docs-json (openapi-typescript) type-checks a program that lists clients and patches one with If-Match', async () => {
    const r = await typecheckAgainst(doc, path.join(tmp, 'current'));
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('the same program stops compiling when the spec drifts (a field renamed, the If-Match header dropped)', async () => {
    const drifted = JSON.parse(JSON.stringify(doc)) as OpenApiDoc & {
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const client = drifted.components.schemas.ClientResponseDto;
    client.properties.hostName = client.properties.hostname;
    delete client.properties.hostname;
    client.required = client.required?.map((k) => (k === 'hostname' ? 'hostName' : k));
    const patch = drifted.paths['/api/v1/clients/{id}'].patch as { parameters: { name: string }[] };
    patch.parameters = patch.parameters.filter((p) => p.name !== 'If-Match');

    const r = await typecheckAgainst(drifted, path.join(tmp, 'drifted'));
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/client-usage\.ts.*'hostname' does not exist/);
    expect(r.output).toMatch(/client-usage\.ts.*'If-Match'/);
  });
});
