import { ALNUM, DIGIT, DOT, HEX, has, isDigit, runEnd, runStart } from '../chars.js';
import { F_COLON, F_DIGIT, F_DOT, defineDetector, type ScanDetector } from '../scan.js';
import { numberEndsAlone, numberStartsAlone } from './boundary.js';

function octet(text: string, s: number, e: number): boolean {
  const len = e - s;
  if (len < 1 || len > 3 || (len > 1 && text.charCodeAt(s) === 48)) return false;
  return Number(text.slice(s, e)) <= 255;
}

const IPV4_TRIGGER = /\d\.\d\d?\d?\.\d\d?\d?\.\d/g;

/**
 * IPv4 dotted quads, each octet 0–255 without leading zeros, not part of a longer dotted run.
 * Opt-in: version numbers (`1.2.3.4`) look exactly like addresses.
 */
export const ipv4Detector: ScanDetector = defineDetector('ipv4', { priority: 2, needs: [F_DIGIT | F_DOT], minLength: 7 }, (text, out) => {
  const re = IPV4_TRIGGER;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    // The trigger starts on the last digit of the first octet.
    const s = runStart(text, m.index + 1, DIGIT, 4);
    let e = s;
    let ok = true;
    for (let k = 0; k < 4 && ok; k++) {
      if (k > 0) {
        ok = text.charCodeAt(e) === 46;
        e++;
      }
      const oe = runEnd(text, e, DIGIT, 4);
      ok = ok && octet(text, e, oe);
      e = oe;
    }
    if (ok && numberStartsAlone(text, s) && numberEndsAlone(text, e)) {
      out.push({ detector: 'ipv4', start: s, end: e });
      re.lastIndex = e;
    } else {
      // Skip the rest of a longer dotted run (`1.2.3.4.5` is a version, and so is `2.3.4.5` in it).
      while (text.charCodeAt(e) === 46 && isDigit(text.charCodeAt(e + 1))) e = runEnd(text, e + 1, DIGIT);
      re.lastIndex = Math.max(re.lastIndex, e);
    }
  }
});

export function ipv6Valid(s: string): boolean {
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return false;
  const parts = (p: string): string[] => (p === '' ? [] : p.split(':'));
  const head = dbl === -1 ? parts(s) : parts(s.slice(0, dbl));
  const tail = dbl === -1 ? [] : parts(s.slice(dbl + 2));
  const groups = [...head, ...tail];
  let count = 0;
  for (let g = 0; g < groups.length; g++) {
    const part = groups[g]!;
    if (g === groups.length - 1 && part.includes('.')) {
      const q = part.split('.');
      if (q.length !== 4 || !q.every((o) => /^(?:0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) count++;
    else return false;
  }
  return dbl === -1 ? count === 8 : count <= 7 && count >= 1;
}

/**
 * IPv6 addresses (full, `::`-compressed, with an embedded IPv4 tail), anchored on `:` and
 * validated by a parser. Opt-in. Zone ids (`%eth0`) are left visible.
 */
export const ipv6Detector: ScanDetector = defineDetector('ipv6', { priority: 2, needs: [F_COLON], minLength: 3 }, (text, out) => {
  const cls = HEX | DOT;
  let from = 0;
  for (;;) {
    const colon = text.indexOf(':', from);
    if (colon === -1) return;
    let s = colon;
    while (s > 0 && colon - s < 46 && (has(text.charCodeAt(s - 1), cls) || text.charCodeAt(s - 1) === 58)) s--;
    let e = colon + 1;
    while (e < text.length && e - s < 46 && (has(text.charCodeAt(e), cls) || text.charCodeAt(e) === 58)) e++;
    from = e;
    while (e > s && text.charCodeAt(e - 1) === 46) e--; // sentence full stop
    if (e - s >= 46 || has(text.charCodeAt(s - 1), ALNUM | DOT) || text.charCodeAt(s - 1) === 58 || has(text.charCodeAt(e), ALNUM)) continue;
    const cand = text.slice(s, e);
    if (!/\d/.test(cand) || !ipv6Valid(cand)) continue;
    out.push({ detector: 'ipv6', start: s, end: e });
  }
});
