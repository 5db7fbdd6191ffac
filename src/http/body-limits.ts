import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Past this, an oversized body is not read to the end: the connection is just closed. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * A client sending a body over MAX_BODY_BYTES gets its 413 JSON answer, readable: fastify answers
 * as soon as the limit is passed and closes the connection while the client is still writing,
 * which the client sees as EPIPE or a reset, never the answer. (The same holds for any refusal
 * sent before the body was read, e.g. an empty JSON body, whose final chunk is still coming.) So the rest of the body is read
 * and thrown away first — up to a bound (64 MB, or 16× the limit if that is more) and within
 * the request deadline.
 */
export function answerOversizedBodies(app: FastifyInstance, limit: number, deadlineMs: number): void {
  app.addHook('onSend', async (req, reply) => {
    // Any refusal sent before the body was read (413, a content-type or JSON error, a 401 on
    // routes that check the key first) closes the connection: read the rest first, bounded.
    if (reply.statusCode < 400 || req.raw.readableEnded) return;
    await drain(req, reply.statusCode === 413 ? Math.max(limit * 16, MAX_DRAIN_BYTES) : limit, deadlineMs);
  });
}

function drain(req: FastifyRequest, maxBytes: number, deadlineMs: number): Promise<void> {
  const raw = req.raw;
  const declared = Number(req.headers['content-length']);
  if (raw.readableEnded || raw.destroyed || (Number.isFinite(declared) && declared > maxBytes)) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('error', finish);
      raw.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish();
    };
    const timer = setTimeout(finish, deadlineMs);
    raw.on('data', onData);
    raw.on('end', finish);
    raw.on('error', finish);
    raw.on('close', finish);
    raw.resume();
  });
}
