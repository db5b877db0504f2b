import { beforeAll, describe, expect, it } from 'vitest';
import {
  SqlParseError,
  classifierCacheStats,
  classifyForPolicy,
  classifySqlUncached,
  clearClassifierCache,
  initClassifier,
} from '../../src/policy/sql/classify.js';
import { literalShape } from '../../src/policy/sql/shape.js';

beforeAll(async () => {
  await initClassifier();
});

describe('literalShape', () => {
  it('blanks string and numeric literals and keeps everything else', () => {
    expect(literalShape('SELECT abalance FROM pgbench_accounts WHERE aid = 399843;')).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = 0;');
    expect(literalShape("select 'it''s', 1.5, 2e10, 3.e-2, .5 from t1 where c = 'x'")).toBe("select '', 0, 0, 0, .0 from t1 where c = ''");
    expect(literalShape("select a from t where b in ('x', 'y')  -- it's 42\n and c > 7 /* 'nested /* 9 */ ' */")).toBe(
      "select a from t where b in ('', '')  -- it's 42\n and c > 0 /* 'nested /* 9 */ ' */",
    );
    // Quoted identifiers and identifiers with digits are names, not literals.
    expect(literalShape('select "col 1", "a""b", t2.c3 from "t 4" t2')).toBe('select "col 1", "a""b", t2.c3 from "t 4" t2');
    expect(literalShape('select 1')).toBe('select 0');
    expect(literalShape('select now()')).toBe('select now()');
  });

  it('gives the same shape to texts that differ only inside literals', () => {
    expect(literalShape("update t set a = 'x' where id = 5")).toBe(literalShape("update t set a = 'another value' where id = 123456"));
    expect(literalShape('select 1')).not.toBe(literalShape('select a'));
    expect(literalShape("select 'a'")).not.toBe(literalShape('select 1'));
  });

  it('gives up on anything whose lexing it does not follow exactly', () => {
    for (const sql of [
      "select E'a\\'b'", // backslash: escape strings, standard_conforming_strings off
      "select 'a\\'",
      'select $$x$$',
      'select $1',
      "select e'x'",
      "select B'101', X'ff', N'x'",
      "select U&'d!0061t' UESCAPE '!'",
      'select U&"d!0061t" UESCAPE \'!\'',
      "select int'5'",
      "select 'unterminated",
      'select "unterminated',
      'select 1 /* unterminated',
      'select 1 /* /* nested, unterminated */',
      'select 0x1f',
      'select 1e',
      'select 1ex',
      'select 1_000',
      'select 1.2.3',
      'select 5abc',
      "select 5'x'",
      'select 1;\u0000 drop table t',
    ]) {
      expect(literalShape(sql), sql).toBeNull();
    }
  });
});

describe('classifyForPolicy: cached by shape', () => {
  it('classifies a text of a known shape without parsing it again', () => {
    clearClassifierCache();
    expect(classifyForPolicy('SELECT abalance FROM pgbench_accounts WHERE aid = 1').class).toBe('read');
    const before = classifierCacheStats().shape;
    for (let aid = 2; aid < 50; aid++) expect(classifyForPolicy(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid}`).class).toBe('read');
    const after = classifierCacheStats().shape;
    expect(after.hits - before.hits).toBe(48);
    expect(after.size).toBe(1);
    expect(classifyForPolicy("DELETE FROM t WHERE name = 'x'").class).toBe('write');
    expect(classifyForPolicy("DELETE FROM t WHERE name = 'y'").class).toBe('write');
    expect(classifyForPolicy('DELETE FROM t').class).toBe('destructive');
  });

  // Each pair differs only in a literal, and the literal decides the class: the second must never
  // be answered from the first's cache entry.
  const pairs: readonly (readonly [string, string])[] = [
    ["SELECT set_config('work_mem', '1MB', false)", "SELECT set_config('role', 'postgres', false)"],
    ["SELECT set_config('application_name', 'x', false)", "SELECT set_config('standard_conforming_strings', 'off', false)"],
    ['SET standard_conforming_strings = 1', 'SET standard_conforming_strings = 0'],
    ["SET client_encoding = 'UTF8'", "SET client_encoding = 'SQL_ASCII'"],
    ["DO 'begin perform 1; end'", "DO 'begin delete from t; end'"],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select pg_terminate_backend(1)'"],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE 'sql' AS 'select 1'", "CREATE FUNCTION f() RETURNS int LANGUAGE 'plpython3u' AS 'select 1'"],
    ["SELECT query_to_xml('select 1', true, true, '')", "SELECT query_to_xml('delete from t returning 1', true, true, '')"],
  ];
  for (const [first, second] of pairs) {
    it(`does not reuse "${first}" for "${second}"`, () => {
      clearClassifierCache();
      expect(classifyForPolicy(first).class).toBe(classifySqlUncached(first).class);
      expect(classifyForPolicy(second).class).toBe(classifySqlUncached(second).class);
      expect(classifySqlUncached(second).class).not.toBe(classifySqlUncached(first).class);
    });
  }

  it('agrees with an uncached classification for literal variants of many statements', () => {
    const texts = [
      'select 1',
      "select lower('X'), now(), count(*) from t group by 1 having count(*) > 5",
      "insert into t (a, b) values (1, 'x'), (2, 'y') returning id",
      "update t set a = 1, b = 'z' where id = 7",
      "delete from t where created < now() - interval '30 days'",
      "with d as (delete from t where id = 3 returning *) select * from d",
      "select pg_terminate_backend(1234)",
      "select pg_advisory_lock(5)",
      "select nextval('s')",
      "select * from t for update",
      "select lo_import('/etc/passwd')",
      "select pg_read_file('/etc/passwd', 0, 100)",
      "select set_config('work_mem', '4MB', true)",
      "select current_setting('role')",
      "select 1; delete from t where id = 2",
      "select * from t where a = 'x' -- and b = 'y'\n limit 10",
    ];
    const variants = (sql: string): string[] => [
      sql.replace(/\d+/g, (d) => String(Number(d) + 11)),
      sql.replace(/'[^']*'/g, "'role'"),
      sql.replace(/'[^']*'/g, "'standard_conforming_strings'"),
      sql.replace(/'[^']*'/g, "'drop table t'"),
    ];
    for (const sql of texts) {
      for (const v of variants(sql)) {
        clearClassifierCache();
        classifyForPolicy(sql);
        let expected: string;
        try {
          expected = classifySqlUncached(v).class;
        } catch (err) {
          expect(err).toBeInstanceOf(SqlParseError);
          expect(() => classifyForPolicy(v)).toThrow(SqlParseError);
          continue;
        }
        expect(classifyForPolicy(v).class, v).toBe(expected);
      }
    }
  });

  it('never caches a text that does not parse', () => {
    clearClassifierCache();
    expect(() => classifyForPolicy('SELEC 1')).toThrow(SqlParseError);
    expect(() => classifyForPolicy('SELEC 2')).toThrow(SqlParseError);
    expect(classifierCacheStats().shape.size).toBe(0);
  });
});
