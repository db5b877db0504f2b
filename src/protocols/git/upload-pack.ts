import { PktLineReader, pktText, type Pkt } from './pktline.js';

/** Object ids kept per session; past this only the count goes on. */
export const MAX_RECORDED_WANTS = 1000;
/** `want-ref`, `ref-prefix` and command names kept per session. */
export const MAX_RECORDED_REFS = 200;
/** Capabilities kept (v0: those on the first want; v2: those of the first fetch or ls-refs). */
export const MAX_RECORDED_CAPABILITIES = 64;
/** Longest single value recorded (a ref name, a filter spec); longer ones are cut. */
export const MAX_RECORDED_VALUE_CHARS = 1024;

export interface UploadPackSummary {
  /** 2 when the client spoke protocol v2 (`command=` requests); 0 for v0/v1 (`want` lines). */
  readonly protocol: 0 | 2 | null;
  /** v2 commands in the order sent (ls-refs, fetch, object-info…). */
  readonly commands: readonly string[];
  /** Distinct wanted object ids in the order first asked for, at most MAX_RECORDED_WANTS. */
  readonly wants: readonly string[];
  /** How many `want` lines came, recorded or not, duplicates included. */
  readonly wantCount: number;
  /** v2 `want-ref <ref>` lines. */
  readonly wantRefs: readonly string[];
  /** v2 ls-refs `ref-prefix <prefix>` lines. */
  readonly refPrefixes: readonly string[];
  readonly haveCount: number;
  /** The client said `done` (it asked for the pack). */
  readonly done: boolean;
  /** `deepen…`, `shallow` and `filter` requests: a shallow or partial clone. */
  readonly deepen: readonly string[];
  readonly filter: string | null;
  readonly capabilities: readonly string[];
  /** Something was left out because of a MAX_RECORDED_* limit. */
  readonly truncated: boolean;
  /** Set when the client's bytes stopped making sense as pkt-lines: observation stopped there. */
  readonly stoppedAt: string | null;
}

/**
 * Watches the client→server stream of an upload-pack channel (clone, fetch, ls-remote) and
 * records what was asked for. It never blocks, delays or changes a byte — the engine forwards each
 * chunk itself and hands a reference to `observe` — and never throws: unparseable input ends the
 * observation, not the session.
 *
 * What the client sends (gitprotocol-pack(5), gitprotocol-v2(5)); every line is a pkt-line:
 *
 *   v0/v1:  want <oid> [SP <caps>] LF   (first want carries capabilities)
 *           want <oid> LF …  shallow <oid> | deepen <n> | deepen-since <t> | deepen-not <ref> | filter <spec>
 *           0000   then rounds of  have <oid> LF … 0000 | done LF
 *   v2:     command=<name> LF  <capability> LF …  0001 (delim)  <argument> LF …  0000 (flush)
 *           ls-refs arguments: peel | symrefs | unborn | ref-prefix <prefix>
 *           fetch arguments:   want <oid> | want-ref <ref> | have <oid> | done | deepen… | filter <spec> | …
 */
export class UploadPackObserver {
  private readonly reader = new PktLineReader('client');
  private protocol: 0 | 2 | null = null;
  private readonly commands: string[] = [];
  private readonly wants: string[] = [];
  private readonly wantSet = new Set<string>();
  private wantCount = 0;
  private readonly wantRefs: string[] = [];
  private readonly refPrefixes: string[] = [];
  private haveCount = 0;
  private done = false;
  private readonly deepen: string[] = [];
  private filter: string | null = null;
  private capabilities: string[] = [];
  private truncated = false;
  private stoppedAt: string | null = null;
  /** v2: inside a request, before its delim (capability lines) or after it (arguments). */
  private v2Section: 'idle' | 'capabilities' | 'arguments' = 'idle';

  /** Looks at a chunk the engine is forwarding. Never throws. */
  observe(chunk: Buffer): void {
    if (this.stoppedAt !== null || chunk.length === 0) return;
    try {
      this.reader.push(chunk);
      for (let pkt = this.reader.next(); pkt; pkt = this.reader.next()) this.pkt(pkt);
    } catch (err) {
      this.stoppedAt = err instanceof Error ? err.message : String(err);
      this.reader.takeRest();
    }
  }

  summary(): UploadPackSummary {
    return {
      protocol: this.protocol,
      commands: [...this.commands],
      wants: [...this.wants],
      wantCount: this.wantCount,
      wantRefs: [...this.wantRefs],
      refPrefixes: [...this.refPrefixes],
      haveCount: this.haveCount,
      done: this.done,
      deepen: [...this.deepen],
      filter: this.filter,
      capabilities: [...this.capabilities],
      truncated: this.truncated,
      stoppedAt: this.stoppedAt,
    };
  }

  private pkt(pkt: Pkt): void {
    if (pkt.type !== 'data') {
      if (this.protocol === 2) {
        if (pkt.type === 'delim' && this.v2Section === 'capabilities') this.v2Section = 'arguments';
        else if (pkt.type === 'flush') this.v2Section = 'idle';
      }
      return;
    }
    const line = pktText(pkt.payload).toString('utf8');
    if (this.protocol === null) this.protocol = line.startsWith('command=') ? 2 : 0;
    if (this.protocol === 2) this.v2Line(line);
    else this.v0Line(line);
  }

  private v0Line(line: string): void {
    if (line.startsWith('want ')) {
      const rest = line.slice(5);
      const space = rest.indexOf(' ');
      this.want(space < 0 ? rest : rest.slice(0, space));
      if (space >= 0 && this.wantCount === 1) this.setCapabilities(rest.slice(space + 1).split(' '));
    } else {
      this.argument(line);
    }
  }

  private v2Line(line: string): void {
    if (this.v2Section === 'idle') {
      if (line.startsWith('command=')) {
        this.push(this.commands, line.slice('command='.length));
        this.v2Section = 'capabilities';
      }
      return;
    }
    if (this.v2Section === 'capabilities') {
      // The first request's capability lines describe the client; later requests repeat them.
      if (this.commands.length === 1) this.addCapability(line);
      return;
    }
    if (line.startsWith('want ')) this.want(line.slice(5));
    else if (line.startsWith('want-ref ')) this.push(this.wantRefs, line.slice('want-ref '.length));
    else if (line.startsWith('ref-prefix ')) this.push(this.refPrefixes, line.slice('ref-prefix '.length));
    else this.argument(line);
  }

  /** Lines both protocol versions share. */
  private argument(line: string): void {
    if (line.startsWith('have ')) this.haveCount++;
    else if (line === 'done') this.done = true;
    else if (line.startsWith('deepen') || line.startsWith('shallow ')) this.push(this.deepen, line);
    else if (line.startsWith('filter ')) this.filter = this.cut(line.slice('filter '.length));
  }

  private want(oid: string): void {
    this.wantCount++;
    // git asks for an object once per ref that points at it (HEAD and main, say): keep it once.
    const value = this.cut(oid);
    if (this.wantSet.has(value)) return;
    if (this.wants.length >= MAX_RECORDED_WANTS) {
      this.truncated = true;
      return;
    }
    this.wantSet.add(value);
    this.wants.push(value);
  }

  private addCapability(line: string): void {
    if (this.capabilities.length < MAX_RECORDED_CAPABILITIES) this.capabilities.push(this.cut(line));
    else this.truncated = true;
  }

  private setCapabilities(caps: string[]): void {
    const kept = caps.filter((c) => c.length > 0);
    if (kept.length > MAX_RECORDED_CAPABILITIES) this.truncated = true;
    this.capabilities = kept.slice(0, MAX_RECORDED_CAPABILITIES).map((c) => this.cut(c));
  }

  private push(list: string[], value: string): void {
    if (list.length < MAX_RECORDED_REFS) list.push(this.cut(value));
    else this.truncated = true;
  }

  private cut(value: string): string {
    if (value.length <= MAX_RECORDED_VALUE_CHARS) return value;
    this.truncated = true;
    return value.slice(0, MAX_RECORDED_VALUE_CHARS);
  }
}
