// Reproducible inputs for the masking benches: PII-free text (prose, log lines, order numbers,
// versions, URLs), PII-dense text (about one sensitive value per 60 bytes), and short cell values.
// Seeded, so two runs (before and after a change) mask exactly the same bytes.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const distUrl = (rel) => pathToFileURL(resolve(import.meta.dirname, '../dist', rel)).href;

export async function createCorpus(seed = 42) {
  const { createRng, luhnCheckDigit } = await import(distUrl('demo/random.js'));
  const r = createRng(seed);
  const int = (a, b) => a + Math.floor(r() * (b - a + 1));
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const digits = (n) => Array.from({ length: n }, () => int(0, 9)).join('');
  const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
  const alnum = (n) => Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[int(0, 61)]).join('');

  const WORDS = ('the customer order was shipped after payment cleared and the invoice went out to the billing team ' +
    'who reviewed the account balance before closing the ticket with a short note about delivery times').split(' ');
  const luhnComplete = (partial) => partial + luhnCheckDigit(partial);

  const cleanPieces = [
    () => Array.from({ length: int(6, 16) }, () => pick(WORDS)).join(' ') + '. ',
    () => `2024-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${digits(3)}Z INFO request_id=${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)} status=200 duration_ms=${int(1, 900)}\n`,
    () => `order ORD-${int(2019, 2025)}-${digits(6)} total $${int(1, 999)}.${digits(2)} qty ${int(1, 9)} `,
    () => `version ${int(0, 9)}.${int(0, 30)}.${int(0, 99)} build ${hex(40)} `,
    () => `GET /api/v2/customers/${int(1, 99999)}/orders?page=${int(1, 9)} HTTP/1.1 `,
  ];
  const piiPieces = [
    () => `card ${luhnComplete('4' + digits(14))} `,
    () => `card ${luhnComplete('5' + int(1, 5) + digits(13)).replace(/(\d{4})(?=\d)/g, '$1 ')} `,
    () => `mail ${pick(WORDS)}.${pick(WORDS)}${int(1, 99)}@example.com `,
    () => `ssn ${String(int(1, 665)).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')} `,
    () => `call +1 ${int(201, 989)}-555-01${digits(2)} `,
    () => `token=ghp_${alnum(36)} `,
    () => `key sk_live_${alnum(24)} `,
  ];

  function generate(bytes, pieces) {
    const parts = [];
    let len = 0;
    while (len < bytes) {
      const p = pick(pieces)();
      parts.push(p);
      len += p.length;
    }
    return parts.join('');
  }

  return {
    /** PII-free text mixing words, log lines, order numbers, versions and URLs. */
    clean: (mb) => generate(mb * 1e6, cleanPieces),
    /** Only words. */
    prose: (mb) => generate(mb * 1e6, [cleanPieces[0]]),
    /** Roughly one PII value per 60 bytes of surrounding clean text. */
    dense: (mb) => generate(mb * 1e6, [...cleanPieces, ...piiPieces, ...piiPieces, ...piiPieces]),
    /** Short cell values: ids, words, timestamps, UUIDs, prices, emails, card numbers. */
    shortValues(n) {
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push(
          pick([
            () => String(int(1, 1e6)),
            () => `${pick(WORDS)} ${pick(WORDS)}`,
            () => `2024-0${int(1, 9)}-1${int(0, 9)} 12:${int(10, 59)}:00+00`,
            () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
            () => `${int(1, 999)}.${digits(2)}`,
            () => `${pick(WORDS)}${int(1, 99)}@example.com`,
            () => luhnComplete('4' + digits(14)),
          ])(),
        );
      }
      return out;
    },
  };
}

// CPU time of this process (user + system), not wall time: "per core" even when other work
// shares the machine. On an idle machine the two agree.
export function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Best CPU and wall time of `rounds` calls of fn, in seconds. */
export function measureBest(fn, rounds) {
  let bestCpu = Infinity;
  let bestWall = Infinity;
  for (let k = 0; k < rounds; k++) {
    const c0 = cpuSeconds();
    const t0 = process.hrtime.bigint();
    fn();
    bestWall = Math.min(bestWall, Number(process.hrtime.bigint() - t0) / 1e9);
    bestCpu = Math.min(bestCpu, cpuSeconds() - c0);
  }
  return { cpu: bestCpu, wall: bestWall };
}

/**
 * maskText throughput over `text` cut into `chunk`-character calls (cells and log lines arrive as
 * separate strings, so chunking shows per-call overhead too). MB/s per CPU-second and wall clock.
 */
export function maskThroughput(masker, text, chunk, rounds) {
  const chunks = [];
  for (let i = 0; i < text.length; i += chunk) chunks.push(text.slice(i, i + chunk));
  for (const c of chunks.slice(0, 200)) masker.maskText(c);
  let hits = 0;
  const t = measureBest(() => {
    hits = 0;
    for (const c of chunks) {
      const res = masker.maskText(c);
      for (const v of Object.values(res.counts)) hits += v;
    }
  }, rounds);
  const mb = text.length / 1e6;
  return { cpuMBs: mb / t.cpu, wallMBs: mb / t.wall, hits };
}
