import { DIGIT, isAlnum, isDigit, isUpper, runEnd, runStart } from '../chars.js';
import { F_DIGIT, F_UPPER, defineDetector, type ScanDetector } from '../scan.js';
import { IBAN_LENGTHS, isCardNumber, mod97 } from '../validators.js';
import { digitsOf, numberEndsAlone, numberStartsAlone } from './boundary.js';

// Triggers: cheap regexes (bounded, no nesting: linear) that irregexp scans natively; the
// JavaScript validation only runs where they hit. Module-level and global: `lastIndex` is reset
// on entry, and scanning never re-enters itself.
// Spelled-out `\d\d\d\d` rather than `\d{4}`, and no lookbehind: irregexp prefilters
// candidate positions several times faster so (measured); the glued case is checked in JS.
const CARD_TRIGGER = /\d\d\d\d[ -]?\d\d\d\d/g;

/**
 * The longest card-shaped prefix of a cluster of digit groups: groups 0..m with a first group
 * of 4, middle groups of 4 or 6 and a last group of 1–6 digits. Returns m, or -1.
 */
function cardPrefix(text: string, starts: number[], ends: number[], out: { detector: string; start: number; end: number }[]): number {
  if (ends[0]! - starts[0]! !== 4 || !numberStartsAlone(text, starts[0]!)) return -1;
  let best = -1;
  let digits = 0;
  for (let m = 0; m < starts.length; m++) {
    const len = ends[m]! - starts[m]!;
    digits += len;
    if (digits > 19) break;
    if (m >= 2 && digits >= 13 && len <= 6 && numberEndsAlone(text, ends[m]!) && isCardNumber(digitsOf(text, starts[0]!, ends[m]!))) best = m;
    if (m > 0 && len !== 4 && len !== 6) break; // could not be a middle group
  }
  if (best >= 0) out.push({ detector: 'card', start: starts[0]!, end: ends[best]! });
  return best;
}

/**
 * Whether the digits ending at `e` are a short group of the same printed number (`12`), or an
 * IBAN head (`DE58`): not the tail of a word (`mc2`), nor a long number of its own.
 */
function precededByGroup(text: string, e: number): boolean {
  const s = runStart(text, e, DIGIT);
  if (e - s > 6) return false;
  if (!isAlnum(text.charCodeAt(s - 1))) return true;
  return e - s === 2 && isUpper(text.charCodeAt(s - 1)) && isUpper(text.charCodeAt(s - 2)) && !isAlnum(text.charCodeAt(s - 3));
}

/**
 * Payment cards: 13–19 digits, either one run (`4242424242424242`) or groups joined by one
 * repeated separator (space or dash) shaped like printed cards: a first group of 4, middle
 * groups of 4 or 6, a last group of 1–6 (4-4-4-4, 4-6-5 Amex, 4-6-4 Diners, 4-4-4-4-3).
 * Then an issuer prefix valid for that length, then Luhn. A card followed by more groups
 * (`4242 4242 4242 4242 123`, or a second card) is still found; a card *preceded* by another
 * short group of the same run is not (`1234 4242 4242 4242 4242`): trying every offset inside
 * long runs of space-separated numbers (tracking numbers, tables) would turn one in ten into a
 * "card".
 */
export const cardDetector: ScanDetector = defineDetector('card', { priority: 1, needs: [F_DIGIT], minLength: 13 }, (text, out) => {
  const re = CARD_TRIGGER;
  re.lastIndex = 0;
  let lastCardEnd = -1;
  while (re.test(text)) {
    // The trigger is 8 or 9 characters long; only the 9-character form has a separator.
    const end = re.lastIndex;
    const sepInTrigger = text.charCodeAt(end - 5);
    const p = end - (sepInTrigger === 32 || sepInTrigger === 45 ? 9 : 8);
    const e0 = runEnd(text, p, DIGIT);
    if (isAlnum(text.charCodeAt(p - 1))) {
      re.lastIndex = e0;
      continue;
    }
    // A long run is a number of its own, whatever groups follow it.
    if (e0 - p >= 13) {
      if (e0 - p <= 19 && numberStartsAlone(text, p) && numberEndsAlone(text, e0) && isCardNumber(text.slice(p, e0))) {
        out.push({ detector: 'card', start: p, end: e0 });
        lastCardEnd = e0;
      }
      re.lastIndex = e0;
      continue;
    }
    // The trigger starts at the first group of 4; a short group before it on the same run
    // (`12 4242 4242 …`), or an IBAN's `CCdd` group (`DE58 5452 3439 …`, even with a bad
    // checksum), means this is some other, longer number. A card just before does not.
    const before = text.charCodeAt(p - 1);
    if ((before === 32 || before === 45) && p - 1 !== lastCardEnd && isDigit(text.charCodeAt(p - 2)) && precededByGroup(text, p - 1)) {
      let e = e0;
      while ((text.charCodeAt(e) === 32 || text.charCodeAt(e) === 45) && isDigit(text.charCodeAt(e + 1))) e = runEnd(text, e + 1, DIGIT);
      re.lastIndex = e;
      continue;
    }
    const sep = text.charCodeAt(e0);
    if ((sep !== 32 && sep !== 45) || !isDigit(text.charCodeAt(e0 + 1))) {
      re.lastIndex = e0; // 8–12 digits alone: too short
      continue;
    }
    // At most 20 groups: a card has at most 19 digits. Collecting the whole run each time would
    // be quadratic on a long run of cards (`4242 4242 … 4242`, found one after the other).
    const starts = [p];
    const ends = [e0];
    let e = e0;
    while (starts.length < 20 && text.charCodeAt(e) === sep && isDigit(text.charCodeAt(e + 1))) {
      const s = e + 1;
      e = runEnd(text, s, DIGIT);
      starts.push(s);
      ends.push(e);
    }
    const m = cardPrefix(text, starts, ends, out);
    if (m >= 0) {
      // Whatever follows the card in the same run gets its own look (a second card).
      lastCardEnd = ends[m]!;
      re.lastIndex = lastCardEnd;
    } else {
      while (text.charCodeAt(e) === sep && isDigit(text.charCodeAt(e + 1))) e = runEnd(text, e + 1, DIGIT);
      re.lastIndex = e;
    }
  }
});

// Matches one character (the first letter): measured faster than matching all four.
const IBAN_TRIGGER = /[A-Z](?=[A-Z]\d\d)/g;

/**
 * IBAN: two upper-case letters of a country in the length table, two check digits, then the
 * BBAN, either compact (`DE89370400440532013000`) or printed in groups of four
 * (`DE89 3704 0044 0532 0130 00`); exactly the country's length, and mod 97 = 1.
 */
export const ibanDetector: ScanDetector = defineDetector('iban', { priority: 1, needs: [F_DIGIT | F_UPPER], minLength: 15 }, (text, out) => {
  const re = IBAN_TRIGGER;
  re.lastIndex = 0;
  while (re.test(text)) {
    const p = re.lastIndex - 1;
    if (isAlnum(text.charCodeAt(p - 1))) continue;
    const len = IBAN_LENGTHS[text.slice(p, p + 2)];
    if (len === undefined) continue;
    let compact = '';
    let q = p;
    while (compact.length < len && q < text.length) {
      const c = text.charCodeAt(q);
      if (isDigit(c) || isUpper(c)) {
        compact += text[q];
        q++;
      } else if (c === 32 && compact.length % 4 === 0 && isAlnum(text.charCodeAt(q + 1))) {
        q++;
      } else break;
    }
    if (compact.length !== len || isAlnum(text.charCodeAt(q)) || mod97(compact) !== 1) continue;
    out.push({ detector: 'iban', start: p, end: q });
    re.lastIndex = q;
  }
});
