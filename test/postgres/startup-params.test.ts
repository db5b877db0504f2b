import { describe, expect, it } from 'vitest';
import { checkStartupParams, parseStartupOptions } from '../../src/protocols/postgres/startup-params.js';

describe('startup parameters', () => {
  it('lets ordinary client settings through', () => {
    expect(checkStartupParams({ user: 'x', database: 'y', application_name: 'psql', client_encoding: 'UTF8', DateStyle: 'ISO, MDY', options: '-c statement_timeout=5000 --search_path=app' })).toBeNull();
  });

  it.each([
    [{ role: 'postgres' }, /role/],
    [{ session_authorization: 'postgres' }, /session_authorization/],
    [{ options: '-c role=postgres' }, /role/],
    [{ options: '-crole=postgres' }, /role/],
    [{ options: '--role=postgres' }, /role/],
    [{ options: '-c session-authorization=postgres' }, /session-authorization/],
    [{ standard_conforming_strings: 'off' }, /standard_conforming_strings/],
    [{ options: '-c standard_conforming_strings=off' }, /standard_conforming_strings/],
    [{ client_encoding: 'SJIS' }, /SJIS/],
    [{ options: '-c client_encoding=big5' }, /big5/],
    [{ options: '-D /tmp' }, /-D/],
    [{ options: '-c' }, /-c/],
    [{ backslash_quote: 'on' }, /backslash_quote/],
  ])('refuses %j', (params, message) => {
    expect(checkStartupParams(params as Record<string, string>)).toMatch(message);
  });

  it('unpacks escaped spaces in options', () => {
    expect(parseStartupOptions('-c search_path=a\\ b -c x=1').settings).toEqual([
      ['search_path', 'a b'],
      ['x', '1'],
    ]);
  });
});
