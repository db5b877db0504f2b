/**
 * SQL classification with the real PostgreSQL parser (libpg_query, PostgreSQL 18, as WASM).
 * No regular expression ever looks at the SQL: a query string is parsed into statements, each
 * statement's tree is walked, and the most severe class of its statements decides the query.
 *
 * Usage: `await initClassifier()` once at start-up; then `classifySql(text)` is synchronous and
 * cached by exact text (a repeated or prepared statement costs a Map lookup). The policy asks
 * `classifyForPolicy(text)`, which is also cached by the text's shape (its literals blanked, see
 * shape.ts), so `… WHERE id = 17` after `… WHERE id = 16` is not parsed again either: that only
 * happens for plain SELECT/INSERT/UPDATE/DELETE whose class did not depend on any literal's value
 * (`set_config('role', …)` does, so such a query is always classified on its own).
 *
 * Decisions (the product spec left these open):
 * - Severity, most severe first: admin > privilege > destructive > procedural > ddl > write >
 *   session > transaction > read (see CLASS_SEVERITY in classes.ts for why).
 * - Empty text, or only comments and semicolons: zero statements, class `read` (an allowed no-op).
 * - Text the parser rejects, or too deeply nested to parse safely: SqlParseError (denied).
 * - Row locks (`SELECT … FOR UPDATE/SHARE`, `LOCK TABLE`) and advisory locks are `write`: they need
 *   UPDATE privilege (row locks) and make other sessions wait.
 * - `SELECT … INTO t` is `ddl`, like the `CREATE TABLE AS` it is: as `write` it would let a
 *   write-only policy create tables.
 * - `nextval`/`setval`, large-object writes (`lo_create`, `lo_put`, `lo_unlink`…) are `write`;
 *   `lo_import`/`lo_export` (server files) are `admin`.
 * - VACUUM, ANALYZE, CLUSTER, REINDEX, REFRESH MATERIALIZED VIEW are `ddl` (owner-only maintenance
 *   with heavy locks, no data change); CHECKPOINT is `admin`.
 * - CREATE/ALTER/DROP DATABASE and TABLESPACE, extensions, servers, foreign data wrappers, user
 *   mappings, publications, subscriptions, event triggers, languages, access methods are `admin`
 *   (DROP of those is reported as destructive too; admin outranks it).
 * - ALTER … OWNER TO, row-level-security policies and switches, SECURITY DEFINER functions,
 *   DISCARD ALL (it resets the session authorization and role) and `set_config('role', …)` are
 *   `privilege`. `RESET ALL` is `session` (it does not reset the role). `set_config` with a
 *   computed setting name and `UPDATE pg_settings` can change any setting: `admin`.
 * - The gateway parses with standard_conforming_strings on and reads UTF-8. Setting
 *   standard_conforming_strings off or client_encoding to anything but UTF8 would make the server
 *   read string literals differently from the gateway (`'x\' || '; drop table t; --'`): `admin`.
 *   A NUL character is refused (the parser would stop reading there).
 * - ALTER TABLE … DROP COLUMN is `destructive`.
 * - SHOW, SET (other settings), RESET, LISTEN/NOTIFY/UNLISTEN, DISCARD, DEALLOCATE and CLOSE are
 *   `session`; FETCH and MOVE are `read` (what the cursor computes was classified at DECLARE, whose
 *   class is its query's). SET of a few superuser-only settings that disable integrity checks or
 *   logging (session_replication_role, log_*, …) is `admin`.
 * - EXPLAIN ANALYZE is classified as the statement it runs; plain EXPLAIN is `read`.
 * - PREPARE is classified as the statement it prepares. EXECUTE of a statement prepared earlier in
 *   the same text is classified like it; otherwise EXECUTE is `procedural` (the gateway cannot
 *   see the prepared text from here).
 * - DO is `procedural`, and more when its PL/pgSQL body is known to do more (the body is parsed:
 *   `DO $$ BEGIN DELETE FROM t; END $$` is destructive). CALL is `procedural`.
 * - CREATE FUNCTION/PROCEDURE is `ddl`: its body does not run at CREATE time. Its body (SQL or
 *   PL/pgSQL) is still analysed and listed in the reasons, and calls of known dangerous functions
 *   in it (or in views, defaults, rules) raise the class, because the later `SELECT f()` will not
 *   show them. Untrusted languages (C, plpython3u…) are `admin`.
 * - Function names match as PostgreSQL resolves them: unquoted names are case-folded by the
 *   parser (`PG_TERMINATE_BACKEND(1)` matches), a quoted `"PG_TERMINATE_BACKEND"` is another
 *   function and does not; any schema matches (`pg_catalog.x`, or an extension's schema).
 * - Statement types this classifier does not know (a newer PostgreSQL) are `admin` (fail closed).
 * - Limits: calls of user-defined functions cannot be seen into, and are `read` in a SELECT;
 *   triggers and rules fire unseen. The CREATE statements that install such code are the gate.
 */
import { type Context, analyzeStatement, literalValueReads, newContext } from './analyze.js';
import { type StatementClass, moreSevere } from './classes.js';
import { LruCache, type LruStats } from './lru.js';
import { loadParser, parseStatements, parserStats } from './parser.js';
import { literalShape } from './shape.js';

export { CLASS_SEVERITY, moreSevere, severityRank, type StatementClass } from './classes.js';
export { ClassifierNotReadyError, SqlParseError } from './errors.js';

export interface ClassifiedStatement {
  readonly class: StatementClass;
  /** The parser's node type, e.g. `DeleteStmt`. */
  readonly kind: string;
  /** This statement's source text (whitespace-trimmed). */
  readonly text: string;
  /** Why it has its class, e.g. `DELETE without WHERE (DELETE FROM t)`, `calls pg_terminate_backend (…)`. */
  readonly reasons: readonly string[];
  /** Relations it touches, schema-qualified when the text qualifies them, quoted when needed. */
  readonly tables: readonly string[];
}

/** What a policy decision needs of a classification. */
export interface PolicyClass {
  /** The most severe class of the statements; `read` when there are none. */
  readonly class: StatementClass;
  readonly statementCount: number;
}

export interface Classification extends PolicyClass {
  readonly statements: readonly ClassifiedStatement[];
}

/** Loads the parser (WASM) once. Idempotent; classifySql throws until it has resolved. */
export async function initClassifier(): Promise<void> {
  await loadParser();
}

export const DEFAULT_CACHE_ENTRIES = 10_000;
/** Characters of query text kept alive by the cache (about 2 bytes each). */
export const DEFAULT_CACHE_CHARS = 16 * 1024 * 1024;

const cache = new LruCache<string, Classification>(DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_CHARS);
/** Policy classes by text shape (only for texts whose class does not depend on literal values). */
const shapeCache = new LruCache<string, PolicyClass>(DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_CHARS);

/**
 * Statement types whose class can be reused for every text of the same shape, provided the
 * analysis read no literal value. Other statements carry values that decide their class in places
 * the analysis reads directly (COPY's file, LOAD's library, CREATE FUNCTION's body, DO…), so they
 * are only cached by exact text.
 */
const SHAPE_CACHEABLE_KINDS: ReadonlySet<string> = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt']);

/**
 * Parses and classifies a query string (possibly several statements). Cached by exact text: the
 * same text returns the same (frozen) object. Throws SqlParseError when the text does not parse.
 */
export function classifySql(sql: string): Classification {
  const hit = cache.get(sql);
  if (hit !== undefined) return hit;
  const c = classifySqlUncached(sql);
  cache.set(sql, c, sql.length + 64);
  return c;
}

/**
 * The class of a query string, for a policy decision: cached by exact text and by shape. Throws
 * SqlParseError when the text does not parse (nothing that fails to parse is ever cached).
 */
export function classifyForPolicy(sql: string): PolicyClass {
  const hit = cache.get(sql);
  if (hit !== undefined) return hit;
  const shape = literalShape(sql);
  if (shape !== null) {
    const byShape = shapeCache.get(shape);
    if (byShape !== undefined) return byShape;
  }
  const readsBefore = literalValueReads();
  const c = classifySqlUncached(sql);
  if (shape !== null && literalValueReads() === readsBefore && c.statements.every((st) => SHAPE_CACHEABLE_KINDS.has(st.kind))) {
    shapeCache.set(shape, Object.freeze({ class: c.class, statementCount: c.statementCount }), shape.length + 64);
  } else {
    cache.set(sql, c, sql.length + 64);
  }
  return c;
}

/** The same as classifySql without the cache (for benchmarks and one-off use). */
export function classifySqlUncached(sql: string): Classification {
  const parsed = parseStatements(sql);
  const ctx: Context = newContext();
  let cls: StatementClass = 'read';
  const statements: ClassifiedStatement[] = [];
  for (const p of parsed) {
    const { findings, kind } = analyzeStatement(p.node, p.text, ctx);
    cls = moreSevere(cls, findings.cls);
    statements.push(
      Object.freeze({
        class: findings.cls,
        kind,
        text: p.text,
        reasons: Object.freeze(findings.reasons),
        tables: Object.freeze([...findings.tables]),
      }),
    );
  }
  return Object.freeze({ class: cls, statementCount: statements.length, statements: Object.freeze(statements) });
}

export interface ClassifierCacheStats extends LruStats {
  /** Texts refused before parsing because they could nest deeper than the parser's stack. */
  readonly guardRefusals: number;
  /** Parser stack overflows the guard did not foresee (each leaks the parse's WASM memory). */
  readonly stackOverflows: number;
  /** The cache of policy classes by text shape. */
  readonly shape: LruStats;
}

export function classifierCacheStats(): ClassifierCacheStats {
  return { ...cache.stats(), guardRefusals: parserStats.guardRefusals, stackOverflows: parserStats.stackOverflows, shape: shapeCache.stats() };
}

/** Empties the caches and zeroes their counters. */
export function clearClassifierCache(): void {
  cache.clear();
  shapeCache.clear();
}

/** Changes the cache bounds (entries, and characters of text kept). */
export function configureClassifierCache(opts: { maxEntries?: number; maxChars?: number }): void {
  const s = cache.stats();
  cache.resize(opts.maxEntries ?? s.maxEntries, opts.maxChars ?? s.maxWeight);
  shapeCache.resize(opts.maxEntries ?? s.maxEntries, opts.maxChars ?? s.maxWeight);
}
