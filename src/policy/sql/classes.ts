/**
 * Statement classes and their severity. A policy decides allow / deny / review per class; when one
 * query string holds several statements, the most severe class decides.
 */

export type StatementClass = 'read' | 'write' | 'ddl' | 'destructive' | 'privilege' | 'admin' | 'procedural' | 'transaction' | 'session';

/**
 * Most severe first:
 *
 * 1. `admin`       reaches outside the database's data: server files and programs, other sessions,
 *                  server configuration, extensions, databases, tablespaces, replication.
 * 2. `privilege`   changes who may do what: roles, grants, ownership, row-level security,
 *                  the session's role or authorization.
 * 3. `destructive` loses data wholesale: DROP, TRUNCATE, DELETE/UPDATE without WHERE, DROP COLUMN.
 * 4. `procedural`  runs code whose effect is not visible in the text (DO, CALL, EXECUTE of a prepared
 *                  statement the gateway has not seen, dynamic SQL). It ranks above `ddl` and `write`
 *                  because it may do either; known-destructive and known-admin statements rank above it
 *                  because what they do is certain.
 * 5. `ddl`         changes the schema or stored code (CREATE/ALTER, COMMENT, maintenance such as
 *                  VACUUM/ANALYZE/REINDEX/CLUSTER/REFRESH MATERIALIZED VIEW, SELECT … INTO).
 * 6. `write`       changes rows (INSERT, UPDATE/DELETE with WHERE, MERGE, COPY FROM STDIN, row and
 *                  table locks, sequence and advisory-lock functions).
 * 7. `session`     changes this session's state (SET, RESET, SHOW, LISTEN/NOTIFY, DISCARD, DEALLOCATE, CLOSE).
 * 8. `transaction` transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE TRANSACTION…).
 * 9. `read`        reads (SELECT, VALUES, TABLE, EXPLAIN without ANALYZE, FETCH, COPY TO STDOUT).
 */
export const CLASS_SEVERITY: readonly StatementClass[] = Object.freeze([
  'admin',
  'privilege',
  'destructive',
  'procedural',
  'ddl',
  'write',
  'session',
  'transaction',
  'read',
] as const);

const RANK: Readonly<Record<StatementClass, number>> = Object.freeze(
  Object.fromEntries(CLASS_SEVERITY.map((c, i) => [c, CLASS_SEVERITY.length - i])) as Record<StatementClass, number>,
);

/** Higher is more severe. */
export function severityRank(c: StatementClass): number {
  return RANK[c];
}

/** The more severe of two classes. */
export function moreSevere(a: StatementClass, b: StatementClass): StatementClass {
  return RANK[b] > RANK[a] ? b : a;
}
