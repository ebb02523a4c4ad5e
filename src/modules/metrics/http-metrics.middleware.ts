import type { NextFunction, Request, Response } from 'express';
import { DlsMetrics } from './dls-metrics';

/**
 * Times every request on the API port into `dls_http_request_duration_seconds`. The route label is Express's matched
 * pattern (`/api/v1/clients/:id`), never the raw URL, so the label set stays bounded; unmatched paths are `unmatched`.
 */
export function httpMetricsMiddleware(metrics: DlsMetrics): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      const route = (req.route as { path?: unknown } | undefined)?.path;
      end({ method: req.method, route: typeof route === 'string' ? `${req.baseUrl}${route}` : 'unmatched', status: String(res.statusCode) });
    });
    next();
  };
}
