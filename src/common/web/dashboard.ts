import * as fs from 'node:fs';
import * as path from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

/**
 * Paths the dashboard never answers: the API, the boot plane and the API docs keep their own 404s, and `/metrics`
 * (served on DLS_METRICS_ADDRESS, not here) stays a 404 for a scraper pointed at the wrong port.
 */
const NOT_DASHBOARD = /^\/(api|boot|docs|metrics)(\/|-json|-yaml|$)/;

/** Where `npm run build` puts the dashboard: <package root>/dist/web (from src/ under ts-node or dist/src/ when built). */
export function defaultWebDir(from = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist/web');
}

/**
 * Serves the web dashboard (a single-page app) at `/`: its hashed assets with a year's caching, and index.html for
 * any other GET outside /api, /boot, /docs and /metrics (the app's own routes, e.g. /clients/…). Requests under those prefixes
 * pass straight through, untouched: no file-system lookup on the boot or API paths. Without a built dashboard, `/`
 * says how to build it.
 */
export function dashboardMiddleware(webDir = defaultWebDir()): RequestHandler {
  const index = path.join(webDir, 'index.html');
  const assets = express.static(webDir, {
    index: false,
    redirect: false,
    setHeaders: (res, file) => {
      const hashed = file.startsWith(path.join(webDir, 'assets') + path.sep);
      res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const sendIndex = (res: Response, next: NextFunction) => {
    if (!fs.existsSync(index)) {
      res.status(404).type('text/plain').send('The DLS dashboard is not built: run `npm run build` (the API is at /api/v1, its docs at /docs).\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index, (err) => err && next(err));
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_DASHBOARD.test(req.path)) return next();
    assets(req, res, () => {
      // A missing asset is a 404, not the app (a stale tab asking for an old chunk should fail loudly).
      if (req.path.startsWith('/assets/') || path.extname(req.path)) return next();
      sendIndex(res, next);
    });
  };
}
