import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { IS_PUBLIC_KEY, ROLES_KEY } from '../../src/common/auth/auth.decorators';
import { Role } from '../../src/common/auth/role';
import { createTestApp, TestApp } from '../support/test-app';

// jest.config's per-project testTimeout is not applied by Jest 30 (global-only option).
jest.setTimeout(120_000);

/**
 * Guard rail for every controller anyone adds: each route must be `@Public()` or carry `@Auth(role)`, and every
 * non-public route must answer 401 to an anonymous call. Also checks that no route reaches Express outside Nest's
 * controllers (those would bypass the global guard), except the allow-listed Swagger UI.
 */

/** Routes registered straight on Express (not through a Nest controller) that are allowed: Swagger UI/JSON. */
const RAW_EXPRESS_ALLOWED = [/^\/docs(\/|-json|-yaml|$)/];

interface RouteInfo {
  method: string;
  path: string;
  controller: string;
  handler: string;
  isPublic: boolean;
  minRole: Role | undefined;
}

const join = (...parts: string[]) =>
  (
    '/' +
    parts
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/')
  ).replace(/\/+/g, '/');
const asArray = (p: unknown): string[] => (Array.isArray(p) ? p : [p ?? '/']) as string[];

/** Every route of every controller in the app, with its access metadata (handler wins over class, like the guard). */
function discoverRoutes(t: TestApp): RouteInfo[] {
  const reflector = new Reflector();
  const scanner = new MetadataScanner();
  const routes: RouteInfo[] = [];
  const seen = new Set<unknown>();
  for (const mod of t.app.get(ModulesContainer).values()) {
    for (const wrapper of mod.controllers.values()) {
      const cls = wrapper.metatype as (new (...a: unknown[]) => unknown) | undefined;
      if (!cls || seen.has(cls)) continue;
      seen.add(cls);
      for (const name of scanner.getAllMethodNames(cls.prototype)) {
        const handler = cls.prototype[name];
        const paths = Reflect.getMetadata(PATH_METADATA, handler);
        if (paths === undefined) continue; // not a route handler
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        for (const base of asArray(Reflect.getMetadata(PATH_METADATA, cls))) {
          for (const p of asArray(paths)) {
            routes.push({
              method,
              path: join(base, p),
              controller: cls.name,
              handler: name,
              isPublic: reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, cls]) === true,
              minRole: reflector.getAllAndOverride<Role | undefined>(ROLES_KEY, [handler, cls]),
            });
          }
        }
      }
    }
  }
  return routes;
}

/** Routes Express actually holds (method + path), from the application router's stack. */
function expressRoutes(t: TestApp): { method: string; path: string }[] {
  type Layer = { route?: { path: string | string[]; methods: Record<string, boolean> } };
  const instance = t.app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
  const stack = (instance.router ?? instance._router)?.stack ?? []; // Express 5: .router; Express 4: ._router
  const out: { method: string; path: string }[] = [];
  for (const layer of stack) {
    if (!layer.route) continue;
    for (const path of asArray(layer.route.path)) {
      for (const [m, on] of Object.entries(layer.route.methods)) if (on) out.push({ method: m === '_all' ? 'ALL' : m.toUpperCase(), path });
    }
  }
  return out;
}

/** A concrete URL for a route pattern: params become a UUID, wildcards a literal segment, optional groups dropped. */
function concrete(path: string): string {
  return path
    .replace(/\{[^}]*\}/g, '') // Express 5 optional groups
    .replace(/\*\w*/g, 'x')
    .replace(/:\w+/g, randomUUID());
}

describe('route inventory (e2e)', () => {
  let t: TestApp;
  let routes: RouteInfo[];

  beforeAll(async () => {
    t = await createTestApp();
    routes = discoverRoutes(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('finds the routes (sanity check of the walk itself)', () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(keys).toEqual(
      expect.arrayContaining(['POST /api/v1/auth/login', 'GET /api/v1/users', 'DELETE /api/v1/users/:id', 'GET /api/v1/health/live']),
    );
  });

  it('every route is @Public() or carries @Auth(role) with a known role', () => {
    const bad = routes.filter((r) => !r.isPublic && !(r.minRole && Object.values(Role).includes(r.minRole)));
    expect(bad.map((r) => `${r.method} ${r.path} (${r.controller}.${r.handler})`)).toEqual([]);
  });

  it('every non-public route answers 401 to an anonymous request', async () => {
    const failures: string[] = [];
    for (const r of routes.filter((x) => !x.isPublic)) {
      const method = (r.method === 'ALL' ? 'GET' : r.method).toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';
      const res = await t.http[method](concrete(r.path)).send(method === 'get' || method === 'head' ? undefined : {});
      if (res.status !== 401) failures.push(`${r.method} ${r.path} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('no route reaches Express outside a Nest controller (it would bypass the guard), except Swagger', () => {
    const known = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const stray = expressRoutes(t)
      .filter((r) => !known.has(`${r.method} ${r.path}`) && !(r.method === 'HEAD' && known.has(`GET ${r.path}`)))
      .filter((r) => !RAW_EXPRESS_ALLOWED.some((re) => re.test(r.path)))
      .map((r) => `${r.method} ${r.path}`);
    expect(stray).toEqual([]);
    // the walk of Express's stack sees real routes, Nest's and Swagger's alike
    const raw = expressRoutes(t).map((r) => `${r.method} ${r.path}`);
    expect(raw).toEqual(expect.arrayContaining(['POST /api/v1/auth/login', 'GET /api/v1/users/:id']));
    expect(raw.some((k) => RAW_EXPRESS_ALLOWED.some((re) => re.test(k.split(' ')[1])))).toBe(true);
  });
});
