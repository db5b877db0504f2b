/**
 * The real PostgreSQL parser (libpg_query compiled to WebAssembly), loaded once and then called
 * synchronously. Every entry point here turns the library's failures into SqlParseError and
 * refuses text that would overflow the parser's stack (see guard.ts).
 */
import type { ParseResult, RawStmt } from 'libpg-query';
import { ClassifierNotReadyError, SqlParseError } from './errors.js';
import { DEFAULT_MAX_NESTING, GUARD_MIN_LENGTH, estimateNesting } from './guard.js';
import { Utf8Offsets, characterPosition } from './text.js';

type LibPgQuery = typeof import('libpg-query');

let lib: LibPgQuery | undefined;
let loading: Promise<void> | undefined;

/** Loads the WASM module once; concurrent and repeated calls share the same load. */
export function loadParser(): Promise<void> {
  if (lib) return Promise.resolve();
  loading ??= (async () => {
    const mod = await import('libpg-query');
    await mod.loadModule();
    lib = mod;
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

export function parserLoaded(): boolean {
  return lib !== undefined;
}

function ready(): LibPgQuery {
  if (!lib) throw new ClassifierNotReadyError();
  return lib;
}

/** Counts of refusals, for the benchmark and for operators. */
export const parserStats = { guardRefusals: 0, stackOverflows: 0 };

let maxNesting = DEFAULT_MAX_NESTING;
/** For tests: lower or raise the nesting limit; returns the previous value. */
export function setMaxNesting(limit: number): number {
  const prev = maxNesting;
  maxNesting = limit;
  return prev;
}

/** Throws SqlParseError when `sql` could nest deeper than the parser's stack allows. */
export function checkNesting(sql: string): void {
  if (sql.length < GUARD_MIN_LENGTH) return;
  const depth = estimateNesting(sql);
  if (depth > maxNesting) {
    parserStats.guardRefusals++;
    throw new SqlParseError(`statement is nested too deeply to analyse (estimated depth ${depth}, limit ${maxNesting})`, undefined);
  }
}

export interface ParsedStatement {
  /** `{ SelectStmt: {...} }` and the like. */
  readonly node: Record<string, unknown>;
  /** The statement's source text, whitespace-trimmed. */
  readonly text: string;
}

/** Parses one or more statements. Empty text and text of only comments give zero statements. */
export function parseStatements(sql: string): ParsedStatement[] {
  const pg = ready();
  if (sql.trim() === '') return [];
  // The parser reads a C string: it would stop at a NUL and never see what follows.
  const nul = sql.indexOf('\u0000');
  if (nul >= 0) throw new SqlParseError('query text contains a NUL character', characterPosition(sql, nul));
  checkNesting(sql);
  let result: ParseResult;
  try {
    result = pg.parseSync(sql);
  } catch (err) {
    throw toParseError(err, sql);
  }
  const offsets = new Utf8Offsets(sql);
  const out: ParsedStatement[] = [];
  for (const raw of (result.stmts ?? []) as RawStmt[]) {
    const node = raw.stmt as unknown;
    if (typeof node !== 'object' || node === null) continue;
    const start = raw.stmt_location ?? 0;
    const len = raw.stmt_len ?? 0;
    const text = offsets.slice(start, len > 0 ? start + len : undefined).trim();
    out.push({ node: node as Record<string, unknown>, text });
  }
  return out;
}

/** The PL/pgSQL tree of a `CREATE FUNCTION … LANGUAGE plpgsql` or `DO` statement's text. */
export function parsePlpgsql(statementText: string, body: string): unknown {
  const pg = ready();
  checkNesting(body);
  try {
    return pg.parsePlPgSQLSync(statementText);
  } catch (err) {
    throw toParseError(err, statementText);
  }
}

/** Tokens of a short text (used to split PL/pgSQL assignments); byte offsets. */
export function scanTokens(text: string): { start: number; end: number; text: string }[] {
  const pg = ready();
  checkNesting(text);
  try {
    return pg.scanSync(text).tokens;
  } catch (err) {
    throw toParseError(err, text);
  }
}

function toParseError(err: unknown, sql: string): SqlParseError {
  if (err instanceof SqlParseError) return err;
  if (err instanceof RangeError) {
    // The guard should have prevented this; the parse's memory is lost, so count it.
    parserStats.stackOverflows++;
    return new SqlParseError('statement is nested too deeply to analyse (parser stack exhausted)', undefined, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  const details = (err as { sqlDetails?: { cursorPosition?: number } } | undefined)?.sqlDetails;
  let position: number | undefined;
  if (details && typeof details.cursorPosition === 'number' && details.cursorPosition >= 0) {
    const idx = new Utf8Offsets(sql).charIndex(details.cursorPosition);
    position = characterPosition(sql, idx);
  }
  return new SqlParseError(message, position, { cause: err });
}
