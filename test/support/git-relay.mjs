#!/usr/bin/env node
// Stands in for `ssh HOST CMD` in GIT_SSH_COMMAND (with GIT_SSH_VARIANT=ssh): runs the real
// git-upload-pack / git-receive-pack on a local bare repository and puts hoop's git guard or
// observer between git's stdin/stdout and the child's, as the SSH engine will. No SSH involved.
//
// Environment (set by the test, passed through by git):
//   HOOP_GIT_RELAY_REPO      the bare repository every client path maps onto (like a gateway connection)
//   HOOP_GIT_RELAY_CONTROL   a directory: decision.json is read when a push needs a decision;
//                            one JSON line per session is appended to records.jsonl at the end
//   GIT_PROTOCOL             passed on to the backend (git sets it: "version=2")
//
// decision.json: {"action":"allow"} | {"action":"deny","reason":"…","perRef":{"refs/heads/x":"…"}}
//   | {"action":"hold","progress":"…","release":"/path"}: sends the progress text, writes
//     held-<pid> into the control directory, then waits until /path exists and uses the decision in it;
//     meanwhile it creates client-paused there once the guard has paused reading from git.
//   | {"action":"throw"}: the decision callback fails.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

// Load hoop's TypeScript sources directly (Node strips the types): map their ".js" imports to ".ts".
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
      const url = new URL(specifier, context.parentURL);
      const ts = new URL(url.href.replace(/\.js$/, '.ts'));
      if (!existsSync(fileURLToPath(url)) && existsSync(fileURLToPath(ts))) return nextResolve(ts.href, context);
    }
    return nextResolve(specifier, context);
  },
});

const src = new URL('../../src/protocols/git/', import.meta.url);
const { parseGitExecCommand, buildGitExecCommand } = await import(new URL('exec-command.ts', src).href);
const { relayReceivePack, relayUploadPack } = await import(new URL('relay.ts', src).href);

const command = process.argv.at(-1) ?? '';
const repo = process.env.HOOP_GIT_RELAY_REPO;
const control = process.env.HOOP_GIT_RELAY_CONTROL;
if (!repo || !control) {
  process.stderr.write('git-relay: HOOP_GIT_RELAY_REPO and HOOP_GIT_RELAY_CONTROL must be set\n');
  process.exit(255);
}

let parsed;
try {
  parsed = parseGitExecCommand(command);
} catch (err) {
  process.stderr.write(`git-relay: ${err.code}: ${err.message}\n`);
  process.exit(128);
}

const backendCommand = buildGitExecCommand(parsed.service, repo);
const env = { ...process.env };
const child = spawn('sh', ['-c', backendCommand], { stdio: ['pipe', 'pipe', 'inherit'], env });
const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
const client = { input: process.stdin, output: process.stdout, stderr: process.stderr };
const backend = { input: child.stdin, output: child.stdout, exited };

const record = { service: parsed.service, path: parsed.path, backendCommand, gitProtocol: process.env.GIT_PROTOCOL ?? null, progressRoutes: [] };

function readDecision(file) {
  const d = JSON.parse(readFileSync(file, 'utf8'));
  if (d.action === 'allow') return { allow: true };
  if (d.action === 'throw') throw new Error('decision service unavailable');
  return { allow: false, reason: d.reason ?? 'denied', ...(d.perRef ? { perRef: new Map(Object.entries(d.perRef)) } : {}) };
}

async function decide(updates, capabilities, ctx) {
  record.decideCalls = (record.decideCalls ?? 0) + 1;
  record.capabilities = capabilities;
  const file = join(control, 'decision.json');
  const d = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { action: 'allow' };
  if (d.action !== 'hold') return existsSync(file) ? readDecision(file) : { allow: true };
  record.progressRoutes.push(ctx.progress(d.progress));
  writeFileSync(join(control, `held-${process.pid}`), JSON.stringify(updates));
  while (!existsSync(d.release)) {
    // Lets a test see that the guard's hold limit paused the client (git blocked on a full pipe).
    if (client.input.isPaused() && !existsSync(join(control, 'client-paused'))) writeFileSync(join(control, 'client-paused'), '');
    await sleep(25);
  }
  return readDecision(d.release);
}

function plain(value) {
  return JSON.parse(JSON.stringify(value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v instanceof Error ? { message: v.message, code: v.code } : v)));
}

let status;
if (parsed.service === 'git-receive-pack') {
  const { guard, exitStatus } = relayReceivePack({ client, backend, decide });
  status = await exitStatus;
  record.outcome = plain(await guard.outcome);
  record.serverCapabilities = guard.serverCapabilities;
} else {
  const { observer, exitStatus } = relayUploadPack({ client, backend });
  status = await exitStatus;
  record.upload = observer.summary();
}
record.exitStatus = status;
appendFileSync(join(control, 'records.jsonl'), JSON.stringify(record) + '\n');
if (child.exitCode === null && child.signalCode === null) child.kill();
process.stdin.destroy();
process.stdout.write('', () => process.exit(status ?? 1));
