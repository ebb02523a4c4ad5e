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
  // Writes of one event-loop turn (a delivered batch) leave as one chunk: cork, uncork on the next tick.
  let corked = false;
  const uncork = () => {
    corked = false;
    if (!res.destroyed) res.uncork();
  };
  return {
    write: (chunk) => {
      if (res.writableEnded || res.destroyed) return false;
      if (!corked) {
        corked = true;
        res.cork();
        process.nextTick(uncork);
      }
      return res.write(chunk);
    },
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
