import { setTimeout as sleep } from 'node:timers/promises';
import type { ApprovalRequest } from '../store/store.js';
import type { GatewayAuth } from '../tunnel/local-end.js';

/** What the approvals screen needs from the gateway; tests hand the app an in-memory one. */
export interface ApprovalsClient {
  /** Pending requests, as `GET /v1/approvals?status=pending` returns them. */
  list(): Promise<ApprovalRequest[]>;
  /** Approves; `window` (e.g. "30m") also opens just-in-time access. Resolves to the request after the vote. */
  approve(id: string, window?: string): Promise<ApprovalRequest>;
  deny(id: string, reason: string): Promise<ApprovalRequest>;
  /**
   * Follows the live stream until `signal` aborts: a snapshot on every (re)connect, then every
   * change. Reconnects on its own, telling `onDrop` why each time the stream is lost.
   */
  stream(
    onSnapshot: (requests: ApprovalRequest[]) => void,
    onChange: (request: ApprovalRequest) => void,
    signal: AbortSignal,
    onDrop?: (reason: string) => void,
  ): Promise<void>;
}

/** A failed API call, with the gateway's own message when it sent one. */
export class ApprovalsApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'ApprovalsApiError';
  }
}

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Incremental text/event-stream parser: feed it decoded text in chunks cut anywhere, get whole
 * events back. Lines end in LF or CRLF (a CRLF cut between chunks still works because the CR is
 * stripped once the LF arrives); bare-CR line ends, which no server we talk to sends, are not handled.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];

  push(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') {
        // A blank line ends an event; one with no data lines is not dispatched (per the spec).
        if (this.data.length > 0) events.push({ event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // comment: the gateway's keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      // id and retry are not used: every reconnect starts over with a fresh snapshot.
    }
    return events;
  }
}

export interface HttpClientOptions {
  /** Replaces the global fetch (tests). */
  readonly fetch?: typeof fetch;
  /** First reconnect delay; it doubles up to `maxBackoffMs`. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * A stream silent for this long is treated as dead and reconnected. The gateway sends a
   * keep-alive comment every 15s, so silence means a connection lost without a FIN (laptop sleep, NAT).
   */
  readonly idleMs?: number;
}

/** The approvals API over HTTP with the user's bearer token. */
export class HttpApprovalsClient implements ApprovalsClient {
  private readonly fetch: typeof fetch;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly idleMs: number;

  constructor(
    private readonly auth: GatewayAuth,
    opts: HttpClientOptions = {},
  ) {
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.backoffMs = opts.backoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15_000;
    this.idleMs = opts.idleMs ?? 45_000;
  }

  async list(): Promise<ApprovalRequest[]> {
    const res = await this.send('GET', '/v1/approvals?status=pending');
    return ((await res.json()) as { requests: ApprovalRequest[] }).requests;
  }

  async approve(id: string, window?: string): Promise<ApprovalRequest> {
    const res = await this.send('POST', `/v1/approvals/${encodeURIComponent(id)}/approve`, window ? { window } : {});
    return ((await res.json()) as { request: ApprovalRequest }).request;
  }

  async deny(id: string, reason: string): Promise<ApprovalRequest> {
    const res = await this.send('POST', `/v1/approvals/${encodeURIComponent(id)}/deny`, { reason });
    return ((await res.json()) as { request: ApprovalRequest }).request;
  }

  async stream(
    onSnapshot: (requests: ApprovalRequest[]) => void,
    onChange: (request: ApprovalRequest) => void,
    signal: AbortSignal,
    onDrop?: (reason: string) => void,
  ): Promise<void> {
    let delay = this.backoffMs;
    while (!signal.aborted) {
      const idle = new AbortController();
      let timer = setTimeout(() => idle.abort(), this.idleMs);
      const resetIdle = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), this.idleMs);
      };
      try {
        const res = await this.send('GET', '/v1/approvals/stream', undefined, AbortSignal.any([signal, idle.signal]));
        if (!res.body) throw new Error('the gateway sent no stream');
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          resetIdle();
          for (const ev of parser.push(decoder.decode(value, { stream: true }))) {
            if (ev.event === 'snapshot') {
              onSnapshot((JSON.parse(ev.data) as { requests: ApprovalRequest[] }).requests);
              delay = this.backoffMs; // a working connection earns a quick retry next time
            } else if (ev.event === 'change') {
              onChange((JSON.parse(ev.data) as { request: ApprovalRequest }).request);
            }
          }
        }
        throw new Error('the gateway closed the stream');
      } catch (err) {
        if (signal.aborted) return;
        const reason = idle.signal.aborted ? `no data for ${Math.round(this.idleMs / 1000)}s` : (err as Error).message;
        onDrop?.(reason);
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return; // aborted while waiting
        }
        delay = Math.min(delay * 2, this.maxBackoffMs);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** One request; any non-2xx becomes an `ApprovalsApiError` with a message a person can act on. */
  private async send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    // Asked per request so a token renewed mid-session is picked up.
    const token = await this.auth.token();
    let res: Response;
    try {
      res = await this.fetch(`${this.auth.gateway.replace(/\/$/, '')}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a bad port, …).
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApprovalsApiError(`cannot reach the gateway at ${this.auth.gateway}: ${why}`, 0, undefined);
    }
    if (res.ok) return res;
    throw await apiError(res);
  }
}

async function apiError(res: Response): Promise<ApprovalsApiError> {
  const text = await res.text().catch(() => '');
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    // not JSON (a proxy's error page): fall back to the status
  }
  const message = error?.message ?? `the gateway answered HTTP ${res.status}`;
  if (res.status === 401) return new ApprovalsApiError(`the gateway refused the token: ${message} (log in again with \`hoop login\`)`, 401, error?.code);
  return new ApprovalsApiError(message, res.status, error?.code);
}
