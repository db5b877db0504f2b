import { loadModule, parseSync } from 'libpg-query';
await loadModule();
const q = 'select 1' + '+1'.repeat(200000);
try { parseSync(q) } catch (e) { console.log(e.stack.split('\n').slice(0,8).join('\n')); }
for (let n of [1000, 3000, 5000, 10000, 20000, 50000]) {
  try { parseSync('select 1' + '+1'.repeat(n)); console.log(n, 'ok'); } catch (e) { console.log(n, 'ERR', e.message); }
}
for (let n of [1000, 3000, 5000, 10000, 20000]) {
  try { parseSync('select 1' + ' union all select 1'.repeat(n)); console.log('u', n, 'ok'); } catch (e) { console.log('u', n, 'ERR', e.message); }
}
const before = process.memoryUsage().rss;
for (let i = 0; i < 30; i++) { try { parseSync(q) } catch {} }
console.log('rss MB', (before/1e6).toFixed(0), (process.memoryUsage().rss/1e6).toFixed(0));
console.log(JSON.stringify(parseSync("select a from t where b = 'x'")).slice(0,300));
