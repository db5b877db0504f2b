import type { FastifyInstance } from 'fastify';
import { ApprovalError, type ApprovalService } from '../policy/approvals.js';
import { parseDuration } from '../policy/policy.js';
import type { ApprovalRequest, ApprovalStatus, Store } from '../store/store.js';

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'expired', 'cancelled'];
/** The longest just-in-time window an approver may grant. */
const MAX_WINDOW_MS = 24 * 3_600_000;

/**
 * Approvals API: list, get, approve (optionally with a window), deny with a reason, and a live
 * stream (server-sent events) fed by the store's change feed, so it shows decisions made through
 * any gateway replica.
 */
export function registerApprovalRoutes(app: FastifyInstance, approvals: ApprovalService, store: Store): void {
  app.get<{ Querystring: { status?: string; limit?: string } }>('/v1/approvals', async (req, reply) => {
    const status = req.query.status ?? 'pending';
    if (status !== 'all' && !STATUSES.includes(status as ApprovalStatus)) {
      return reply.code(400).send({ error: { code: 'HOOP_BAD_REQUEST', message: `status must be one of ${STATUSES.join(', ')}, all` } });
    }
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
    const requests = await store.listApprovalRequests({ ...(status === 'all' ? {} : { status: status as ApprovalStatus }), limit });
    return { requests };
  });

  app.get<{ Params: { id: string } }>('/v1/approvals/:id', async (req, reply) => {
    const request = await store.getApprovalRequest(req.params.id);
    if (!request) return reply.code(404).send({ error: { code: 'HOOP_NOT_FOUND', message: `no approval request ${req.params.id}` } });
    return { request };
  });

  const vote = async (
    id: string,
    decision: 'approve' | 'deny',
    body: { window?: string; reason?: string } | undefined,
    req: { identity?: import('../auth/identity.js').Identity },
    reply: import('fastify').FastifyReply,
  ): Promise<unknown> => {
    let windowMs: number | undefined;
    if (body?.window !== undefined) {
      try {
        windowMs = parseDuration(body.window);
      } catch (err) {
        return reply.code(400).send({ error: { code: 'HOOP_BAD_REQUEST', message: (err as Error).message } });
      }
      if (windowMs > MAX_WINDOW_MS) return reply.code(400).send({ error: { code: 'HOOP_BAD_REQUEST', message: 'a window can be at most 24h' } });
    }
    try {
      const request = await approvals.vote(req.identity!, id, decision, {
        ...(body?.reason ? { reason: String(body.reason).slice(0, 1000) } : {}),
        ...(windowMs ? { windowMs } : {}),
      });
      return { request };
    } catch (err) {
      if (err instanceof ApprovalError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
      throw err;
    }
  };

  app.post<{ Params: { id: string }; Body: { window?: string } | undefined }>('/v1/approvals/:id/approve', async (req, reply) => vote(req.params.id, 'approve', req.body, req, reply));
  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>('/v1/approvals/:id/deny', async (req, reply) => vote(req.params.id, 'deny', req.body, req, reply));

  app.get('/v1/approvals/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const onChange = (request: ApprovalRequest): void => send('change', { request });
    void store.listApprovalRequests({ status: 'pending', limit: 1000 }).then((requests) => send('snapshot', { requests }));
    approvals.on('change', onChange);
    // Comments keep proxies from closing an idle stream.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      approvals.off('change', onChange);
    });
  });
}
