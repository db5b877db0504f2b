import { describe, expect, it } from 'vitest';
import type { RefUpdate } from '../../src/protocols/git/commands.js';
import { encodePkt, encodeSideband, FLUSH_PKT, PktLineReader, pktText, SidebandChannel } from '../../src/protocols/git/pktline.js';
import {
  DECISION_FAILED_REASON,
  DENY_EXIT_STATUS,
  HOLD_LIMIT_BYTES,
  ReceivePackGuard,
  REFUSED_EXIT_STATUS,
  SIGNED_PUSH_REASON,
  type PushDecision,
  type ReceivePackIo,
  type ReceivePackOutcome,
} from '../../src/protocols/git/receive-pack.js';
import { chunkings, randomBytes, rng, splits } from './helpers.js';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const SB64 = 'report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5';

const ADVERTISEMENT = Buffer.concat([
  encodePkt(`${A} refs/heads/main\0report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta push-options object-format=sha1 agent=git/2.39.5\n`),
  FLUSH_PKT,
]);
const PACK = Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x01'), randomBytes(rng(1), 300)]);

function commandBytes(caps: string, ...cmds: string[]): Buffer {
  return Buffer.concat([...cmds.map((c, i) => encodePkt(i === 0 ? `${c}\0${caps}\n` : `${c}\n`)), FLUSH_PKT]);
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Records what the guard does with each side, as the engine would see it. */
class Sides {
  readonly server: Buffer[] = [];
  serverEnded = false;
  readonly client: Buffer[] = [];
  stderr = '';
  paused = false;
  pauseCalls = 0;
  exitStatus: number | null = null;
  readonly io: ReceivePackIo = {
    toServer: (b) => {
      expect(this.serverEnded).toBe(false);
      this.server.push(Buffer.from(b));
    },
    endServer: () => {
      expect(this.serverEnded).toBe(false);
      this.serverEnded = true;
    },
    toClient: (b) => {
      expect(this.exitStatus).toBeNull();
      this.client.push(Buffer.from(b));
    },
    toClientStderr: (t) => {
      this.stderr += t;
    },
    pauseClient: () => {
      this.paused = true;
      this.pauseCalls++;
    },
    resumeClient: () => {
      this.paused = false;
    },
    finishClient: (status) => {
      expect(this.exitStatus).toBeNull();
      this.exitStatus = status;
    },
  };
  serverBytes(): Buffer {
    return Buffer.concat(this.server);
  }
  clientBytes(): Buffer {
    return Buffer.concat(this.client);
  }
}

function setup(decide: (updates: readonly RefUpdate[], caps: readonly string[]) => Promise<PushDecision>) {
  const sides = new Sides();
  const calls: Array<{ updates: readonly RefUpdate[]; caps: readonly string[] }> = [];
  const guard = new ReceivePackGuard(sides.io, (updates, caps) => {
    calls.push({ updates, caps });
    return decide(updates, caps);
  });
  guard.onServerData(ADVERTISEMENT);
  return { sides, guard, calls };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Demultiplexes side-band (when `sideband`) and returns report-status lines, 'flush' for flushes. */
function reportLines(bytes: Buffer, sideband: boolean): { lines: string[]; progress: string; error: string } {
  const outer = new PktLineReader('test');
  outer.push(bytes);
  let inner = Buffer.alloc(0);
  let progress = '';
  let error = '';
  const lines: string[] = [];
  const outerMarkers: string[] = [];
  const readInner = (buf: Buffer) => {
    const r = new PktLineReader('test');
    r.push(buf);
    for (let p = r.next(); p; p = r.next()) lines.push(p.type === 'data' ? pktText(p.payload).toString() : p.type);
    expect(r.pending).toBe(0);
  };
  for (let p = outer.next(); p; p = outer.next()) {
    if (!sideband) {
      lines.push(p.type === 'data' ? pktText(p.payload).toString() : p.type);
      continue;
    }
    if (p.type !== 'data') {
      outerMarkers.push(`outer-${p.type}`);
      continue;
    }
    const band = p.payload[0];
    if (band === 1) inner = Buffer.concat([inner, p.payload.subarray(1)]);
    if (band === 2) progress += p.payload.subarray(1).toString();
    if (band === 3) error += p.payload.subarray(1).toString();
  }
  expect(outer.pending).toBe(0);
  if (sideband) readInner(inner);
  return { lines: [...lines, ...outerMarkers], progress, error };
}

describe('ReceivePackGuard: allowed', () => {
  const commands = commandBytes(SB64, `${Z} ${A} refs/heads/feature`, `${A} ${B} refs/heads/topic`);
  const stream = Buffer.concat([commands, PACK]);

  it('forwards the exact bytes at every split offset, after one decision', async () => {
    for (const parts of splits(stream)) {
      const { sides, guard, calls } = setup(async () => ({ allow: true }));
      for (const p of parts) guard.onClientData(p);
      guard.onClientEnd();
      await tick();
      expect(calls).toHaveLength(1);
      expect(calls[0]!.updates.map((u) => [u.ref, u.kind])).toEqual([
        ['refs/heads/feature', 'create'],
        ['refs/heads/topic', 'update'],
      ]);
      expect(sides.serverBytes().equals(stream)).toBe(true);
      expect(sides.serverEnded).toBe(true);
      expect(sides.exitStatus).toBeNull();
    }
  });

  it('forwards nothing until decided, holds with a bounded buffer, then passes everything in order', async () => {
    const decision = deferred<PushDecision>();
    const { sides, guard } = setup(() => decision.promise);
    guard.onClientData(commands);
    const big = randomBytes(rng(2), 64 * 1024);
    let sent = 0;
    while (!sides.paused) {
      guard.onClientData(big);
      sent += big.length;
      expect(sent).toBeLessThan(HOLD_LIMIT_BYTES + 2 * big.length);
    }
    await tick();
    expect(sides.server).toHaveLength(0);
    expect(sides.pauseCalls).toBe(1);
    decision.resolve({ allow: true });
    await tick();
    expect(sides.paused).toBe(false);
    guard.onClientData(Buffer.from('tail'));
    const expected = Buffer.concat([commands, ...Array.from({ length: sent / big.length }, () => big), Buffer.from('tail')]);
    expect(sides.serverBytes().equals(expected)).toBe(true);
  });

  it('reads the backend\'s report at every split offset without changing it', async () => {
    const inner = Buffer.concat([
      encodePkt('unpack ok\n'),
      encodePkt('ok refs/heads/feature\n'),
      encodePkt('option refname refs/heads/feature\n'),
      encodePkt('ng refs/heads/topic pre-receive hook declined\n'),
      FLUSH_PKT,
    ]);
    // Side-band frames cut the inner pkt-lines anywhere, as receive-pack's send_sideband may.
    const report = Buffer.concat([
      encodeSideband(SidebandChannel.progress, 'Resolving deltas: 100%\n'),
      encodeSideband(SidebandChannel.data, inner.subarray(0, 7)),
      encodeSideband(SidebandChannel.data, inner.subarray(7)),
      FLUSH_PKT,
    ]);
    for (const parts of splits(report)) {
      const { sides, guard } = setup(async () => ({ allow: true }));
      guard.onClientData(stream);
      guard.onClientEnd();
      await tick();
      for (const p of parts) guard.onServerData(p);
      const outcome = await guard.outcome;
      expect(outcome.kind).toBe('allowed');
      if (outcome.kind !== 'allowed') return;
      expect(outcome.serverReport?.unpack).toBe('ok');
      expect(Object.fromEntries(outcome.serverReport!.refs)).toEqual({
        'refs/heads/feature': { ok: true },
        'refs/heads/topic': { ok: false, reason: 'pre-receive hook declined' },
      });
      expect(sides.clientBytes().equals(Buffer.concat([ADVERTISEMENT, report]))).toBe(true);
    }
  });

  it('reads a report sent without side-band', async () => {
    const { guard } = setup(async () => ({ allow: true }));
    guard.onClientData(commandBytes('report-status', `${Z} ${A} refs/heads/x`));
    await tick();
    guard.onServerData(Buffer.concat([encodePkt('unpack ok\n'), encodePkt('ok refs/heads/x\n'), FLUSH_PKT]));
    const outcome = await guard.outcome;
    expect(outcome.kind === 'allowed' && Object.fromEntries(outcome.serverReport!.refs)).toEqual({ 'refs/heads/x': { ok: true } });
  });

  it('lets an empty command list through without asking', async () => {
    const { sides, guard, calls } = setup(async () => ({ allow: false, reason: 'no' }));
    guard.onClientData(FLUSH_PKT);
    guard.onClientEnd();
    expect((await guard.outcome).kind).toBe('empty');
    expect(calls).toHaveLength(0);
    expect(sides.serverBytes().toString()).toBe('0000');
    expect(sides.serverEnded).toBe(true);
  });
});

describe('ReceivePackGuard: denied', () => {
  it('dismisses the backend, reports ng per ref in side-band, and ends the session at the client\'s EOF', async () => {
    const commands = commandBytes(SB64, `${Z} ${A} refs/heads/main`, `${Z} ${B} refs/tags/v1`);
    for (const parts of splits(Buffer.concat([commands, PACK.subarray(0, 40)]))) {
      const { sides, guard } = setup(async () => ({
        allow: false,
        reason: 'main is protected',
        perRef: new Map([['refs/tags/v1', 'tags need\napproval']]),
      }));
      for (const p of parts) guard.onClientData(p);
      await tick();
      expect(sides.serverBytes().toString()).toBe('0000');
      expect(sides.serverEnded).toBe(true);
      // Answered, but the pack is still coming: closing now would break the client's pipe.
      const answered = sides.clientBytes().length;
      expect(answered).toBeGreaterThan(ADVERTISEMENT.length);
      expect(sides.exitStatus).toBeNull();
      guard.onServerData(Buffer.from('garbage the backend might print'));
      guard.onClientData(PACK.subarray(40));
      expect(sides.exitStatus).toBeNull();
      guard.onClientEnd();
      expect(sides.exitStatus).toBe(DENY_EXIT_STATUS);
      expect(sides.clientBytes().length).toBe(answered);
      expect(guard.progress('late')).toBe('stderr');
      const report = reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true);
      expect(report.lines).toEqual(['unpack ok', 'ng refs/heads/main main is protected', 'ng refs/tags/v1 tags need approval', 'flush', 'outer-flush']);
      const outcome = await guard.outcome;
      expect(outcome.kind).toBe('denied');
    }
  });

  it('answers a delete-only push right after its commands (no pack comes)', async () => {
    const { sides, guard } = setup(async () => ({ allow: false, reason: 'no deleting main' }));
    guard.onClientData(commandBytes(SB64, `${A} ${Z} refs/heads/main`));
    await tick();
    expect(sides.exitStatus).toBe(DENY_EXIT_STATUS);
    expect(reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true).lines).toEqual([
      'unpack ok',
      'ng refs/heads/main no deleting main',
      'flush',
      'outer-flush',
    ]);
  });

  it('waits for the push options of a delete-only push before answering', async () => {
    const options = Buffer.concat([encodePkt('ci.skip\n'), encodePkt('x=y\n'), FLUSH_PKT]);
    for (const parts of splits(options)) {
      const { sides, guard } = setup(async () => ({ allow: false, reason: 'no' }));
      guard.onClientData(commandBytes(`${SB64} push-options`, `${A} ${Z} refs/heads/main`));
      await tick();
      guard.onClientData(parts[0]!);
      if (parts[0]!.length < options.length) expect(sides.exitStatus).toBeNull();
      guard.onClientData(parts[1]!);
      expect(sides.exitStatus).toBe(DENY_EXIT_STATUS);
      expect(reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true).lines).toEqual(['unpack ok', 'ng refs/heads/main no', 'flush', 'outer-flush']);
    }
  });

  it('reports without side-band when it was not negotiated', async () => {
    const { sides, guard } = setup(async () => ({ allow: false, reason: 'nope' }));
    guard.onClientData(commandBytes('report-status', `${A} ${B} refs/heads/main`));
    guard.onClientData(PACK);
    guard.onClientEnd();
    await tick();
    expect(reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), false).lines).toEqual(['unpack ok', 'ng refs/heads/main nope', 'flush']);
  });

  it('without report-status, tells the client on stderr (or channel 3) and exits non-zero', async () => {
    const plain = setup(async () => ({ allow: false, reason: 'nope' }));
    plain.guard.onClientData(commandBytes('agent=x', `${A} ${B} refs/heads/main`));
    plain.guard.onClientEnd();
    await tick();
    expect(plain.sides.stderr).toContain('refs/heads/main rejected: nope');
    expect(plain.sides.exitStatus).toBe(REFUSED_EXIT_STATUS);

    const banded = setup(async () => ({ allow: false, reason: 'nope' }));
    banded.guard.onClientData(commandBytes('side-band', `${A} ${B} refs/heads/main`));
    banded.guard.onClientEnd();
    await tick();
    expect(reportLines(banded.sides.clientBytes().subarray(ADVERTISEMENT.length), true).error).toContain('rejected: nope');
    expect(banded.sides.exitStatus).toBe(REFUSED_EXIT_STATUS);
  });

  it('denies when the decision fails (fail closed)', async () => {
    const { sides, guard } = setup(async () => {
      throw new Error('approval service down');
    });
    guard.onClientData(commandBytes(SB64, `${A} ${B} refs/heads/main`));
    guard.onClientEnd();
    const outcome = await guard.outcome;
    expect(outcome.kind).toBe('denied');
    expect(sides.serverBytes().toString()).toBe('0000');
    expect(reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true).lines).toContain(`ng refs/heads/main ${DECISION_FAILED_REASON}`);
  });

  it('refuses signed pushes without asking', async () => {
    const { sides, guard, calls } = setup(async () => ({ allow: true }));
    guard.onClientData(
      Buffer.concat([
        encodePkt(`push-cert\0${SB64}\n`),
        encodePkt('certificate version 0.1\n'),
        encodePkt('\n'),
        encodePkt(`${A} ${B} refs/heads/main\n`),
        encodePkt('push-cert-end\n'),
        FLUSH_PKT,
      ]),
    );
    guard.onClientEnd();
    await tick();
    expect(calls).toHaveLength(0);
    expect(sides.serverBytes().toString()).toBe('0000');
    expect(reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true).lines).toContain(`ng refs/heads/main ${SIGNED_PUSH_REASON}`);
  });
});

describe('ReceivePackGuard: session ending early', () => {
  it('a client that leaves mid-command list forwards nothing of it', async () => {
    const { sides, guard, calls } = setup(async () => ({ allow: true }));
    guard.onClientData(commandBytes(SB64, `${Z} ${A} refs/heads/main`).subarray(0, 30));
    guard.onClientEnd();
    expect((await guard.outcome).kind).toBe('aborted');
    expect(calls).toHaveLength(0);
    expect(sides.serverBytes().toString()).toBe('0000');
    expect(sides.serverEnded).toBe(true);
  });

  it('closing while a decision is pending ignores the late decision', async () => {
    const decision = deferred<PushDecision>();
    const { sides, guard } = setup(() => decision.promise);
    guard.onClientData(Buffer.concat([commandBytes(SB64, `${Z} ${A} refs/heads/main`), PACK]));
    await tick();
    guard.close();
    decision.resolve({ allow: true });
    await tick();
    expect((await guard.outcome).kind).toBe('aborted');
    expect(sides.serverBytes().toString()).toBe('0000');
    expect(sides.exitStatus).toBeNull();
  });
});

describe('ReceivePackGuard: progress while held', () => {
  it('goes in side-band channel 2 when negotiated and the backend is silent', async () => {
    const decision = deferred<PushDecision>();
    const { sides, guard } = setup(() => decision.promise);
    guard.onClientData(commandBytes(SB64, `${Z} ${A} refs/heads/main`));
    await tick();
    expect(guard.progress('hoop: push to refs/heads/main needs approval (request ar_1); waiting…')).toBe('sideband');
    const frames = reportLines(sides.clientBytes().subarray(ADVERTISEMENT.length), true);
    expect(frames.progress).toBe('hoop: push to refs/heads/main needs approval (request ar_1); waiting…\n');
    decision.resolve({ allow: true });
  });

  it('goes to stderr without side-band, before the commands, or after the decision', async () => {
    const decision = deferred<PushDecision>();
    const { sides, guard } = setup(() => decision.promise);
    expect(guard.progress('early')).toBe('stderr');
    guard.onClientData(commandBytes('report-status', `${Z} ${A} refs/heads/main`));
    await tick();
    expect(guard.progress('waiting')).toBe('stderr');
    expect(sides.stderr).toBe('early\nwaiting\n');
    expect(sides.clientBytes().equals(ADVERTISEMENT)).toBe(true);
  });

  it('never injects into a backend stream it has not seen end its advertisement', async () => {
    const sides = new Sides();
    const guard = new ReceivePackGuard(sides.io, () => new Promise(() => {}));
    guard.onServerData(ADVERTISEMENT.subarray(0, 20));
    guard.onClientData(commandBytes(SB64, `${Z} ${A} refs/heads/main`));
    await tick();
    expect(guard.progress('x')).toBe('stderr');
  });
});

describe('ReceivePackGuard: hostile input', () => {
  function run(bytes: Buffer, seed: number): { sides: Sides; outcome: Promise<ReceivePackOutcome>; guard: ReceivePackGuard } {
    const { sides, guard } = setup(async () => ({ allow: false, reason: 'fuzz' }));
    for (const c of chunkings(bytes, rng(seed))) guard.onClientData(c);
    guard.onClientEnd();
    return { sides, outcome: guard.outcome, guard };
  }

  it('refuses garbage and forwards none of it', async () => {
    const random = rng(42);
    for (let i = 0; i < 300; i++) {
      const garbage = randomBytes(random, 1 + Math.floor(random() * 200));
      const { sides, outcome } = run(garbage, i);
      const result = await outcome;
      expect(['refused', 'aborted', 'denied', 'empty']).toContain(result.kind);
      if (result.kind !== 'empty') expect(sides.serverBytes().toString()).toBe('0000');
    }
  });

  it('never forwards a mutated command list unless it parsed and was allowed', async () => {
    const valid = Buffer.concat([commandBytes(SB64, `${Z} ${A} refs/heads/feature`, `${A} ${B} refs/heads/main`), PACK.subarray(0, 30)]);
    const random = rng(9);
    for (let i = 0; i < 400; i++) {
      const mutated = Buffer.from(valid);
      for (let n = 0; n < 1 + Math.floor(random() * 3); n++) mutated[Math.floor(random() * 200)] = Math.floor(random() * 256);
      const { sides, outcome } = run(mutated, i);
      const result = await outcome;
      expect(result.kind).not.toBe('allowed');
      if (result.kind !== 'empty') expect(sides.serverBytes().toString()).toBe('0000');
      if (result.kind === 'refused') {
        expect(sides.stderr).toContain('hoop: push refused');
        expect(sides.exitStatus).toBe(REFUSED_EXIT_STATUS);
      }
    }
  });

  it('stops observing a backend that sends nonsense, without touching what it forwards', async () => {
    const { sides, guard } = setup(async () => ({ allow: true }));
    guard.onClientData(commandBytes(SB64, `${Z} ${A} refs/heads/x`));
    await tick();
    const junk = randomBytes(rng(3), 500);
    guard.onServerData(junk);
    guard.onServerEnd();
    const outcome = await guard.outcome;
    expect(outcome.kind === 'allowed' && outcome.serverReport).toBeNull();
    expect(sides.clientBytes().equals(Buffer.concat([ADVERTISEMENT, junk]))).toBe(true);
  });
});
