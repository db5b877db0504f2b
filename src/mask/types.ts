/** How a sensitive value is replaced. */
export type MaskStyle = 'redact' | 'partial' | 'hash' | 'null';

export const MASK_STYLES: readonly MaskStyle[] = ['redact', 'partial', 'hash', 'null'];

/** A sensitive span `[start, end)` of a text (UTF-16 offsets, like `String.prototype.slice`). */
export interface Match {
  readonly detector: string;
  readonly start: number;
  readonly end: number;
}

/** The public shape of a detector: anything with a name that can find spans. */
export interface Detector {
  readonly name: string;
  find(text: string): Match[];
}
