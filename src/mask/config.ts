import { z } from 'zod';
import { compileColumnPattern } from './columns.js';
import { CUSTOM_VALIDATORS, checkPatternSafety } from './detectors/custom.js';
import { BUILTIN_DETECTOR_NAMES, DEFAULT_DETECTORS } from './detectors/index.js';
import { MASK_STYLES, type MaskStyle } from './types.js';

const styleSchema = z.enum(MASK_STYLES as [MaskStyle, ...MaskStyle[]]);

const labelSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,47}$/i, 'labels use letters, digits, "-" and "_" (max 48)');

const columnPatternSchema = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    try {
      compileColumnPattern(pattern);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

export const maskingRuleSchema = z
  .object({
    /** Globs (`*.ssn`, `*password*`, `customers.card_number`) or `/regex/flags` on column names. */
    columns: z.array(columnPatternSchema).min(1),
    style: styleSchema.default('redact'),
    /** Shown in `[REDACTED:label]` and `tok_label_…`; a detector name also picks its partial form and normalisation. */
    label: labelSchema.optional(),
  })
  .strict();

export const customDetectorSchema = z
  .object({
    name: labelSchema,
    /** A JavaScript regex source; must pass the linear-time check (bounded quantifiers only). */
    pattern: z.string().min(1).max(2000),
    flags: z.string().regex(/^[imsu]*$/, 'flags may only use i, m, s and u').optional(),
    validator: z.enum(CUSTOM_VALIDATORS).optional(),
    style: styleSchema.optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    try {
      checkPatternSafety(d.pattern);
      new RegExp(d.pattern, `${d.flags ?? ''}g`);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: (err as Error).message });
    }
  });

const detectorNameSchema = z.enum(BUILTIN_DETECTOR_NAMES);

/**
 * `masking:` section. Embed with `maskingSchema.prefault({})` so an absent section gets every
 * default (zod 4's `.default({})` would skip the inner defaults).
 */
export const maskingSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Built-in content detectors to run; default: all but `ipv4` and `ipv6`. */
    detectors: z.array(detectorNameSchema).default(() => [...DEFAULT_DETECTORS]),
    /** Style of detector hits. */
    style: styleSchema.default('redact'),
    /** Per-detector style overrides, e.g. `{ email: 'hash', card: 'partial' }`. */
    styles: z.partialRecord(detectorNameSchema, styleSchema).default(() => ({})),
    /** Whole-value rules by column; the first matching rule wins. */
    rules: z.array(maskingRuleSchema).default(() => []),
    /** Columns known to be safe: no detection at all (a matching rule still wins). */
    exempt: z.array(columnPatternSchema).default(() => []),
    custom: z.array(customDetectorSchema).default(() => []),
    /** Identity groups that see clear values (the gateway decides; see `Masker.seesClearValues`). */
    unmaskedGroups: z.array(z.string().min(1)).default(() => []),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>(BUILTIN_DETECTOR_NAMES);
    m.custom.forEach((d, i) => {
      if (d.name === 'withheld' || seen.has(d.name)) {
        ctx.addIssue({ code: 'custom', path: ['custom', i, 'name'], message: `detector name "${d.name}" is already taken` });
      }
      seen.add(d.name);
    });
  });

export type MaskingConfig = z.infer<typeof maskingSchema>;
export type MaskingConfigInput = z.input<typeof maskingSchema>;
export type MaskingRule = z.infer<typeof maskingRuleSchema>;
export type CustomDetectorConfig = z.infer<typeof customDetectorSchema>;

export function parseMaskingConfig(input: unknown = {}): MaskingConfig {
  return maskingSchema.parse(input ?? {});
}
