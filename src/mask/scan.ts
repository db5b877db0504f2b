import type { Match } from './types.js';

/**
 * Cheap facts about a short text, computed in one pass, so that a cell like `12.50` or
 * `shipped` skips every detector that cannot match (no `@`: no e-mail, no `_`: no GitHub or
 * Stripe token…). Long texts get every bit: there the detectors' own literal/regex anchors are
 * faster than a JavaScript loop over each character.
 */
export const F_DIGIT = 1;
export const F_UPPER = 2;
export const F_LOWER = 4;
export const F_AT = 8;
export const F_EQ = 16;
export const F_COLON = 32;
export const F_PLUS = 64;
export const F_PAREN = 128;
export const F_UNDERSCORE = 256;
export const F_DASH = 512;
export const F_DOT = 1024;
export const F_SLASH = 2048;
export const F_QUOTE = 4096;
export const F_ALL = 0xffff;

const FEATURE = new Uint16Array(128);
for (let c = 48; c <= 57; c++) FEATURE[c] = F_DIGIT;
for (let c = 65; c <= 90; c++) FEATURE[c] = F_UPPER;
for (let c = 97; c <= 122; c++) FEATURE[c] = F_LOWER;
FEATURE[64] = F_AT;
FEATURE[61] = F_EQ;
FEATURE[58] = F_COLON;
FEATURE[43] = F_PLUS;
FEATURE[40] = F_PAREN;
FEATURE[95] = F_UNDERSCORE;
FEATURE[45] = F_DASH;
FEATURE[46] = F_DOT;
FEATURE[47] = F_SLASH;
FEATURE[39] = F_QUOTE;

export const SHORT_TEXT = 256;

/** Characters with a feature of their own, besides letters and digits. */
const PUNCTUATION_FEATURE = /[@=:+(_\-./']/;
const DIGIT = /[0-9]/;
const UPPER_A_M = /[A-M]/;
const UPPER_N_Z = /[N-Z]/;
const LOWER = /[a-z]/;

export function featuresOf(text: string): number {
  if (text.length > SHORT_TEXT) return F_ALL;
  // Most cells hold none of the punctuation (words, numbers, names): three tests that stop at the
  // first hit and one native scan beat a JavaScript loop over every character (~1.5× on a
  // 90-character cell).
  if (!PUNCTUATION_FEATURE.test(text)) {
    return (DIGIT.test(text) ? F_DIGIT : 0) | (hasUpper(text) ? F_UPPER : 0) | (LOWER.test(text) ? F_LOWER : 0);
  }
  return featuresByLoop(text);
}

/**
 * Whether the text holds an ASCII capital. Most cells hold none, and a regex must then scan every
 * character. Two half-alphabet classes scan faster than one class of all 26 letters (~40 against
 * ~60 ns on a 90-character cell): V8 can skip ahead further over a text when a class is small.
 */
function hasUpper(text: string): boolean {
  return UPPER_A_M.test(text) || UPPER_N_Z.test(text);
}

/** The reference: every character's feature, one by one. */
export function featuresByLoop(text: string): number {
  let f = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) f |= FEATURE[c]!;
  }
  return f;
}

/** A detector as the masker drives it: `scan` appends to a shared array. */
export interface ScanDetector {
  readonly name: string;
  /** Breaks ties between detectors matching the same span: lower wins (specific before generic). */
  readonly priority: number;
  /** Runs when, for one of these masks, the text has every feature in it. */
  readonly needs: readonly number[];
  /** Shortest text it can match anything in. */
  readonly minLength: number;
  scan(text: string, out: Match[]): void;
  find(text: string): Match[];
}

export function runsOn(d: ScanDetector, features: number, length: number): boolean {
  if (length < d.minLength) return false;
  for (const need of d.needs) if ((features & need) === need) return true;
  return false;
}

export interface DetectorTraits {
  readonly priority: number;
  readonly needs: readonly number[];
  readonly minLength: number;
}

export function defineDetector(name: string, traits: DetectorTraits, scan: (text: string, out: Match[]) => void): ScanDetector {
  return {
    name,
    ...traits,
    scan,
    find(text: string): Match[] {
      const out: Match[] = [];
      scan(text, out);
      return out;
    },
  };
}
