import { hash } from 'node:crypto';

/**
 * The one serialisation every hash and signature in the audit trail is computed over: JSON with
 * object keys sorted (by UTF-16 code unit, as `Array.prototype.sort` does) and no whitespace.
 * Strings and numbers are written exactly as `JSON.stringify` writes them, which makes this the
 * JSON Canonicalization Scheme (RFC 8785) for JSON data, so a verifier in another language can
 * reproduce every hash.
 *
 * It follows JSON's own rules for values JSON cannot hold (an `undefined` property is left out,
 * `undefined` in an array and non-finite numbers become `null`, `toJSON` is honoured), so an event
 * hashes the same before it is stored and after it is read back from its JSON body.
 *
 * Every recorded event goes through this once, on the gateway's event loop: it is written for
 * speed (string concatenation, quoted keys cached) rather than brevity.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // Number-to-string is what JSON.stringify uses for finite numbers (-0 included: "0").
      return Number.isFinite(value) ? `${value}` : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (i > 0) out += ',';
          out += isAbsent(v) ? 'null' : canonicalJson(v);
        }
        return `${out}]`;
      }
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') return canonicalJson((toJSON as () => unknown).call(value));
      const keys = Object.keys(value);
      // Hot events are built with their keys in order already (session.ts): checking is cheaper than sorting.
      if (keys.length > 1 && !isSorted(keys)) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = (value as Record<string, unknown>)[key];
        if (isAbsent(v)) continue;
        if (!first) out += ',';
        first = false;
        out += `${quotedKey(key)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      // bigint, undefined, functions, symbols: nothing an audit event holds, and no JSON for them.
      throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
  }
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** Events reuse a small set of keys; bounded, since some maps (client info, agent claims) carry client-chosen ones. */
const QUOTED = new Map<string, string>();
function quotedKey(key: string): string {
  let q = QUOTED.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (QUOTED.size < 4096) QUOTED.set(key, q);
  }
  return q;
}

export function sha256Hex(data: string | Buffer): string {
  return hash('sha256', data, 'hex');
}
