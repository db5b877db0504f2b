import { describe, expect, it } from 'vitest';
import { HASH_HEX_CHARS, MaskConfigError, WITHHELD, createMasker, type Detector } from '../../src/mask/index.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const OTHER_KEY = Buffer.from('fedcba9876543210fedcba9876543210');
const TOKEN = new RegExp(`^tok_([a-z0-9-]+)_[0-9a-f]{${HASH_HEX_CHARS}}$`);

describe('maskText', () => {
  it('leaves clean text untouched and reports nothing', () => {
    const m = createMasker({});
    const text = 'Order 1234 shipped on 2024-01-15 for $42.50';
    const r = m.maskText(text);
    expect(r).toEqual({ text, counts: {}, changed: false, nullify: false });
  });

  it('redacts each hit with a labelled marker and counts per detector', () => {
    const m = createMasker({});
    const r = m.maskText('a 4242 4242 4242 4242, b bob@example.com, c bob@example.org, 123-45-6789');
    expect(r.text).toBe('a [REDACTED:card], b [REDACTED:email], c [REDACTED:email], [REDACTED:ssn]');
    expect(r.counts).toEqual({ card: 1, email: 2, ssn: 1 });
    expect(r.changed).toBe(true);
    expect(r.nullify).toBe(false);
  });

  it('masking disabled returns the input', () => {
    const m = createMasker({ enabled: false });
    expect(m.maskText('bob@example.com').text).toBe('bob@example.com');
    expect(m.maskValue('bob@example.com', 'detect')).toBe('bob@example.com');
  });

  it('only runs the configured detectors', () => {
    const m = createMasker({ detectors: ['email'] });
    expect(m.maskText('bob@example.com 4242424242424242').text).toBe('[REDACTED:email] 4242424242424242');
    const ip = createMasker({ detectors: ['ipv4', 'ipv6'] });
    expect(ip.maskText('from 10.1.2.3 and 2001:db8::1').text).toBe('from [REDACTED:ipv4] and [REDACTED:ipv6]');
    expect(createMasker({}).maskText('from 10.1.2.3').changed).toBe(false); // ip is opt-in
  });

  it('overlapping hits: the more specific detector labels an identical span, overlaps merge', () => {
    const m = createMasker({});
    expect(m.maskText('api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc').text).toBe('api_key=[REDACTED:stripe-key]');
    expect(m.maskText('token: ghp_aB3xY7aB3xY7aB3xY7aB3xY7aB3xY7aB3xY7').text).toBe('token: [REDACTED:github-token]');
    const tail = createMasker({
      detectors: ['email'],
      custom: [{ name: 'tail', pattern: 'com x{1,8}' }],
    }).maskText('bob@example.com xx end');
    expect(tail.text).toBe('[REDACTED:email] end');
  });
});

describe('styles', () => {
  it('partial keeps what each detector allows', () => {
    const m = createMasker({ style: 'partial', detectors: ['card', 'email', 'ssn', 'phone', 'iban', 'github-token', 'jwt', 'password-assignment', 'database-url', 'ipv4'] });
    expect(m.maskText('4242 4242 4242 4242').text).toBe('**** **** **** 4242');
    expect(m.maskText('4242424242424242').text).toBe('************4242');
    expect(m.maskText('bob.smith@example.com').text).toBe('***@example.com');
    expect(m.maskText('123-45-6789').text).toBe('***-**-6789');
    expect(m.maskText('+1 415-555-2671').text).toBe('+* ***-***-**71');
    expect(m.maskText('DE89 3704 0044 0532 0130 00').text).toBe('DE** **** **** **** **30 00');
    expect(m.maskText('ghp_aB3xY7aB3xY7aB3xY7aB3xY7aB3xY7aB3xY7').text).toBe('ghp_****');
    expect(m.maskText('password=hunter2').text).toBe('password=****');
    expect(m.maskText('postgres://app:s3cr3t@db/app').text).toBe('postgres://app:****@db/app');
    expect(m.maskText('10.1.2.3').text).toBe('10.*.*.*');
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(m.maskText(jwt).text).toBe('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.****');
  });

  it('hash: deterministic keyed tokens', () => {
    const a = createMasker({ style: 'hash' }, { key: KEY });
    const b = createMasker({ style: 'hash' }, { key: Buffer.from(KEY) });
    const c = createMasker({ style: 'hash' }, { key: OTHER_KEY });
    const text = 'card 4242424242424242 mail bob@example.com';
    const ra = a.maskText(text).text;
    expect(ra).toMatch(/^card tok_card_[0-9a-f]{16} mail tok_email_[0-9a-f]{16}$/);
    expect(b.maskText(text).text).toBe(ra); // same key, another instance
    expect(a.maskText(text).text).toBe(ra); // cached path
    expect(c.maskText(text).text).not.toBe(ra); // another key
    const tokens = ra.split(' ').filter((w) => w.startsWith('tok_'));
    for (const t of tokens) expect(t).toMatch(TOKEN);
    expect(a.maskText('card 4111111111111111').text).not.toBe(a.maskText('card 4242424242424242').text);
  });

  it('hash normalises before hashing: card separators, e-mail case, phone formats', () => {
    const m = createMasker({ style: 'hash' }, { key: KEY });
    const tok = (s: string): string => m.maskText(s).text;
    expect(tok('4242 4242 4242 4242')).toBe(tok('4242424242424242'));
    expect(tok('4242-4242-4242-4242')).toBe(tok('4242424242424242'));
    expect(tok('Bob.Smith@Example.COM')).toBe(tok('bob.smith@example.com'));
    expect(tok('(415) 555-2671')).toBe(tok('+1 415-555-2671'));
    expect(tok('415.555.2671')).toBe(tok('+14155552671'));
    expect(tok('123 45 6789')).toBe(tok('123-45-6789'));
    expect(tok('DE89 3704 0044 0532 0130 00')).toBe(tok('DE89370400440532013000'));
  });

  it('a card column rule and the card detector give the same token (joins across tables)', () => {
    const m = createMasker({ style: 'hash', rules: [{ columns: ['*.card_number'], style: 'hash', label: 'card' }] }, { key: KEY });
    const [entry] = m.planColumns([{ name: 'card_number', table: 'customers' }]);
    const whole = m.maskValue('4242-4242-4242-4242', entry);
    expect(whole).toBe(m.maskText('4242 4242 4242 4242').text);
  });

  it('null: the whole value becomes NULL and the caller is told', () => {
    const m = createMasker({ styles: { ssn: 'null' } });
    const r = m.maskText('ssn 123-45-6789 and bob@example.com');
    expect(r.nullify).toBe(true);
    expect(r.changed).toBe(true);
    expect(r.text).toBe('[REDACTED:ssn]'); // for callers that cannot send NULL
    expect(r.counts).toEqual({ ssn: 1, email: 1 });
    expect(m.maskValue('ssn 123-45-6789', 'detect')).toBeNull();
    expect(m.maskValue('no pii here', 'detect')).toBe('no pii here');
  });

  it('per-detector styles override the default style', () => {
    const m = createMasker({ style: 'redact', styles: { card: 'partial', email: 'hash' } }, { key: KEY });
    const r = m.maskText('4242424242424242 bob@example.com 123-45-6789').text;
    expect(r).toMatch(/^\*{12}4242 tok_email_[0-9a-f]{16} \[REDACTED:ssn\]$/);
  });

  it('hash without a key, or with a short key, is a configuration error', () => {
    expect(() => createMasker({ style: 'hash' })).toThrow(MaskConfigError);
    expect(() => createMasker({ rules: [{ columns: ['*.ssn'], style: 'hash' }] })).toThrow(/needs a key/);
    expect(() => createMasker({ style: 'hash' }, { key: Buffer.from('short') })).toThrow(/16 bytes/);
  });
});

describe('maskValue', () => {
  const m = createMasker({ rules: [{ columns: ['*.ssn'], style: 'redact', label: 'ssn' }], exempt: ['*.sku'] });
  const [ssn, sku, notes] = m.planColumns([
    { name: 'ssn', table: 'customers' },
    { name: 'sku', table: 'products' },
    { name: 'notes', table: 'customers' },
  ]);

  it('returns the same string when nothing is masked, NULL for NULL', () => {
    const v = 'plain text';
    expect(m.maskValue(v, notes)).toBe(v);
    expect(m.maskValue(null, notes)).toBeNull();
    expect(m.maskValue(null, ssn)).toBeNull();
  });

  it('applies the plan entry and accumulates counts', () => {
    const counts: Record<string, number> = {};
    expect(m.maskValue('078-05-1120', ssn, counts)).toBe('[REDACTED:ssn]');
    expect(m.maskValue('anything at all', ssn, counts)).toBe('[REDACTED:ssn]');
    expect(m.maskValue('4242424242424242', sku, counts)).toBe('4242424242424242'); // exempt: no detection
    expect(m.maskValue('mail bob@example.com', notes, counts)).toBe('mail [REDACTED:email]');
    expect(counts).toEqual({ ssn: 2, email: 1 });
  });
});

describe('fail closed', () => {
  const throwing: Detector = {
    name: 'boom',
    find() {
      throw new Error('detector bug');
    },
  };
  const lying: Detector = { name: 'liar', find: (t) => [{ detector: 'liar', start: 0, end: t.length + 5 }] };

  it('a detector that throws withholds the value, never returns it raw', () => {
    const m = createMasker({}, { detectors: [throwing] });
    const r = m.maskText('secret customer note');
    expect(r).toEqual({ text: WITHHELD, counts: { withheld: 1 }, changed: true, nullify: false });
    const counts: Record<string, number> = {};
    expect(m.maskValue('secret customer note', 'detect', counts)).toBe(WITHHELD);
    expect(counts.withheld).toBe(1);
  });

  it('a detector returning an impossible span is treated as a failure too', () => {
    const m = createMasker({}, { detectors: [lying] });
    expect(m.maskText('abc').text).toBe(WITHHELD);
  });

  it('exempt columns do not run detectors, so they cannot fail', () => {
    const m = createMasker({ exempt: ['id'] }, { detectors: [throwing] });
    const [id] = m.planColumns([{ name: 'id' }]);
    expect(m.maskValue('42', id)).toBe('42');
  });

  it('whole-value rules do not depend on detectors', () => {
    const m = createMasker({ rules: [{ columns: ['secret'], style: 'redact' }] }, { detectors: [throwing] });
    expect(m.maskText('x', 'secret').text).toBe('[REDACTED:column]');
  });
});

describe('unmasked groups', () => {
  it('tells the gateway who sees clear values', () => {
    const m = createMasker({ unmaskedGroups: ['dba', 'security'] });
    expect(m.seesClearValues(['dev', 'dba'])).toBe(true);
    expect(m.seesClearValues(['dev'])).toBe(false);
    expect(m.seesClearValues([])).toBe(false);
  });
});

describe('hash construction', () => {
  it('is HMAC-SHA256 keyed with the derived key, truncated to 16 hex', async () => {
    const { createHash, createHmac } = await import('node:crypto');
    const { TOKEN_KEY_CONTEXT } = await import('../../src/mask/styles.js');
    const derived = createHash('sha256').update(TOKEN_KEY_CONTEXT).update(KEY).digest('hex');
    const m = createMasker({ style: 'hash' }, { key: KEY });
    for (const v of ['4242424242424242', 'bob@example.com', 'ünïcødé@example.com']) {
      const expected = createHmac('sha256', derived).update(v).digest('hex').slice(0, HASH_HEX_CHARS);
      const label = v.includes('@') ? 'email' : 'card';
      expect(m.replacement(label, v)).toBe(`tok_${label}_${expected}`);
    }
  });

  it('partial never leaks a whole odd value handed over by a column rule', () => {
    const m = createMasker({});
    expect(m.replacement('ssn', '12', 'partial')).toBe('**');
    expect(m.replacement('ssn', 'not-an-ssn', 'partial')).toBe('***-**-***');
    expect(m.replacement('card', '1234', 'partial')).toBe('****');
    expect(m.replacement('jwt', 'my.secret', 'partial')).toBe('****');
    expect(m.replacement('ipv4', 'secret.value', 'partial')).toBe('********alue');
    expect(m.replacement('iban', 'DE12', 'partial')).toBe('****');
    expect(m.replacement('column', 'short', 'partial')).toBe('*****');
  });
});

describe('partial PEM', () => {
  it('keeps the BEGIN and END lines only', () => {
    const m = createMasker({ style: 'partial' });
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----';
    expect(m.maskText(`key ${pem} end`).text).toBe('key -----BEGIN EC PRIVATE KEY-----\n****\n-----END EC PRIVATE KEY----- end');
    expect(m.maskText('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq').text).toBe('-----BEGIN PRIVATE KEY-----\n****\n');
  });
});

describe('rows as text (COPY, CSV)', () => {
  it('masks every field of a COPY text row and of a CSV row', () => {
    const m = createMasker({});
    const fields = ['ada.lovelace1@example.com', '+1 415 555 0123', '5529562243577699', '123-45-6789', 'DE89 3704 0044 0532 0130 00', 'sk_live_abcdefghijklmnopqrstuvwx'];
    const tsv = `1\tAda Lovelace\t${fields.join('\t')}\t{"card": "5529562243577699"}\t3.14`;
    const csv = `1,Ada Lovelace,${fields.join(',')},"{""card"": ""5529562243577699""}",3.14`;
    expect(m.maskText(tsv).text).toBe(
      '1\tAda Lovelace\t[REDACTED:email]\t[REDACTED:phone]\t[REDACTED:card]\t[REDACTED:ssn]\t[REDACTED:iban]\t[REDACTED:stripe-key]\t{"card": "[REDACTED:card]"}\t3.14',
    );
    expect(m.maskText(csv).text).toBe(
      '1,Ada Lovelace,[REDACTED:email],[REDACTED:phone],[REDACTED:card],[REDACTED:ssn],[REDACTED:iban],[REDACTED:stripe-key],"{""card"": ""[REDACTED:card]""}",3.14',
    );
  });
});
