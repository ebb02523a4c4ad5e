import { Controller, Get, INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { Test } from '@nestjs/testing';
import { Strategy } from 'passport-jwt';
import request from 'supertest';
import { Auth, CurrentUser, Principal, Public } from '@common/auth/auth.decorators';
import { JwtAuthGuard } from '@common/auth/jwt-auth.guard';
import { Role } from '@common/auth/role';
import { DomainErrorFilter } from '@common/errors/domain-error.filter';
import { PrincipalCache } from '../users';
import { JWT_ISSUER, JWT_SECRET } from './jwt-secret.module';
import { JwtStrategy } from './jwt.strategy';

const SECRET = 'unit-test-secret-0123456789abcdef0123456789';

@Controller('t')
class TestController {
  @Public()
  @Get('public')
  open() {
    return { ok: true };
  }

  @Get('bare')
  bare() {
    return { ok: true };
  }

  @Auth(Role.Operator)
  @Get('operator')
  operator(@CurrentUser() user: Principal) {
    return user;
  }
}

describe('JwtAuthGuard + JwtStrategy', () => {
  let app: INestApplication;
  let jwt: JwtService;
  const users = new Map<string, { enabled: boolean; role: Role; username: string; tokenGeneration: number }>();
  const verifier = jest.spyOn(Strategy as unknown as { JwtVerifier: (...a: unknown[]) => void }, 'JwtVerifier');

  const get = (path: string, token?: string) => {
    const r = request(app.getHttpServer()).get(path);
    return token === undefined ? r : r.set('Authorization', `Bearer ${token}`);
  };
  const tokenFor = (sub: string, role = Role.Operator, extra: object = {}) =>
    jwt.signAsync({ sub, username: `name-${sub}`, role, typ: 'access', gen: 0, ...extra });

  beforeAll(async () => {
    const mod = await Test.createTestingModule({
      imports: [
        PassportModule,
        JwtModule.register({ secret: SECRET, signOptions: { expiresIn: 60, issuer: JWT_ISSUER }, verifyOptions: { issuer: JWT_ISSUER } }),
      ],
      controllers: [TestController],
      providers: [
        JwtStrategy,
        { provide: JWT_SECRET, useValue: SECRET },
        { provide: PrincipalCache, useValue: { get: async (id: string) => users.get(id) ?? null } },
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
      ],
    }).compile();
    app = mod.createNestApplication({ logger: false });
    await app.init();
    jwt = app.get(JwtService);
  });
  afterAll(() => app?.close());
  beforeEach(() => {
    users.clear();
    verifier.mockClear();
  });

  const expectError = async (res: request.Test, status: number, code: string) => {
    const r = await res;
    expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
  };

  it('lets a @Public() route through without a token', async () => {
    await get('/t/public').expect(200, { ok: true });
  });

  it('refuses a route without @Auth(role) even with a good token: 403 ROUTE_NOT_ANNOTATED', async () => {
    users.set('u1', { enabled: true, role: Role.Admin, username: 'name-u1', tokenGeneration: 0 });
    await expectError(get('/t/bare', await tokenFor('u1', Role.Admin)), 403, 'ROUTE_NOT_ANNOTATED');
  });

  it('answers 401 TOKEN_MISSING without a Bearer token', async () => {
    await expectError(get('/t/operator'), 401, 'TOKEN_MISSING');
    await expectError(request(app.getHttpServer()).get('/t/operator').set('Authorization', 'Basic abc'), 401, 'TOKEN_MISSING');
  });

  it('answers 401 TOKEN_INVALID for a bad signature, an expired token, another issuer or a non-access token', async () => {
    users.set('u1', { enabled: true, role: Role.Admin, username: 'name-u1', tokenGeneration: 0 });
    const good = await tokenFor('u1');
    await expectError(get('/t/operator', good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA')), 401, 'TOKEN_INVALID');
    await expectError(get('/t/operator', 'not-a-jwt'), 401, 'TOKEN_INVALID');
    const expired = await tokenFor('u1', Role.Admin, { iat: Math.floor(Date.now() / 1000) - 120 }); // exp = iat + 60 s
    await expectError(get('/t/operator', expired), 401, 'TOKEN_INVALID');
    await expectError(get('/t/operator', await jwt.signAsync({ sub: 'u1', typ: 'access' }, { issuer: 'someone-else' })), 401, 'TOKEN_INVALID');
    await expectError(get('/t/operator', await tokenFor('u1', Role.Admin, { typ: 'refresh' })), 401, 'TOKEN_INVALID');
  });

  it('answers 401 USER_DISABLED for a disabled or deleted user', async () => {
    users.set('u1', { enabled: false, role: Role.Admin, username: 'name-u1', tokenGeneration: 0 });
    await expectError(get('/t/operator', await tokenFor('u1', Role.Admin)), 401, 'USER_DISABLED');
    await expectError(get('/t/operator', await tokenFor('gone', Role.Admin)), 401, 'USER_DISABLED');
  });

  it('answers 401 TOKEN_REVOKED once the user’s token generation has moved on, also for a cached token', async () => {
    users.set('u3', { enabled: true, role: Role.Operator, username: 'name-u3', tokenGeneration: 0 });
    const token = await tokenFor('u3');
    await get('/t/operator', token).expect(200);
    users.set('u3', { enabled: true, role: Role.Operator, username: 'name-u3', tokenGeneration: 1 });
    await expectError(get('/t/operator', token), 401, 'TOKEN_REVOKED');
    await get('/t/operator', await tokenFor('u3', Role.Operator, { gen: 1 })).expect(200);
  });

  it('takes a token without a generation (signed before they existed) as generation 0', async () => {
    users.set('u4', { enabled: true, role: Role.Operator, username: 'name-u4', tokenGeneration: 0 });
    await get('/t/operator', await tokenFor('u4', Role.Operator, { gen: undefined })).expect(200);
    users.set('u4', { enabled: true, role: Role.Operator, username: 'name-u4', tokenGeneration: 1 });
    await expectError(get('/t/operator', await tokenFor('u4', Role.Operator, { gen: undefined })), 401, 'TOKEN_REVOKED');
  });

  it('answers 403 ROLE_TOO_LOW by the current role, not the one in the token', async () => {
    users.set('u1', { enabled: true, role: Role.Viewer, username: 'name-u1', tokenGeneration: 0 });
    await expectError(get('/t/operator', await tokenFor('u1', Role.Admin)), 403, 'ROLE_TOO_LOW');
  });

  it('puts the current principal on the request', async () => {
    users.set('u1', { enabled: true, role: Role.Admin, username: 'renamed', tokenGeneration: 0 });
    await get('/t/operator', await tokenFor('u1', Role.Operator)).expect(200, { id: 'u1', username: 'renamed', role: 'admin' });
  });

  it('verifies a token once, then serves it from the cache while still checking the user each time', async () => {
    users.set('u2', { enabled: true, role: Role.Operator, username: 'name-u2', tokenGeneration: 0 });
    const token = await tokenFor('u2');
    await get('/t/operator', token).expect(200);
    await get('/t/operator', token).expect(200);
    await get('/t/operator', token).expect(200);
    expect(verifier).toHaveBeenCalledTimes(1);
    users.set('u2', { enabled: false, role: Role.Operator, username: 'name-u2', tokenGeneration: 0 });
    await expectError(get('/t/operator', token), 401, 'USER_DISABLED');
    users.set('u2', { enabled: true, role: Role.Viewer, username: 'name-u2', tokenGeneration: 0 });
    await expectError(get('/t/operator', token), 403, 'ROLE_TOO_LOW');
    expect(verifier).toHaveBeenCalledTimes(1);
  });
});
