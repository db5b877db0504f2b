import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DECISION_FAILED_REASON, HOLD_LIMIT_BYTES } from '../../src/protocols/git/receive-pack.js';
import { GitFixture } from '../support/git-fixture.js';

// The real git client talks to the real git-upload-pack / git-receive-pack through
// test/support/git-relay.mjs (an `ssh` stand-in) with hoop's guard/observer in the middle.

let fx: GitFixture;
let mainOid: string;

async function setupFixture(opts?: ConstructorParameters<typeof GitFixture>[0]): Promise<void> {
  fx = new GitFixture(opts);
  await fx.init();
  mainOid = await fx.gitOk(['rev-parse', 'HEAD']);
}

afterEach(() => fx?.cleanup());

describe('fetch and clone through the observer', () => {
  beforeEach(() => setupFixture());

  it('clone (protocol v2) and a later fetch record the wanted objects', async () => {
    const clone = join(fx.root, 'clone');
    await fx.gitOk(['clone', '-q', fx.url, clone], fx.root);
    expect(await fx.gitOk(['rev-parse', 'HEAD'], clone)).toBe(mainOid);
    const cloned = fx.lastRecord();
    expect(cloned.service).toBe('git-upload-pack');
    expect(cloned.path).toBe('/repo.git');
    expect(cloned.gitProtocol).toBe('version=2');
    expect(cloned.upload).toMatchObject({ protocol: 2, commands: ['ls-refs', 'fetch'], wants: [mainOid], done: true, stoppedAt: null });
    expect(cloned.upload.refPrefixes).toContain('refs/heads/');

    const next = await fx.commit('b.txt', 'b\n');
    await fx.gitOk(['push', '-q', fx.bare, 'main']);
    await fx.gitOk(['fetch', '-q', 'origin'], clone);
    expect(await fx.gitOk(['rev-parse', 'origin/main'], clone)).toBe(next);
    const fetched = fx.lastRecord();
    expect(fetched.upload.wants).toEqual([next]);
    expect(fetched.upload.haveCount).toBeGreaterThan(0);
  });

  it('protocol v0 fetch records the wants with their capabilities', async () => {
    const clone = join(fx.root, 'clone0');
    await fx.gitOk(['-c', 'protocol.version=0', 'clone', '-q', fx.url, clone], fx.root);
    const next = await fx.commit('c.txt', 'c\n');
    await fx.gitOk(['push', '-q', fx.bare, 'main']);
    await fx.gitOk(['-c', 'protocol.version=0', 'fetch', '-q', 'origin'], clone);
    expect(await fx.gitOk(['rev-parse', 'origin/main'], clone)).toBe(next);
    const r = fx.lastRecord();
    expect(r.gitProtocol).toBeNull();
    expect(r.upload.protocol).toBe(0);
    expect(r.upload.wants).toEqual([next]);
    expect(r.upload.capabilities).toContain('side-band-64k');
  });

  it('protocol v2 fetch of one branch records its ref prefix', async () => {
    const clone = join(fx.root, 'clone2');
    await fx.gitOk(['clone', '-q', fx.url, clone], fx.root);
    await fx.gitOk(['checkout', '-q', '-b', 'feature']);
    const feature = await fx.commit('f.txt', 'f\n');
    await fx.gitOk(['push', '-q', fx.bare, 'feature']);
    await fx.gitOk(['-c', 'protocol.version=2', 'fetch', '-q', 'origin', 'feature'], clone);
    expect(await fx.gitOk(['rev-parse', 'FETCH_HEAD'], clone)).toBe(feature);
    const r = fx.lastRecord();
    expect(r.upload.protocol).toBe(2);
    expect(r.upload.refPrefixes).toContain('refs/heads/feature');
    expect(r.upload.wants).toEqual([feature]);
  });

  it('ls-remote records an ls-refs request and no wants', async () => {
    const out = await fx.gitOk(['ls-remote', fx.url, 'main']);
    expect(out).toContain(mainOid);
    expect(fx.lastRecord().upload).toMatchObject({ protocol: 2, commands: ['ls-refs'], wantCount: 0 });
  });
});

describe('push through the guard', () => {
  beforeEach(() => setupFixture());

  it('an allowed push to a feature branch lands and the guard records the backend\'s per-ref result', async () => {
    fx.decide({ action: 'allow' });
    await fx.gitOk(['checkout', '-q', '-b', 'feature']);
    const oid = await fx.commit('f.txt', 'feature\n');
    const r = await fx.git(['push', 'origin', 'feature']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('[new branch]      feature -> feature');
    expect(await fx.backendRef('refs/heads/feature')).toBe(oid);
    const rec = fx.lastRecord();
    expect(rec.decideCalls).toBe(1);
    expect(rec.outcome.kind).toBe('allowed');
    expect(rec.outcome.commands.updates).toEqual([{ oldOid: '0'.repeat(40), newOid: oid, ref: 'refs/heads/feature', kind: 'create' }]);
    expect(rec.outcome.serverReport).toEqual({ unpack: 'ok', refs: { 'refs/heads/feature': { ok: true } } });
    expect(rec.exitStatus).toBe(0);
  });

  it('a denied push to main is rejected with the reason and main is unchanged', async () => {
    fx.decide({ action: 'deny', reason: 'refs/heads/main is protected: open a pull request' });
    await fx.commit('m.txt', 'main change\n');
    const r = await fx.git(['push', 'origin', 'main']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('! [remote rejected] main -> main (refs/heads/main is protected: open a pull request)');
    expect(r.stderr).not.toContain('hung up');
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
    const rec = fx.lastRecord();
    expect(rec.outcome.kind).toBe('denied');
    expect(rec.outcome.commands.updates[0]).toMatchObject({ ref: 'refs/heads/main', kind: 'update', oldOid: mainOid });
  });

  it('deleting main is denied (both spellings) and main still exists', async () => {
    fx.decide({ action: 'deny', reason: 'deleting main is not allowed' });
    for (const args of [['push', 'origin', ':main'], ['push', 'origin', '--delete', 'main']]) {
      const r = await fx.git(args);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain('! [remote rejected] main (deleting main is not allowed)');
      expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
      expect(fx.lastRecord().outcome.commands.updates).toEqual([{ oldOid: mainOid, newOid: '0'.repeat(40), ref: 'refs/heads/main', kind: 'delete' }]);
    }
  });

  it('a held push shows the progress message while waiting and completes after release', async () => {
    const release = join(fx.control, 'release.json');
    fx.decide({ action: 'hold', progress: 'hoop: push to refs/heads/feature needs approval (request ar_123); waiting…', release });
    await fx.gitOk(['checkout', '-q', '-b', 'feature']);
    const oid = await fx.commit('h.txt', 'held\n');
    const push = fx.spawnGit(['push', 'origin', 'feature'], 'needs approval');
    const seen = await push.seen;
    expect(seen).toContain('remote: hoop: push to refs/heads/feature needs approval (request ar_123); waiting…');
    // Still held: the backend has not seen the push.
    expect(await fx.backendRef('refs/heads/feature')).toBeNull();
    fx.writeDecision(release, { action: 'allow' });
    const r = await push.done;
    expect(r.exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/feature')).toBe(oid);
    expect(fx.lastRecord().progressRoutes).toEqual(['sideband']);
  });

  it('a held push that is then denied is rejected with the reason', async () => {
    const release = join(fx.control, 'release.json');
    fx.decide({ action: 'hold', progress: 'hoop: waiting for approval', release });
    await fx.commit('m.txt', 'x\n');
    const push = fx.spawnGit(['push', 'origin', 'main'], 'waiting for approval');
    await push.seen;
    fx.writeDecision(release, { action: 'deny', reason: 'rejected by alice' });
    const r = await push.done;
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('! [remote rejected] main -> main (rejected by alice)');
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
  });

  it('a held push larger than the hold limit pauses git, then lands whole after release', async () => {
    const release = join(fx.control, 'release.json');
    fx.decide({ action: 'hold', progress: 'hoop: waiting for approval', release });
    writeFileSync(join(fx.work, 'big.bin'), randomBytes(4 * HOLD_LIMIT_BYTES));
    await fx.gitOk(['add', 'big.bin']);
    await fx.gitOk(['commit', '-q', '-m', 'big']);
    const oid = await fx.gitOk(['rev-parse', 'HEAD']);
    const push = fx.spawnGit(['push', 'origin', 'main'], 'waiting for approval');
    await push.seen;
    await fx.waitForControlFile('client-paused');
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
    fx.writeDecision(release, { action: 'allow' });
    const r = await push.done;
    expect(r.exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/main')).toBe(oid);
    expect((await fx.git(['--git-dir', fx.bare, 'fsck', '--no-progress'], fx.root)).exitCode).toBe(0);
  });

  it('a large denied push is rejected cleanly while git is still writing its pack', async () => {
    fx.decide({ action: 'deny', reason: 'too big' });
    const objectsBefore = await fx.gitOk(['--git-dir', fx.bare, 'count-objects', '-v'], fx.root);
    writeFileSync(join(fx.work, 'big.bin'), randomBytes(4 * HOLD_LIMIT_BYTES));
    await fx.gitOk(['add', 'big.bin']);
    await fx.gitOk(['commit', '-q', '-m', 'big']);
    const r = await fx.git(['push', 'origin', 'main']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('! [remote rejected] main -> main (too big)');
    expect(r.stderr).not.toMatch(/hung up|broken pipe|pack-objects died/i);
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
    // Not even a quarantined object reached the backend.
    expect(await fx.gitOk(['--git-dir', fx.bare, 'count-objects', '-v'], fx.root)).toBe(objectsBefore);
  });

  it('a multi-ref push (branch and tag) is decided as one and lands whole', async () => {
    fx.decide({ action: 'allow' });
    await fx.gitOk(['checkout', '-q', '-b', 'feature']);
    const oid = await fx.commit('t.txt', 'tagged\n');
    await fx.gitOk(['tag', 'v1.0']);
    const r = await fx.git(['push', 'origin', 'feature', 'v1.0']);
    expect(r.exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/feature')).toBe(oid);
    expect(await fx.backendRef('refs/tags/v1.0')).toBe(oid);
    const rec = fx.lastRecord();
    expect(rec.decideCalls).toBe(1);
    expect(rec.outcome.commands.updates.map((u: { ref: string }) => u.ref)).toEqual(['refs/heads/feature', 'refs/tags/v1.0']);
    expect(Object.keys(rec.outcome.serverReport.refs)).toEqual(['refs/heads/feature', 'refs/tags/v1.0']);
  });

  it('a denied multi-ref push rejects every ref, each with its own reason', async () => {
    fx.decide({ action: 'deny', reason: 'push contains a protected ref', perRef: { 'refs/tags/v1.0': 'tags are release-managed' } });
    await fx.gitOk(['checkout', '-q', '-b', 'feature']);
    await fx.commit('t.txt', 'tagged\n');
    await fx.gitOk(['tag', 'v1.0']);
    const r = await fx.git(['push', 'origin', 'feature', 'v1.0']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('! [remote rejected] feature -> feature (push contains a protected ref)');
    expect(r.stderr).toContain('! [remote rejected] v1.0 -> v1.0 (tags are release-managed)');
    expect(await fx.backendRef('refs/heads/feature')).toBeNull();
    expect(await fx.backendRef('refs/tags/v1.0')).toBeNull();
  });

  it('a push over protocol v1 is guarded the same way', async () => {
    fx.decide({ action: 'deny', reason: 'v1 says no' });
    await fx.commit('v1.txt', 'v1\n');
    const denied = await fx.git(['-c', 'protocol.version=1', 'push', 'origin', 'main']);
    expect(denied.stderr).toContain('(v1 says no)');
    expect(fx.lastRecord().gitProtocol).toBe('version=1');
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
    fx.decide({ action: 'allow' });
    const allowed = await fx.git(['-c', 'protocol.version=1', 'push', 'origin', 'main']);
    expect(allowed.exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/main')).toBe(await fx.gitOk(['rev-parse', 'HEAD']));
    expect(fx.lastRecord().outcome.serverReport.refs['refs/heads/main']).toEqual({ ok: true });
  });

  it('a delete with push options is answered without waiting for a pack', async () => {
    await fx.gitOk(['--git-dir', fx.bare, 'config', 'receive.advertisePushOptions', 'true'], fx.root);
    await fx.gitOk(['push', '-q', fx.bare, 'main:refs/heads/topic']);
    fx.decide({ action: 'deny', reason: 'no deletes' });
    const denied = await fx.git(['push', '-o', 'ci.skip', 'origin', '--delete', 'topic']);
    expect(denied.stderr).toContain('! [remote rejected] topic (no deletes)');
    expect(fx.lastRecord().outcome.commands.capabilities).toContain('push-options');
    expect(await fx.backendRef('refs/heads/topic')).toBe(mainOid);
    fx.decide({ action: 'allow' });
    const allowed = await fx.git(['push', '-o', 'ci.skip', 'origin', '--delete', 'topic']);
    expect(allowed.exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/topic')).toBeNull();
  });

  it('a failing decision denies the push (fail closed)', async () => {
    fx.decide({ action: 'throw' });
    await fx.commit('e.txt', 'e\n');
    const r = await fx.git(['push', 'origin', 'main']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`(${DECISION_FAILED_REASON})`);
    expect(await fx.backendRef('refs/heads/main')).toBe(mainOid);
  });

  it('a push with nothing to send passes without a decision', async () => {
    fx.decide({ action: 'deny', reason: 'must not be asked' });
    const r = await fx.git(['push', 'origin', 'main']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('Everything up-to-date');
    const rec = fx.lastRecord();
    expect(rec.decideCalls).toBeUndefined();
    expect(rec.outcome.kind).toBe('empty');
  });
});

describe('other repository shapes', () => {
  it('sha256 repositories: object ids of 64 digits are parsed and decided', async () => {
    await setupFixture({ objectFormat: 'sha256' });
    fx.decide({ action: 'deny', reason: 'sha256 main is protected' });
    const next = await fx.commit('s.txt', 's\n');
    expect(next).toHaveLength(64);
    const denied = await fx.git(['push', 'origin', 'main']);
    expect(denied.stderr).toContain('(sha256 main is protected)');
    expect(fx.lastRecord().outcome.commands).toMatchObject({ objectFormat: 'sha256', updates: [{ oldOid: mainOid, newOid: next, kind: 'update' }] });
    fx.decide({ action: 'allow' });
    expect((await fx.git(['push', 'origin', 'main'])).exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/main')).toBe(next);
  });

  it('a backend path with quotes, spaces and ! is quoted safely for the backend shell', async () => {
    await setupFixture({ bareDirName: `it's a "repo" dir! $HOME` });
    const clone = join(fx.root, 'clone');
    await fx.gitOk(['clone', '-q', fx.url, clone], fx.root);
    expect(await fx.gitOk(['rev-parse', 'HEAD'], clone)).toBe(mainOid);
    fx.decide({ action: 'allow' });
    const next = await fx.commit('q.txt', 'q\n');
    expect((await fx.git(['push', 'origin', 'main'])).exitCode).toBe(0);
    expect(await fx.backendRef('refs/heads/main')).toBe(next);
    expect(fx.lastRecord().backendCommand).toContain(`'\\''`);
  });
});
