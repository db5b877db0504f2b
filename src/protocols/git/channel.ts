import type { ClientChannel, ServerChannel } from 'ssh2';
import type { GitEvent, RecordedRefUpdate } from '../../audit/events.js';
import type { GitConnectionConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { Decision } from '../../policy/policy.js';
import { awaitApproval, recordedDecision, waitingMessage, type GrantedApproval } from '../../policy/review.js';
import { EXIT_DENIED, EXIT_UNREACHABLE, refuseChannel, unreachableMessage } from '../ssh/channel.js';
import type { SshSession } from '../ssh/session.js';
import type { RefUpdate } from './commands.js';
import { GitExecCommandError, buildGitExecCommand, parseGitExecCommand } from './exec-command.js';
import type { PushDecision, ReceivePackOutcome } from './receive-pack.js';
import { relayReceivePack, relayUploadPack, type BackendSide } from './relay.js';
import { relayed } from '../read-buffers.js';

/** Short ids in messages and approval requests, as git prints them. */
const shortId = (oid: string): string => oid.slice(0, 10);

/** What an approver sees for a held push: one line per ref. */
export function describePush(connection: string, updates: readonly RefUpdate[]): string {
  const lines = updates.map((u) => `${u.kind} ${u.ref} ${shortId(u.oldOid)}..${shortId(u.newOid)}`);
  return `git push to ${connection}:\n${lines.join('\n')}`;
}

function backendSide(upstream: ClientChannel): BackendSide {
  const exited = new Promise<number | null>((resolve) => {
    let code: number | null = null;
    upstream.on('exit', (c: number | null) => (code = typeof c === 'number' ? c : null));
    upstream.once('close', () => resolve(code));
  });
  return { input: upstream, output: upstream, exited };
}

/**
 * A git exec on a git connection: `git-upload-pack` (clone, fetch) is observed, `git-receive-pack`
 * (push) is held at its ref updates until policy (and, for protected refs, an approver) says yes.
 * Whatever path the client named, the backend serves the connection's configured repository.
 */
export async function serveGitExec(
  session: SshSession,
  channelId: number,
  accept: () => ServerChannel,
  reject: () => void,
  command: string,
  opts: { env: Record<string, string> },
): Promise<void> {
  const connection = session.connection as GitConnectionConfig;
  const access = session.ctx.access;
  let parsed;
  try {
    parsed = parseGitExecCommand(command);
  } catch (err) {
    const message = err instanceof GitExecCommandError ? err.message : errorMessage(err);
    session.record({ type: 'ssh.request', request: 'exec', detail: session.mask(command), decision: { action: 'deny', rule: 'hoop:git-only', class: 'exec', reason: message } });
    const client = accept();
    if (!client) return;
    refuseChannel(client, `hoop: ${message}`, 1);
    return;
  }
  if (parsed.service === 'git-upload-archive') {
    const message = 'hoop: git archive --remote is not supported through hoop; clone or fetch instead';
    session.record({ type: 'ssh.request', request: 'exec', detail: session.mask(command), decision: { action: 'deny', rule: 'hoop:not-supported', class: 'git-fetch', reason: message } });
    const client = accept();
    if (!client) return;
    refuseChannel(client, message, 1);
    return;
  }
  const push = parsed.service === 'git-receive-pack';
  const started = performance.now();
  const startedAt = Date.now();
  let bytesIn = 0;
  let bytesOut = 0;
  let refs: readonly RecordedRefUpdate[] = [];
  let pushDecision: Decision | null = null;
  let approval: GrantedApproval | undefined;
  let message: string | undefined;

  const record = (decision: Decision, exitStatus: number | undefined, wants?: readonly string[]): void => {
    const event: Omit<GitEvent, 'sessionId' | 'identity' | 'connection' | 'time'> & { time: number } = {
      type: push ? 'git.push' : 'git.fetch',
      time: startedAt,
      channel: channelId,
      repository: connection.repository,
      refs,
      ...(wants ? { wants } : {}),
      decision: recordedDecision(decision),
      ...(approval ? { approval } : {}),
      ...(exitStatus !== undefined ? { exitStatus } : {}),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      bytesIn,
      bytesOut,
      ...(message ? { message: session.mask(message) } : {}),
    };
    session.record(event);
  };

  // A fetch is decided up front; a push once its ref updates are known.
  const fetchDecision = push ? null : access.request('git-fetch');
  if (fetchDecision && fetchDecision.action !== 'allow') {
    // A fetch cannot usefully wait for a human: the client would time out reading the advertisement.
    message = `hoop: ${fetchDecision.action === 'deny' ? fetchDecision.reason : 'a fetch cannot wait for approval; a rule must allow git-fetch here'} (rule ${fetchDecision.rule})`;
    const client = accept();
    if (!client) return;
    refuseChannel(client, message, EXIT_DENIED);
    record(fetchDecision, undefined);
    return;
  }

  // ssh2 answers undefined when the client already closed the channel.
  const client = accept();
  if (!client) return;
  let host;
  try {
    host = await session.backend();
  } catch (err) {
    refuseChannel(client, unreachableMessage(err), EXIT_UNREACHABLE);
    session.backendFailed(errorMessage(err));
    return;
  }
  const upstream = await new Promise<ClientChannel | Error>((resolve) =>
    host.exec(buildGitExecCommand(parsed.service, connection.repository), { env: opts.env }, (err, ch) => resolve(err ?? ch)),
  );
  if (upstream instanceof Error) {
    refuseChannel(client, `hoop: the git server refused ${parsed.service}: ${upstream.message}`, EXIT_UNREACHABLE);
    return;
  }
  client.on('data', (c: Buffer) => {
    bytesIn += c.length;
    relayed(c.length);
  });
  upstream.on('data', (c: Buffer) => {
    bytesOut += c.length;
    relayed(c.length);
  });
  const closeBoth = (): void => {
    upstream.close();
  };
  client.once('close', closeBoth);

  if (!push) {
    const relay = relayUploadPack({ client: { input: client, output: client, stderr: client.stderr }, backend: backendSide(upstream) });
    upstream.stderr.on('data', (c: Buffer) => client.stderr.write(c));
    const status = await relay.exitStatus;
    finish(client, status);
    record(fetchDecision!, status ?? undefined, relay.observer.summary().wants);
    return;
  }

  const decide = async (updates: readonly RefUpdate[], _caps: readonly string[], dctx: { progress(text: string): unknown }): Promise<PushDecision> => {
    const { decision, perRef } = access.refUpdates(updates.map((u) => ({ ref: u.ref, oldId: u.oldOid, newId: u.newOid })));
    pushDecision = decision;
    refs = perRef.map((p) => ({
      ref: p.ref,
      oldId: p.oldId,
      newId: p.newId,
      kind: updates.find((u) => u.ref === p.ref)?.kind ?? 'update',
      decision: recordedDecision(p.decision),
    }));
    if (decision.action === 'allow') return { allow: true };
    if (decision.action === 'deny') {
      const reasons = new Map<string, string>();
      for (const p of perRef) if (p.decision.action === 'deny') reasons.set(p.ref, `hoop: ${p.decision.reason} (rule ${p.decision.rule})`);
      message = `hoop: ${decision.reason} (rule ${decision.rule})`;
      return { allow: false, reason: message, perRef: reasons };
    }
    const outcome = await awaitApproval(
      { identity: session.ctx.identity, connection: connection.name, approvals: session.ctx.approvals, agentMeta: session.ctx.agentMeta, recorder: session.ctx.recorder },
      {
        decision,
        text: describePush(connection.name, updates),
        recordedText: session.mask(describePush(connection.name, updates)),
        subject: 'git.push',
        what: 'push',
        recordedDecision: recordedDecision(decision),
        signal: session.abort.signal,
        notify: (request) => dctx.progress(waitingMessage(request, decision)),
      },
    );
    if (outcome.approved) {
      approval = outcome.approval;
      dctx.progress(`hoop: approved by ${outcome.approval.approvedBy.join(', ') || 'an approval window'}; pushing`);
      return { allow: true };
    }
    message = outcome.message;
    return { allow: false, reason: outcome.message };
  };

  const relay = relayReceivePack({ client: { input: client, output: client, stderr: client.stderr }, backend: backendSide(upstream), decide });
  upstream.stderr.on('data', (c: Buffer) => {
    // After hoop answered a denied push itself, the dismissed backend has nothing to tell the client.
    if (!relay.guard.answersClient) client.stderr.write(c);
  });
  const status = await relay.exitStatus;
  finish(client, status);
  const outcome = await Promise.race([relay.guard.outcome, new Promise<null>((r) => setTimeout(() => r(null), 1000).unref())]);
  refs = withResults(refs, outcome);
  record(pushDecision ?? { action: 'allow', rule: 'hoop:empty-push', class: 'git-push' }, status ?? undefined);
}

/** Ends the client's channel with the exit status, as the host's command would have. */
function finish(client: ServerChannel, status: number | null): void {
  if (client.writable) {
    client.exit(status ?? 1);
    client.end();
  }
}

/** Adds what the server (or hoop, for a denied push) answered for each ref. */
function withResults(refs: readonly RecordedRefUpdate[], outcome: ReceivePackOutcome | null): readonly RecordedRefUpdate[] {
  if (!outcome) return refs;
  if (outcome.kind === 'allowed' && outcome.serverReport) {
    const report = outcome.serverReport;
    return refs.map((r) => {
      const result = report.refs.get(r.ref);
      return result ? { ...r, result: result.ok ? 'ok' : result.reason } : r;
    });
  }
  if (outcome.kind === 'denied') return refs.map((r) => ({ ...r, result: outcome.perRef.get(r.ref) ?? 'rejected' }));
  return refs;
}
