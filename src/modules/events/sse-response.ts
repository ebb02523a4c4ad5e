import type { Request, Response } from 'express';
import type { SseSink } from './event-subscriber';

/** After a stream is ended, a socket that will not take the last bytes is destroyed this long later. */
const END_GRACE_MS = 5_000;

/**
 * Turns an Express response into an {@link SseSink}: SSE headers, `res.write`'s own back-pressure signal, and
 * `onClose` when the client goes away.
 */
export function openSse(req: Request, res: Response, onClose: () => void): SseSink {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no'); // nginx: don't buffer the stream
  res.flushHeaders();
  req.socket.setNoDelay(true);
  res.write('retry: 2000\n\n');
  res.on('close', onClose);
  return {
    write: (chunk) => !res.writableEnded && !res.destroyed && res.write(chunk),
    onDrain: (cb) => {
      if (res.destroyed) return;
      res.once('drain', cb);
    },
    end: () => {
      if (res.writableEnded || res.destroyed) return;
      res.end();
      setTimeout(() => res.destroy(), END_GRACE_MS).unref();
    },
  };
}
