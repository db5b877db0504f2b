import { loadModule, parseSync } from 'libpg-query';
await loadModule();
function t(label, q) {
  const t0 = performance.now();
  try { const r = parseSync(q); console.log(label, q.length, 'ok', r.stmts.length, (performance.now()-t0).toFixed(1)+'ms'); }
  catch (e) { console.log(label, q.length, 'ERR', e.constructor.name, String(e.message).slice(0,200), (performance.now()-t0).toFixed(1)+'ms'); }
}
t('union1MB', 'select 1' + ' union all select 1'.repeat(Math.ceil(1e6/18)));
t('after', 'select 1');
t('parens', 'select ' + '('.repeat(10000) + '1' + ')'.repeat(10000));
t('after', 'select 1');
t('sub', 'select ' + '(select '.repeat(5000) + '1' + ')'.repeat(5000));
t('after', 'select 1');
t('plus', 'select 1' + '+1'.repeat(200000));
t('after', 'select 1');
t('in', 'select 1 where 1 in (' + Array.from({length:100000},(_, i)=>i).join(',') + ')');
t('after', 'select 1');
t('and', 'select 1 where ' + Array.from({length:50000},(_, i)=>'a='+i).join(' and '));
t('after', 'select 1');
