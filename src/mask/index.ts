/**
 * Inline masking for the gateway: content detectors, column rules, styles. See README.md here
 * for the decisions (what each detector accepts, partial forms, hashing, fail-closed).
 */
export { createMasker, MaskConfigError, WITHHELD, WITHHELD_COUNT } from './masker.js';
export type { Masker, MaskerOptions, MaskTextResult } from './masker.js';
export { ColumnPlanner, compileColumnPattern, parseColumnRef, DEFAULT_RULE_LABEL } from './columns.js';
export type { ColumnField, ColumnRuleConfig, PlanEntry, WholeValueRule } from './columns.js';
export { maskingSchema, maskingRuleSchema, customDetectorSchema, parseMaskingConfig } from './config.js';
export type { CustomDetectorConfig, MaskingConfig, MaskingConfigInput, MaskingRule } from './config.js';
export { explainCsv, explainText, parseCsv } from './explain.js';
export type { CsvCellExplanation, CsvExplanation, ExplainCsvOptions, TextFinding } from './explain.js';
export {
  BUILTIN_DETECTORS,
  BUILTIN_DETECTOR_NAMES,
  DEFAULT_DETECTORS,
  checkPatternSafety,
  compileCustomDetector,
  UnsafePatternError,
  PATTERN_BACKTRACK_BUDGET,
} from './detectors/index.js';
export type { BuiltinDetectorName } from './detectors/index.js';
export { HASH_HEX_CHARS } from './styles.js';
export type { ScanDetector } from './scan.js';
export { MASK_STYLES } from './types.js';
export type { Detector, Match, MaskStyle } from './types.js';
