/** Check-digit and numbering-plan rules: the "is it really one" step after a shape matched. */

/** Luhn (mod 10) over the ASCII digits of `s`, ignoring every other character. */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let n = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (n % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    n++;
  }
  return n >= 2 && sum % 10 === 0;
}

/** ISO 7064 mod 97-10 as IBANs use it: first four characters moved to the end, A=10 … Z=35. */
export function mod97(compact: string): number {
  const s = compact.slice(4) + compact.slice(0, 4);
  let r = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 97 && c <= 122) c -= 32;
    if (c >= 48 && c <= 57) r = (r * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) r = (r * 100 + (c - 55)) % 97;
    else return -1;
  }
  return r;
}

/** IBAN lengths by country (SWIFT registry); countries not listed are not detected. */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22,
  GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31,
  MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SE: 24,
  SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VG: 24, XK: 20,
};

/** `compact` is upper-case alphanumerics without spaces. */
export function ibanValid(compact: string): boolean {
  const len = IBAN_LENGTHS[compact.slice(0, 2)];
  return len !== undefined && compact.length === len && /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compact) && mod97(compact) === 1;
}

/**
 * Issuer prefix (IIN) and length of payment cards. Numbers with another first digit (0, 1, 7, 8,
 * 9: ISBNs, snowflake ids, epoch timestamps…) are never cards.
 */
export function cardIssuer(d: string): string | null {
  const len = d.length;
  if (len < 13 || len > 19) return null;
  const p1 = d.charCodeAt(0) - 48;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  switch (p1) {
    case 4:
      return len === 13 || len === 16 || len === 19 ? 'visa' : null;
    case 5:
      if (p2 >= 51 && p2 <= 55) return len === 16 ? 'mastercard' : null;
      return 'maestro';
    case 2:
      if (p4 >= 2221 && p4 <= 2720) return len === 16 ? 'mastercard' : null;
      if (p4 >= 2200 && p4 <= 2204) return len >= 16 ? 'mir' : null;
      return null;
    case 3:
      if (p2 === 34 || p2 === 37) return len === 15 ? 'amex' : null;
      if (p4 >= 3528 && p4 <= 3589) return len >= 16 ? 'jcb' : null;
      if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 ? 'diners' : null;
      return null;
    case 6:
      if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) {
        if (len >= 16) return 'discover';
      } else if (p2 === 62 && len >= 16) return 'unionpay';
      // Maestro spans 56–69, so a 6… number of another length may still be one.
      return 'maestro';
    default:
      return null;
  }
}

/** `d` is digits only. */
export function isCardNumber(d: string): boolean {
  return cardIssuer(d) !== null && luhnValid(d);
}

/** SSA rules: area 000, 666 and 900–999 were never issued; group 00 and serial 0000 neither. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== '00' && serial !== '0000';
}

/** NANP: area code and exchange are NXX (N = 2–9) and not N11 service codes. `d` = 10 digits. */
export function nanpValid(d: string): boolean {
  if (d.length !== 10) return false;
  const a = d.charCodeAt(0);
  const e = d.charCodeAt(3);
  if (a < 50 || e < 50) return false;
  if (d[1] === '1' && d[2] === '1') return false;
  if (d[4] === '1' && d[5] === '1') return false;
  return true;
}
