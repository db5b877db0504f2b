import { GitProtocolError, pktText, type Pkt } from './pktline.js';

/** Hex digits of an object id per hash function (`object-format=` capability; sha1 by default). */
export const OID_HEX_LENGTH = { sha1: 40, sha256: 64 } as const;
export type ObjectFormat = keyof typeof OID_HEX_LENGTH;

/** A push with more ref updates than this is refused rather than held in memory. */
export const MAX_REF_UPDATES = 50_000;
/** Cap on the whole command section (shallow lines, push certificate, commands) held before deciding. */
export const MAX_COMMAND_SECTION_BYTES = 16 * 1024 * 1024;
/** Git's own refnames are far shorter; anything longer is not a ref a policy should see. */
export const MAX_REFNAME_BYTES = 4096;

/** The first line of a signed push (followed by the certificate, then `push-cert-end`). */
export const PUSH_CERT_BEGIN = 'push-cert';
export const PUSH_CERT_END = 'push-cert-end';
export const SHALLOW_PREFIX = 'shallow ';

export type RefUpdateKind = 'create' | 'delete' | 'update';

export interface RefUpdate {
  /** Lowercase hex; all zeros when the ref does not exist yet. */
  readonly oldOid: string;
  /** Lowercase hex; all zeros when the ref is to be deleted. */
  readonly newOid: string;
  readonly ref: string;
  readonly kind: RefUpdateKind;
}

export interface ReceiveCommandList {
  readonly updates: readonly RefUpdate[];
  /** What the client asked for after the NUL of its first line (report-status, side-band-64k, agent=…). */
  readonly capabilities: readonly string[];
  readonly objectFormat: ObjectFormat;
  /** `shallow <oid>` lines: the client's shallow boundary. */
  readonly shallow: readonly string[];
  /** True when the commands came inside a push certificate (`git push --signed`). */
  readonly signed: boolean;
}

export function isZeroOid(oid: string): boolean {
  return /^0+$/.test(oid);
}

export function classifyUpdate(oldOid: string, newOid: string): RefUpdateKind {
  if (isZeroOid(oldOid)) return 'create';
  if (isZeroOid(newOid)) return 'delete';
  return 'update';
}

/** `name` or `name=value` among capabilities: true / the value, or undefined when absent. */
export function capability(capabilities: readonly string[], name: string): string | true | undefined {
  for (const cap of capabilities) {
    if (cap === name) return true;
    if (cap.startsWith(`${name}=`)) return cap.slice(name.length + 1);
  }
  return undefined;
}

const HEX_OID = /^[0-9a-fA-F]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function badLine(message: string): GitProtocolError {
  return new GitProtocolError('bad-line', message);
}

function parseOid(text: string, what: string): string {
  if (!HEX_OID.test(text) || (text.length !== OID_HEX_LENGTH.sha1 && text.length !== OID_HEX_LENGTH.sha256)) {
    throw badLine(`${what} is not a 40- or 64-digit hex object id: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return text.toLowerCase();
}

function decodeText(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw badLine(`${what} is not valid UTF-8`);
  }
}

function checkRefname(ref: string): void {
  if (ref.length === 0) throw badLine('a command has an empty refname');
  if (Buffer.byteLength(ref) > MAX_REFNAME_BYTES) {
    throw new GitProtocolError('over-limit', `a refname is longer than ${MAX_REFNAME_BYTES} bytes`);
  }
  // Refnames never hold spaces or control characters (git-check-ref-format); a policy must not
  // be shown a name the backend would read differently.
  if (/[\x00-\x20\x7f]/.test(ref)) throw badLine(`refname ${JSON.stringify(ref)} contains a space or control character`);
}

/** `<old-oid> SP <new-oid> SP <refname>`, the line without newline or capabilities. */
function parseCommand(line: string): { oldOid: string; newOid: string; ref: string } {
  const first = line.indexOf(' ');
  const second = first < 0 ? -1 : line.indexOf(' ', first + 1);
  if (first < 0 || second < 0) throw badLine(`expected "<old-oid> <new-oid> <ref>", got ${JSON.stringify(line.slice(0, 120))}`);
  const oldOid = parseOid(line.slice(0, first), 'old object id');
  const newOid = parseOid(line.slice(first + 1, second), 'new object id');
  const ref = line.slice(second + 1);
  checkRefname(ref);
  return { oldOid, newOid, ref };
}

/**
 * The receive-pack command section, sent by the client after the server's ref advertisement
 * (gitprotocol-pack(5), "Reference Update Request"):
 *
 *   shallow <oid> LF                                   (0 or more, before the commands)
 *   <old-oid> SP <new-oid> SP <refname> NUL <caps> LF  (first command: capabilities after NUL)
 *   <old-oid> SP <new-oid> SP <refname> LF             (further commands)
 *   0000                                               (flush: end of the list)
 *
 * or, for `git push --signed`, the commands inside a certificate:
 *
 *   push-cert NUL <caps> LF
 *   certificate version 0.1 LF … LF (blank) <old> SP <new> SP <ref> LF … (signature) …
 *   push-cert-end LF
 *   0000
 *
 * An empty list (flush alone) means the client has nothing to push. Each pkt-line is fed in turn;
 * anything else is a GitProtocolError so the guard refuses the push rather than guess.
 */
export class ReceiveCommandParser {
  private readonly updates: RefUpdate[] = [];
  private capabilities: string[] = [];
  private readonly shallow: string[] = [];
  private sawFirstLine = false;
  private inCert = false;
  /** Inside the certificate, commands follow the first blank line and stop at the signature. */
  private certBodyStarted = false;
  private certBodyEnded = false;
  private signed = false;
  private bytes = 0;
  private complete = false;

  /** Feeds one pkt-line; true once the flush that ends the list has been read. */
  add(pkt: Pkt): boolean {
    if (this.complete) throw badLine('command list already complete');
    if (pkt.type === 'flush') {
      if (this.inCert) throw badLine('push certificate not terminated by push-cert-end');
      this.complete = true;
      this.checkObjectFormat();
      return true;
    }
    if (pkt.type !== 'data') throw badLine(`unexpected ${pkt.type} packet in the command list`);
    this.bytes += pkt.payload.length + 4;
    if (this.bytes > MAX_COMMAND_SECTION_BYTES) {
      throw new GitProtocolError('over-limit', `the command list is larger than ${MAX_COMMAND_SECTION_BYTES} bytes`);
    }
    const payload = pktText(pkt.payload);
    if (this.inCert) {
      this.certLine(decodeText(payload, 'push certificate line'));
      return false;
    }
    const nul = payload.indexOf(0);
    const line = decodeText(nul < 0 ? payload : payload.subarray(0, nul), 'command line');
    if (nul >= 0) {
      if (this.sawFirstLine) throw badLine('capabilities sent on a command line other than the first');
      this.capabilities = decodeText(payload.subarray(nul + 1), 'capability list').split(' ').filter((c) => c.length > 0);
    }
    if (line.startsWith(SHALLOW_PREFIX) && !this.sawFirstLine) {
      if (nul >= 0) throw badLine('capabilities sent on a shallow line');
      this.shallow.push(parseOid(line.slice(SHALLOW_PREFIX.length), 'shallow object id'));
      return false;
    }
    const first = !this.sawFirstLine;
    this.sawFirstLine = true;
    if (first && nul < 0) this.capabilities = [];
    if (line === PUSH_CERT_BEGIN) {
      if (!first) throw badLine('push-cert after commands');
      this.inCert = true;
      this.signed = true;
      return false;
    }
    this.addUpdate(parseCommand(line));
    return false;
  }

  result(): ReceiveCommandList {
    if (!this.complete) throw badLine('command list not complete');
    return {
      updates: this.updates,
      capabilities: this.capabilities,
      objectFormat: this.objectFormat(),
      shallow: this.shallow,
      signed: this.signed,
    };
  }

  private certLine(line: string): void {
    if (line === PUSH_CERT_END) {
      this.inCert = false;
      return;
    }
    if (!this.certBodyStarted) {
      if (line === '') this.certBodyStarted = true;
      return;
    }
    if (this.certBodyEnded) return;
    if (line.startsWith('-----BEGIN ')) {
      this.certBodyEnded = true;
      return;
    }
    this.addUpdate(parseCommand(line));
  }

  private addUpdate(cmd: { oldOid: string; newOid: string; ref: string }): void {
    if (cmd.oldOid.length !== cmd.newOid.length) throw badLine(`old and new object ids of ${cmd.ref} differ in length`);
    if (isZeroOid(cmd.oldOid) && isZeroOid(cmd.newOid)) throw badLine(`command for ${cmd.ref} has two zero object ids`);
    if (this.updates.length >= MAX_REF_UPDATES) {
      throw new GitProtocolError('over-limit', `more than ${MAX_REF_UPDATES} ref updates in one push`);
    }
    this.updates.push({ ...cmd, kind: classifyUpdate(cmd.oldOid, cmd.newOid) });
  }

  private objectFormat(): ObjectFormat {
    const declared = capability(this.capabilities, 'object-format');
    if (declared === undefined) return 'sha1';
    if (declared === 'sha1' || declared === 'sha256') return declared;
    throw badLine(`unknown object-format ${JSON.stringify(declared)}`);
  }

  private checkObjectFormat(): void {
    const want = OID_HEX_LENGTH[this.objectFormat()];
    for (const u of this.updates) {
      if (u.oldOid.length !== want) throw badLine(`object id of ${u.ref} does not match object-format ${this.objectFormat()}`);
    }
    for (const oid of this.shallow) {
      if (oid.length !== want) throw badLine(`shallow object id does not match object-format ${this.objectFormat()}`);
    }
  }
}
