import { loadModule, parseSync, scanSync } from 'libpg-query';
await loadModule();
const gens = {
  plus: n => 'select 1' + '+1'.repeat(n),
  union: n => 'select 1' + ' union all select 1'.repeat(n),
  cast: n => 'select 1' + '::int'.repeat(n),
  parens: n => 'select ' + '('.repeat(n) + '1' + ')'.repeat(n),
  sub: n => 'select ' + '(select '.repeat(n) + '1' + ')'.repeat(n),
  not: n => 'select ' + 'not '.repeat(n) + 'true',
  neg: n => 'select ' + '- '.repeat(n) + '1',
  func: n => 'select ' + 'f('.repeat(n) + '1' + ')'.repeat(n),
  arr: n => 'select ' + 'array['.repeat(n) + '1' + ']'.repeat(n),
  concat: n => "select 'a'" + " || 'a'".repeat(n),
  caseq: n => 'select ' + 'case when true then '.repeat(n) + '1' + ' end'.repeat(n),
  orand: n => 'select 1 where ' + Array.from({length:n},(_, i)=>'(a='+i+' or b=1)').join(' and '),
  isnull: n => 'select 1' + ' is null'.repeat(n),
  jsonarrow: n => "select j" + "->'a'".repeat(n),
  with: n => 'with ' + Array.from({length:n},(_, i)=>'c'+i+' as (select 1)').join(',') + ' select 1',
  join: n => 'select * from t0' + Array.from({length:n},(_, i)=>' join t'+(i+1)+' on true').join(''),
  crossjoin: n => 'select * from ' + Array.from({length:n},(_, i)=>'t'+i).join(','),
  fromsub: n => 'select * from ' + '(select * from '.repeat(n) + 't' + ') x'.repeat(n),
};
function ok(q) { try { parseSync(q); return 'ok'; } catch (e) { return e instanceof RangeError ? 'overflow' : 'err:' + e.message.slice(0, 40); } }
for (const [name, g] of Object.entries(gens)) {
  let lo = 1, hi = 200000, lastErr = '';
  if (ok(g(hi)) === 'ok') { console.log(name, 'ok at', hi); continue; }
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; const r = ok(g(mid)); if (r === 'ok') lo = mid; else { hi = mid; lastErr = r; } }
  console.log(name, 'max ok', lo, 'then', lastErr, 'len', g(hi).length);
}
