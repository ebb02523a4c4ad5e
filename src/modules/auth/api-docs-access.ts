import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createHash } from 'node:crypto';
import passport from 'passport';
import { Principal } from '@common/auth/auth.decorators';
import { JWT_STRATEGY } from '@common/auth/jwt-auth.guard';
import { PrincipalCache } from '../users';
import { AuthService } from './auth.service';

/** How long a checked Basic credential is taken without a new argon2 verify (Swagger UI loads ~6 files at once). */
const BASIC_CACHE_MS = 60_000;
const BASIC_CACHE_MAX = 1000;

/**
 * Access to Swagger UI and the OpenAPI document when `DLS_API_DOCS=auth`: any enabled DLS user, by HTTP Basic (the
 * username and password a browser prompts for; throttled like a login) or by a Bearer access token (tools). Anything
 * else gets 401 with a Basic challenge. Swagger's routes are plain Express routes, outside the global guard, so
 * this is Express middleware that bootstrap puts in front of them.
 */
@Injectable()
export class ApiDocsAccess {
  /** sha256(Authorization header) → the user it proved and until when, re-checked against PrincipalCache. */
  private readonly basic = new Map<string, { userId: string; tokenGeneration: number; until: number }>();

  constructor(
    private readonly auth: AuthService,
    private readonly principals: PrincipalCache,
  ) {}

  middleware(): RequestHandler {
    return (req, res, next) => {
      this.allows(req, res).then(
        (ok) => (ok ? next() : challenge(res)),
        (e: unknown) => next(e),
      );
    };
  }

  private async allows(req: Request, res: Response): Promise<boolean> {
    const header = req.headers.authorization ?? '';
    if (/^Bearer\s/i.test(header)) return this.bearer(req, res);
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m) return false;
    const key = createHash('sha256').update(header).digest('hex');
    const hit = this.basic.get(key);
    if (hit && hit.until > Date.now()) {
      const state = await this.principals.get(hit.userId);
      if (state?.enabled && state.tokenGeneration === hit.tokenGeneration) return true;
    }
    this.basic.delete(key);
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) return false;
    try {
      const user = await this.auth.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1), req.ip);
      if (this.basic.size >= BASIC_CACHE_MAX) this.basic.clear();
      this.basic.set(key, { userId: user.id, tokenGeneration: user.tokenGeneration, until: Date.now() + BASIC_CACHE_MS });
      return true;
    } catch {
      return false; // INVALID_CREDENTIALS or TOO_MANY_ATTEMPTS: the challenge again
    }
  }

  /** The same passport strategy as the API's global guard (signature, expiry, enabled, token generation). */
  private bearer(req: Request, res: Response): Promise<boolean> {
    return new Promise((resolve) => {
      type Middleware = (req: Request, res: Response, next: NextFunction) => void;
      const done = (err: unknown, user: Principal | false) => resolve(!err && !!user);
      const run = passport.authenticate(JWT_STRATEGY, { session: false }, done) as Middleware;
      run(req, res, () => resolve(false));
    });
  }
}

function challenge(res: Response): void {
  res
    .status(401)
    .setHeader('WWW-Authenticate', 'Basic realm="DLS API docs", charset="UTF-8"')
    .json({ statusCode: 401, error: 'Unauthorized', code: 'TOKEN_MISSING', message: 'the API docs need a DLS login (HTTP Basic or a Bearer token)' });
}
