import { createHash, createPublicKey } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Store } from '../store/store.js';
import { UsageError } from '../errors.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import type { Checkpoint } from './chain.js';
import type { AuditEvent } from './events.js';
import { keyFingerprint, verifySignature, type AuditSigner, type TrustedKeys } from './keys.js';
import { OcsfContext, toOcsf } from './ocsf.js';
import { ChainRows, checkChain, parseBody, tailWarning, type Break, type ChainResult, type VerifyResult } from './verify.js';

export const EXPORT_FORMAT = 'hoop-audit-export/1';
export const EVENTS_FILE = 'events.jsonl';
export const CHECKPOINTS_FILE = 'checkpoints.jsonl';
export const OCSF_FILE = 'events.ocsf.jsonl';
export const MANIFEST_FILE = 'manifest.json';

export interface ManifestChain {
  readonly chain: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The hash of the event before the first exported one (what the first one names as prev). */
  readonly prevOfFirst: string;
  readonly headHash: string;
  readonly events: number;
  readonly checkpoints: number;
}

export interface Manifest {
  readonly format: string;
  readonly createdAt: number;
  /** The time range asked for (ms since the epoch; null: unbounded). */
  readonly range: { readonly since: number | null; readonly until: number | null };
  readonly chains: readonly ManifestChain[];
  readonly counts: { readonly chains: number; readonly events: number; readonly checkpoints: number };
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly lines: number }>>;
  readonly keyFingerprint: string;
  readonly publicKey: string;
  /** Ed25519 over canonicalJson(the manifest without this field), base64. */
  readonly signature: string;
}

/** Appends lines to a file while hashing them, so the manifest can name each file's digest. */
class LineFile {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  lines = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'wx', 0o644);
  }

  write(line: string): void {
    const data = `${line}\n`;
    writeSync(this.fd, data);
    this.hash.update(data);
    this.lines++;
  }

  close(): { sha256: string; lines: number } {
    closeSync(this.fd);
    return { sha256: this.hash.digest('hex'), lines: this.lines };
  }
}

export interface ExportOptions {
  readonly since?: number;
  readonly until?: number;
  readonly out: string;
  readonly ocsf?: boolean;
}

/**
 * Writes a self-verifying export. Each chain contributes the contiguous run from its first to its
 * last event in the range (times within a chain are not strictly ordered, so a run is cut by seq,
 * not by time), widened to the next checkpoint so a signature made at recording time covers every
 * exported event. The manifest, signed now, names each run's ends and each file's digest.
 */
export async function exportTrail(store: Store, signer: AuditSigner, opts: ExportOptions): Promise<Manifest> {
  mkdirSync(opts.out, { recursive: true, mode: 0o700 });
  if (readdirSync(opts.out).length > 0) throw new UsageError(`${opts.out} is not empty`, 'export into a new or empty folder');
  // Checkpoints first: any event they cover is already stored when the events are read.
  const checkpoints = await store.listCheckpoints();
  const spans = await store.chainSpans({ ...(opts.since !== undefined ? { since: opts.since } : {}), ...(opts.until !== undefined ? { until: opts.until } : {}) });
  const eventsFile = new LineFile(join(opts.out, EVENTS_FILE));
  const checkpointsFile = new LineFile(join(opts.out, CHECKPOINTS_FILE));
  const ocsfFile = opts.ocsf ? new LineFile(join(opts.out, OCSF_FILE)) : null;
  const chains: ManifestChain[] = [];
  let exportedCheckpoints = 0;
  const closeAll = (): Record<string, { sha256: string; lines: number }> => ({
    [EVENTS_FILE]: eventsFile.close(),
    [CHECKPOINTS_FILE]: checkpointsFile.close(),
    ...(ocsfFile ? { [OCSF_FILE]: ocsfFile.close() } : {}),
  });
  // Remembers each session's client address from its start, for the SSH and git records after it.
  const ocsfContext = new OcsfContext();
  try {
    for (const span of spans) {
      const own = checkpoints.filter((c) => c.chain === span.chain).sort((a, b) => a.seq - b.seq);
      const cover = own.find((c) => c.seq >= span.lastSeq);
      const toSeq = cover ? cover.seq : span.lastSeq;
      let first: { seq: number; prev: string } | null = null;
      let head: { seq: number; hash: string } | null = null;
      let events = 0;
      for await (const rec of store.auditRecords({ chain: span.chain, fromSeq: span.firstSeq, toSeq })) {
        const event = parseBody(rec.body);
        eventsFile.write(
          canonicalJson({ chain: rec.chain, seq: rec.seq, prev: rec.prev, hash: rec.hash, storeSeq: rec.storeSeq, event: event ?? null, ...(event === undefined ? { body: rec.body } : {}) }),
        );
        events++;
        const seq = rec.seq!;
        if (first === null || seq < first.seq) first = { seq, prev: rec.prev! };
        if (head === null || seq > head.seq) head = { seq, hash: rec.hash! };
        if (ocsfFile && event !== undefined) {
          const mapped = toOcsf(span.chain, seq, rec.hash!, event as AuditEvent, ocsfContext);
          if (mapped) ocsfFile.write(canonicalJson(mapped));
        }
      }
      if (first === null || head === null) continue;
      const included = own.filter((c) => c.seq >= first.seq - 1 && c.seq <= toSeq);
      for (const c of included) checkpointsFile.write(canonicalJson(c));
      exportedCheckpoints += included.length;
      chains.push({ chain: span.chain, firstSeq: first.seq, lastSeq: head.seq, prevOfFirst: first.prev, headHash: head.hash, events, checkpoints: included.length });
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  const files = closeAll();
  const body: Omit<Manifest, 'signature'> = {
    format: EXPORT_FORMAT,
    createdAt: Date.now(),
    range: { since: opts.since ?? null, until: opts.until ?? null },
    chains,
    counts: { chains: chains.length, events: files[EVENTS_FILE]!.lines, checkpoints: exportedCheckpoints },
    files,
    keyFingerprint: signer.fingerprint,
    publicKey: signer.publicKeyPem,
  };
  const manifest: Manifest = { ...body, signature: signer.sign(Buffer.from(canonicalJson(body), 'utf8')) };
  writeFileSync(join(opts.out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
  return manifest;
}

async function* lines(path: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) yield line;
}

function fileDigest(path: string): string {
  return sha256Hex(readFileSync(path));
}

/**
 * Verifies an export with nothing but trusted public keys: the manifest's signature, every event's
 * hash and link from the manifest's recorded predecessor to its head, every checkpoint's signature,
 * and each file against its digest.
 */
export async function verifyExport(dir: string, keys: TrustedKeys): Promise<VerifyResult> {
  const problems: Break[] = [];
  const outside: Break[] = [];
  const warnings: string[] = [];
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new UsageError(`${dir} has no ${MANIFEST_FILE}: not a hoop audit export`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch (err) {
    throw new UsageError(`${manifestPath} is not JSON: ${(err as Error).message}`);
  }
  const { signature, ...unsigned } = manifest;
  const key = keys.get(manifest.keyFingerprint);
  if (!key) {
    outside.push({ chain: null, seq: null, kind: 'bad-signature', at: MANIFEST_FILE, message: `the manifest names signing key ${manifest.keyFingerprint}, which is not a trusted key (trusted: ${[...keys.keys()].join(', ')})` });
  } else if (typeof signature !== 'string' || !verifySignature(key, Buffer.from(canonicalJson(unsigned), 'utf8'), signature)) {
    outside.push({ chain: null, seq: null, kind: 'bad-signature', at: MANIFEST_FILE, message: 'the manifest signature does not verify: the manifest was altered' });
  }
  if (manifest.format !== EXPORT_FORMAT) warnings.push(`unknown export format ${String(manifest.format)}; checked as ${EXPORT_FORMAT}`);
  try {
    if (typeof manifest.publicKey === 'string' && keyFingerprint(createPublicKey(manifest.publicKey)) !== manifest.keyFingerprint) {
      warnings.push("the manifest's embedded public key does not match its key fingerprint (it is informational; the trusted key decides)");
    }
  } catch {
    warnings.push("the manifest's embedded public key cannot be read (it is informational; the trusted key decides)");
  }

  const files = manifest.files ?? {};
  for (const [name, expected] of Object.entries(files)) {
    const path = join(dir, name);
    if (!existsSync(path)) outside.push({ chain: null, seq: null, kind: 'removed', at: name, message: `${name} is listed in the manifest but missing` });
    else if (fileDigest(path) !== expected.sha256) outside.push({ chain: null, seq: null, kind: 'altered', at: name, message: `${name} does not have the digest the signed manifest lists` });
  }

  const chains = new Map<string, ChainRows>();
  let events = 0;
  const eventsPath = join(dir, EVENTS_FILE);
  if (existsSync(eventsPath)) {
    let n = 0;
    for await (const line of lines(eventsPath)) {
      n++;
      if (line.trim() === '') continue;
      events++;
      let rec: { chain?: unknown; seq?: unknown; prev?: unknown; hash?: unknown; event?: unknown };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        outside.push({ chain: null, seq: null, kind: 'altered', at: `${EVENTS_FILE} line ${n}`, message: `${EVENTS_FILE} line ${n} is not JSON` });
        continue;
      }
      if (typeof rec.chain !== 'string') {
        outside.push({ chain: null, seq: null, kind: 'inserted', at: `${EVENTS_FILE} line ${n}`, message: `${EVENTS_FILE} line ${n} names no chain` });
        continue;
      }
      let rows = chains.get(rec.chain);
      if (!rows) chains.set(rec.chain, (rows = new ChainRows(rec.chain)));
      const event = rec.event === null || rec.event === undefined ? undefined : rec.event;
      rows.add(n, rec.seq, rec.prev, rec.hash, (event as { time?: unknown } | undefined)?.time, event);
    }
  }
  const checkpoints: Checkpoint[] = [];
  const checkpointsPath = join(dir, CHECKPOINTS_FILE);
  if (existsSync(checkpointsPath)) {
    let n = 0;
    for await (const line of lines(checkpointsPath)) {
      n++;
      if (line.trim() === '') continue;
      try {
        checkpoints.push(JSON.parse(line) as Checkpoint);
      } catch {
        outside.push({ chain: null, seq: null, kind: 'altered', at: `${CHECKPOINTS_FILE} line ${n}`, message: `${CHECKPOINTS_FILE} line ${n} is not JSON` });
      }
    }
  }

  const listed = new Map((manifest.chains ?? []).map((c) => [c.chain, c]));
  for (const c of listed.keys()) if (!chains.has(c)) chains.set(c, new ChainRows(c));
  for (const cp of checkpoints) if (!chains.has(cp.chain)) chains.set(cp.chain, new ChainRows(cp.chain));
  const where = (pos: number): string => `${EVENTS_FILE} line ${pos}`;
  const results: ChainResult[] = [];
  for (const rows of chains.values()) {
    const m = listed.get(rows.chain);
    if (!m) {
      const first = rows.rows[0];
      problems.push({ chain: rows.chain, seq: first?.seq ?? null, kind: 'inserted', ...(first ? { at: where(first.pos) } : {}), message: `chain ${rows.chain} is not in the signed manifest` });
      continue;
    }
    const result = checkChain(
      rows,
      checkpoints.filter((c) => c.chain === rows.chain),
      keys,
      { firstSeq: m.firstSeq, prevOfFirst: m.prevOfFirst, lastSeq: m.lastSeq, headHash: m.headHash, requireOpening: true },
      where,
    );
    results.push(result);
    if (result.problem) problems.push(result.problem);
    else if (result.unsignedTail > 0) warnings.push(tailWarning(result));
  }
  problems.push(...outside);
  return { ok: problems.length === 0, source: dir, keys: [...keys.keys()], events, chains: results, problems, warnings };
}
