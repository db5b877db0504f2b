/**
 * The parser reports positions as byte offsets into the UTF-8 encoding of the query; JavaScript
 * strings index UTF-16 code units. This maps one to the other without copying the string.
 */
export class Utf8Offsets {
  private readonly ascii: boolean;
  /** Memo of the last mapping, so increasing offsets (statement after statement) cost O(n) in total. */
  private lastByte = 0;
  private lastChar = 0;

  constructor(private readonly text: string) {
    let ascii = true;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    this.ascii = ascii;
  }

  /** The UTF-16 index of the character that starts at `byteOffset` (clamped to the string). */
  charIndex(byteOffset: number): number {
    if (byteOffset <= 0) return 0;
    if (this.ascii) return Math.min(byteOffset, this.text.length);
    let byte = 0;
    let i = 0;
    if (byteOffset >= this.lastByte) {
      byte = this.lastByte;
      i = this.lastChar;
    }
    const s = this.text;
    while (i < s.length && byte < byteOffset) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        byte += 1;
        i += 1;
      } else if (c < 0x800) {
        byte += 2;
        i += 1;
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        byte += 4;
        i += 2;
      } else {
        // Any other BMP character, and lone surrogates (encoded as 3 bytes, like U+FFFD).
        byte += 3;
        i += 1;
      }
    }
    this.lastByte = byte;
    this.lastChar = i;
    return i;
  }

  /** The text between two byte offsets; `endByte` undefined means to the end. */
  slice(startByte: number, endByte?: number): string {
    const start = this.charIndex(startByte);
    const end = endByte === undefined ? this.text.length : this.charIndex(endByte);
    return this.text.slice(start, end);
  }
}

/** Position of a UTF-16 index counted in characters (code points) from 1, as PostgreSQL reports it. */
export function characterPosition(text: string, charIndex: number): number {
  let n = 1;
  for (let i = 0; i < charIndex && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    n++;
  }
  return n;
}
