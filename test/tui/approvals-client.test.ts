import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../src/store/store.js';
import { ApprovalsApiError, HttpApprovalsClient, SseParser } from '../../src/tui/approvals-client.js';
import { request } from './fixtures.js';

describe('SseParser', () => {
  it('reassembles events cut anywhere, skipping comments', () => {
    const text = ': keep-alive\n\nevent: snapshot\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: change\ndata:{"b":2}\n\n';
    // Every possible cut point, including between \r and \n.
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events).toEqual([
        { event: 'snapshot', data: '{"a":\n1}' },
        { event: 'change', data: '{"b":2}' },
      ]);
    }
  });

  it('dispatches nothing for an event without data and defaults the type to message', () => {
    const p = new SseParser();
    expect(p.push('event: x\n\ndata: y\n\n')).toEqual([{ event: 'message', data: 'y' }]);
  });
});

/** A stub of the gateway's approvals routes; each test sets how it answers. */
let server: http.Server | undefined;
async function gateway(handler: http.RequestListener): Promise<{ url: string; seen: { method: string; url: string; auth: string; body: string }[] }> {
  const seen: { method: string; url: string; auth: string; body: string }[] = [];
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? '', body });
      handler(req, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

const auth = (url: string) => ({ gateway: url, token: async () => 'tok_1' });

describe('HttpApprovalsClient', () => {
  it('sends votes with the bearer token and returns the request', async () => {
    const r = request({ id: 'ar_1', status: 'approved' });
    const { url, seen } = await gateway((_req, res) => res.end(JSON.stringify({ request: r })));
    const client = new HttpApprovalsClient(auth(url));
    expect(await client.approve('ar_1', '15m')).toEqual(r);
    await client.deny('ar_1', 'not now');
    expect(seen).toEqual([
      { method: 'POST', url: '/v1/approvals/ar_1/approve', auth: 'Bearer tok_1', body: '{"window":"15m"}' },
      { method: 'POST', url: '/v1/approvals/ar_1/deny', auth: 'Bearer tok_1', body: '{"reason":"not now"}' },
    ]);
  });

  it("turns the gateway's error body into the error message", async () => {
    const { url } = await gateway((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'HOOP_SELF_APPROVAL', message: 'you cannot approve your own request ar_1: another approver must' } }));
    });
    const err = await new HttpApprovalsClient(auth(url)).approve('ar_1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalsApiError);
    expect(err).toMatchObject({ status: 403, code: 'HOOP_SELF_APPROVAL', message: 'you cannot approve your own request ar_1: another approver must' });
  });

  it('says when the gateway cannot be reached', async () => {
    const { url } = await gateway(() => {});
    await new Promise((r) => server!.close(r)); // nothing listens there now
    const err = await new HttpApprovalsClient(auth(url)).list().catch((e: unknown) => e);
    expect((err as Error).message).toBe(`cannot reach the gateway at ${url}: ECONNREFUSED`);
  });

  it('follows the stream and reconnects with a fresh snapshot when it drops', async () => {
    const a = request({ id: 'ar_a' });
    const b = request({ id: 'ar_b' });
    let connections = 0;
    const { url } = await gateway((_req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connections === 1) {
        // The first connection sends a snapshot and a change split mid-line, then dies.
        res.write(`event: snapshot\ndata: ${JSON.stringify({ requests: [a] })}\n\n: keep-alive\n\nevent: ch`);
        setTimeout(() => res.end(`ange\ndata: ${JSON.stringify({ request: b })}\n\n`), 20);
      } else {
        res.write(`event: snapshot\ndata: ${JSON.stringify({ requests: [a, b] })}\n\n`);
      }
    });
    const snapshots: string[][] = [];
    const changes: string[] = [];
    const drops: string[] = [];
    const abort = new AbortController();
    const done = new HttpApprovalsClient(auth(url), { backoffMs: 10 }).stream(
      (rs: ApprovalRequest[]) => {
        snapshots.push(rs.map((r) => r.id));
        if (snapshots.length === 2) abort.abort();
      },
      (r) => changes.push(r.id),
      abort.signal,
      (reason) => drops.push(reason),
    );
    await done;
    expect(snapshots).toEqual([['ar_a'], ['ar_a', 'ar_b']]);
    expect(changes).toEqual(['ar_b']);
    expect(drops).toEqual(['the gateway closed the stream']);
  });

  it('treats a silent stream as dead', async () => {
    let connections = 0;
    const { url } = await gateway((_req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connections === 1) res.write('event: snapshot\ndata: {"requests":[]}\n\n'); // then nothing, not even keep-alives
      else res.write('event: snapshot\ndata: {"requests":[]}\n\n');
    });
    const abort = new AbortController();
    const drops: string[] = [];
    let snapshots = 0;
    await new HttpApprovalsClient(auth(url), { backoffMs: 10, idleMs: 100 }).stream(
      () => {
        if (++snapshots === 2) abort.abort();
      },
      () => {},
      abort.signal,
      (reason) => drops.push(reason),
    );
    expect(drops).toEqual(['no data for 0s']);
  });
});
