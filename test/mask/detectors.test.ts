import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS, type BuiltinDetectorName } from '../../src/mask/index.js';
import { cardIssuer, ibanValid, luhnValid, mod97, nanpValid, ssnValid } from '../../src/mask/validators.js';
import { ipv6Valid } from '../../src/mask/detectors/network.js';
import { isSecretKeyName } from '../../src/mask/detectors/secrets.js';
import { base64url } from './fixtures/prng.js';

function found(name: BuiltinDetectorName, text: string): string[] {
  return BUILTIN_DETECTORS[name].find(text).map((m) => text.slice(m.start, m.end));
}

function expectFinds(name: BuiltinDetectorName, cases: readonly (readonly [string, string])[]): void {
  for (const [text, value] of cases) expect(found(name, text), `${name} in ${JSON.stringify(text)}`).toEqual([value]);
}

function expectNone(name: BuiltinDetectorName, texts: readonly string[]): void {
  for (const text of texts) expect(found(name, text), `${name} in ${JSON.stringify(text)}`).toEqual([]);
}

describe('validators', () => {
  it('Luhn', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(luhnValid('4242424242424241')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('4242 4242 4242 4242')).toBe(true); // separators ignored
    expect(luhnValid('0')).toBe(false); // too short to mean anything
  });

  it('issuer prefixes and lengths', () => {
    expect(cardIssuer('4242424242424242')).toBe('visa');
    expect(cardIssuer('4222222222222')).toBe('visa');
    expect(cardIssuer('5555555555554444')).toBe('mastercard');
    expect(cardIssuer('2223003122003222')).toBe('mastercard');
    expect(cardIssuer('378282246310005')).toBe('amex');
    expect(cardIssuer('3782822463100050')).toBeNull(); // Amex is 15 digits
    expect(cardIssuer('6011111111111117')).toBe('discover');
    expect(cardIssuer('3530111333300000')).toBe('jcb');
    expect(cardIssuer('36227206271667')).toBe('diners');
    expect(cardIssuer('6200000000000005')).toBe('unionpay');
    expect(cardIssuer('2200000000000004')).toBe('mir');
    expect(cardIssuer('1234567812345670')).toBeNull();
    expect(cardIssuer('9780306406157')).toBeNull();
  });

  it('mod 97 and IBAN lengths', () => {
    expect(mod97('GB82WEST12345698765432')).toBe(1);
    expect(ibanValid('DE89370400440532013000')).toBe(true);
    expect(ibanValid('DE89370400440532013001')).toBe(false);
    expect(ibanValid('DE8937040044053201300')).toBe(false); // DE is 22 long
    expect(ibanValid('XX89370400440532013000')).toBe(false);
  });

  it('SSN area, group and serial rules', () => {
    expect(ssnValid('123', '45', '6789')).toBe(true);
    expect(ssnValid('000', '45', '6789')).toBe(false);
    expect(ssnValid('666', '45', '6789')).toBe(false);
    expect(ssnValid('900', '45', '6789')).toBe(false);
    expect(ssnValid('999', '45', '6789')).toBe(false);
    expect(ssnValid('899', '45', '6789')).toBe(true);
    expect(ssnValid('123', '00', '6789')).toBe(false);
    expect(ssnValid('123', '45', '0000')).toBe(false);
  });

  it('NANP', () => {
    expect(nanpValid('4155552671')).toBe(true);
    expect(nanpValid('1235552671')).toBe(false); // area 1xx
    expect(nanpValid('4151552671')).toBe(false); // exchange 1xx
    expect(nanpValid('9115552671')).toBe(false); // N11 area
    expect(nanpValid('4159112671')).toBe(false); // N11 exchange
  });

  it('IPv6 parser', () => {
    for (const ok of ['2001:db8::1', '::1', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.128']) expect(ipv6Valid(ok), ok).toBe(true);
    for (const bad of ['10:30:45', '1::2::3', '2001:db8:85a3:0:0:8a2e:370', '12345::1', '::ffff:999.0.2.1']) expect(ipv6Valid(bad), bad).toBe(false);
  });
});

describe('card', () => {
  it('finds cards of several issuers in several formats', () => {
    expectFinds('card', [
      ['4242424242424242', '4242424242424242'],
      ['card: 4242 4242 4242 4242.', '4242 4242 4242 4242'],
      ['card 4242-4242-4242-4242 exp', '4242-4242-4242-4242'],
      ['amex 3782 822463 10005', '3782 822463 10005'],
      ['amex 378282246310005', '378282246310005'],
      ['mc 5555555555554444', '5555555555554444'],
      ['mc2 2223003122003222', '2223003122003222'],
      ['disc 6011111111111117', '6011111111111117'],
      ['jcb 3530111333300000', '3530111333300000'],
      ['diners 3622 720627 1667', '3622 720627 1667'],
      ['visa13 4222222222222', '4222222222222'],
      ['(4111111111111111)', '4111111111111111'],
      ['"4111 1111 1111 1111",', '4111 1111 1111 1111'],
      ['4242 4242 4242 4242 123 (cvv)', '4242 4242 4242 4242'],
      ['/cards/4242424242424242/charges', '4242424242424242'],
    ]);
    const two = (t: string): string[] => found('card', t);
    expect(two('4242424242424242 4111 1111 1111 1111')).toEqual(['4242424242424242', '4111 1111 1111 1111']);
    expect(two('4242 4242 4242 4242 4111 1111 1111 1111')).toEqual(['4242 4242 4242 4242', '4111 1111 1111 1111']);
    expect(two('4242-4242-4242-4242 4111-1111-1111-1111')).toEqual(['4242-4242-4242-4242', '4111-1111-1111-1111']);
    expect(two('4242424242424242,4111111111111111')).toEqual(['4242424242424242', '4111111111111111']);
  });

  it('rejects non-Luhn, wrong prefix or length, and numbers glued to something else', () => {
    expectNone('card', [
      '4242424242424241',
      '4242 4242 4242 4241',
      '1234567812345678',
      '9780306406157',
      '42424242424242424242',
      'ratio 0.4242424242424242',
      '4242424242424242.5',
      'ORD-4242424242424242',
      'order_4242424242424242',
      'x4242424242424242',
      '4242424242424242abc',
      '+4242424242424242',
      '4242-4242-4242-4242-1',
      '1234 4242 4242 4242 4242',
      '42 4242 4242 4242 4242',
      '4242 42 4242 4242 4242',
      '4242 4242-4242 4242',
      '1188877667362123456',
      'IBAN DE58 5452 3439 7464 8491 71', // an IBAN with a bad checksum is still no card
    ]);
  });

  it('is ambiguous by design where the shape is identical', () => {
    // Documented: a Luhn-valid, issuer-valid number shaped like a card is a card, even a test one.
    expect(found('card', 'test card 4242 4242 4242 4242')).toEqual(['4242 4242 4242 4242']);
    expect(found('phone', 'ticket 234-567-8901')).toEqual(['234-567-8901']);
  });
});

describe('ssn', () => {
  it('finds dashed and spaced SSNs, and bare ones after an SSN label', () => {
    expectFinds('ssn', [
      ['123-45-6789', '123-45-6789'],
      ['SSN: 078-05-1120.', '078-05-1120'],
      ['id 123 45 6789 on file', '123 45 6789'],
      ['ssn=123456789', '123456789'],
      ['Social Security Number 123456789', '123456789'],
      ['"899-99-9999"', '899-99-9999'],
    ]);
  });

  it('rejects invalid areas, groups, serials, bare digits without a label, and chains', () => {
    expectNone('ssn', [
      '000-12-3456',
      '666-12-3456',
      '900-12-3456',
      '999-12-3456',
      '123-00-4567',
      '123-45-0000',
      'invoice 123456789',
      'classnames 123456789',
      '2024-123-45-6789',
      '123-45-6789-1',
      '123-45 6789',
      'a123-45-6789',
      '1123-45-6789',
      '123-45-67890',
    ]);
  });
});

describe('email', () => {
  it('finds addresses', () => {
    expectFinds('email', [
      ['bob@example.com', 'bob@example.com'],
      ['Mail: Bob.Smith+billing@mail.example.co.uk.', 'Bob.Smith+billing@mail.example.co.uk'],
      ['<a_b-c%d@sub-domain.example.io>', 'a_b-c%d@sub-domain.example.io'],
      ['mailto:alice@example.org?subject=x', 'alice@example.org'],
      ["'carol@example.travel'", 'carol@example.travel'],
      ['key=dave@example.com', 'dave@example.com'],
      ['puny@example.xn--p1ai', 'puny@example.xn--p1ai'],
    ]);
  });

  it('rejects things with an @ that are not addresses', () => {
    expectNone('email', [
      'icon@2x.png',
      'user@localhost',
      'foo@bar',
      '@mention',
      'pkg@1.2.3',
      'a@b.c',
      '.@example.com',
      'bob.@example.com',
      'bob..smith@example.com',
      'git@github.com:org/repo.git',
      'https://bob@example.com/x',
      'postgres://user:secret@db.example.com/app',
      'bob@-example.com',
      'bob@example-.com',
    ]);
  });
});

describe('phone', () => {
  it('finds E.164 and common national formats', () => {
    expectFinds('phone', [
      ['+14155552671', '+14155552671'],
      ['call +1 415-555-2671 now', '+1 415-555-2671'],
      ['+1 (415) 555-2671', '+1 (415) 555-2671'],
      ['(415) 555-2671', '(415) 555-2671'],
      ['(415)555-2671', '(415)555-2671'],
      ['415-555-2671', '415-555-2671'],
      ['415.555.2671', '415.555.2671'],
      ['1-800-555-0199', '1-800-555-0199'],
      ['1 (800) 555-0199', '1 (800) 555-0199'],
      ['+44 20 7946 0958', '+44 20 7946 0958'],
      ['+44 (0)20 7946 0958', '+44 (0)20 7946 0958'],
      ['+442079460958', '+442079460958'],
      ['+33 6 12 34 56 78', '+33 6 12 34 56 78'],
      ['+49 151 12345678', '+49 151 12345678'],
      ['+81 90-1234-5678', '+81 90-1234-5678'],
      ['tel: +55 11 91234-5678.', '+55 11 91234-5678'],
      ['+1 415 555 2671 2024', '+1 415 555 2671'],
    ]);
  });

  it('rejects dates, versions, ids, prices and invalid numbers', () => {
    expectNone('phone', [
      '2024-01-15',
      '15/01/2024',
      '10:30:45',
      'v1.2.3',
      '10.0.19041.1234',
      '$415.55',
      '(123) 456-7890',
      '911-555-1234',
      '415-155-2671',
      '555-0199',
      '4155552671',
      '415 555 2671',
      '415-555.2671',
      '3+4155552671',
      '+0 123 456 789',
      '+1234567',
      '+05:30',
      'UTC+01:00',
      '+12.5%',
      '1.0.0+20130313144700',
      '+1 415-555-2671-99',
      '415-555-2671-1234',
      'ISBN 978-3-16-148410-0',
      '+1 123 555 2671',
    ]);
  });
});

describe('iban', () => {
  it('finds compact and printed IBANs', () => {
    expectFinds('iban', [
      ['DE89370400440532013000', 'DE89370400440532013000'],
      ['IBAN: DE89 3704 0044 0532 0130 00.', 'DE89 3704 0044 0532 0130 00'],
      ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
      ['GB82 WEST 1234 5698 7654 32', 'GB82 WEST 1234 5698 7654 32'],
      ['(NL91ABNA0417164300)', 'NL91ABNA0417164300'],
      ['FR1420041010050500013M02606', 'FR1420041010050500013M02606'],
      ['pay to BE68539007547034 today', 'BE68539007547034'],
    ]);
  });

  it('rejects bad check digits, unknown countries, wrong lengths and glued text', () => {
    expectNone('iban', [
      'DE89370400440532013001',
      'DE89 3704 0044 0532 0130 01',
      'XX89370400440532013000',
      'DE8937040044053201300',
      'DE893704004405320130000',
      'xDE89370400440532013000',
      'de89370400440532013000',
    ]);
  });
});

describe('ipv4 / ipv6 (opt-in)', () => {
  it('ipv4', () => {
    expectFinds('ipv4', [
      ['from 192.168.1.10:5432', '192.168.1.10'],
      ['10.0.0.1/8', '10.0.0.1'],
    ]);
    expectNone('ipv4', ['256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', 'v1.2.3.4x']);
  });

  it('ipv6', () => {
    expectFinds('ipv6', [
      ['addr 2001:db8::1 ok', '2001:db8::1'],
      ['[fe80::1ff:fe23:4567:890a]:443', 'fe80::1ff:fe23:4567:890a'],
    ]);
    expectNone('ipv6', ['10:30:45', 'std::vector', 'Foo::Bar', 'a:b']);
  });
});

const jwtHeader = base64url('{"alg":"HS256","typ":"JWT"}');
const jwtPayload = base64url('{"sub":"1234567890","name":"Jane"}');
const JWT = `${jwtHeader}.${jwtPayload}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;

describe('secrets', () => {
  it('aws-access-key-id', () => {
    expectFinds('aws-access-key-id', [
      ['AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
      ['key=ASIAY34FZKBOKMUTVV7A;', 'ASIAY34FZKBOKMUTVV7A'],
    ]);
    expectNone('aws-access-key-id', ['AKIAIOSFODNN7EXAMPL', 'AKIAIOSFODNN7EXAMPLE1', 'xAKIAIOSFODNN7EXAMPLE', 'AKIAXXXXXXXXXXXXXXXX', 'AKIAiosfodnn7example']);
  });

  it('aws-secret-access-key needs AWS context', () => {
    const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    expectFinds('aws-secret-access-key', [
      [`aws_secret_access_key = ${key}`, key],
      [`AWS_SECRET_ACCESS_KEY="${key}"`, key],
      [`AKIAIOSFODNN7EXAMPLE,${key}`, key],
    ]);
    expectNone('aws-secret-access-key', [
      key, // no context
      'aws sha1 3f786850e387550fdab836ed7e6dc881de23001b', // hex
      `aws ${key}x`, // 41 characters
      'aws dGhpcyBpcyBhIGxvbmcgYmFzZTY0IGJsb2IgdGg= padded', // base64 with padding
      'aws abcdefghijabcdefghijabcdefghijabcdefghij', // one case
    ]);
  });

  it('github, gitlab, slack, stripe, google tokens', () => {
    const gh = `ghp_${'aB3xY7'.repeat(6)}`;
    const pat = `github_pat_11ABCDEFG0123456789abc_${'Xy9'.repeat(19)}zz`;
    expectFinds('github-token', [
      [`token ${gh}`, gh],
      [`GH_TOKEN=${pat}`, pat],
      [`gho_${'Q1wE5t'.repeat(6)}.`, `gho_${'Q1wE5t'.repeat(6)}`],
    ]);
    expectNone('github-token', ['ghp_short', `xghp_${'aB3xY7'.repeat(6)}`, 'though high ghost', `ghx_${'aB3xY7'.repeat(6)}`, `ghp_${'x'.repeat(36)}`]);

    expectFinds('gitlab-token', [['GITLAB_TOKEN=glpat-xYz12_AbC-9876543210.', 'glpat-xYz12_AbC-9876543210']]);
    expectNone('gitlab-token', ['glpat-short', 'eglpat-xYz12_AbC-9876543210']);

    expectFinds('slack-token', [['xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx']]);
    expectNone('slack-token', ['xoxb-', 'xoxo hugs', 'xoxq-1234567890-abc', 'xoxb-abcdefghijklmnop']);

    expectFinds('stripe-key', [
      ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
      ['"rk_test_51Hxyz0123ABCdef"', 'rk_test_51Hxyz0123ABCdef'],
      ['pk_live_51Hxyz0123ABCdef', 'pk_live_51Hxyz0123ABCdef'],
    ]);
    expectNone('stripe-key', ['sk_live_short', 'xk_live_4eC39HqLyjWDarjtT1zdp7dc', 'ask_live_4eC39HqLyjWDarjtT1zdp7dc']);

    expectFinds('google-api-key', [['key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe&x', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe']]);
    expectNone('google-api-key', ['AIzaSyShort', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQeX']);
  });

  it('jwt: header must decode to JSON with alg', () => {
    expectFinds('jwt', [
      [`Authorization: Bearer ${JWT}`, JWT],
      [`${jwtHeader}.${jwtPayload}.`, `${jwtHeader}.${jwtPayload}.`],
      [`jwt=${JWT}.`, JWT],
    ]);
    const noAlg = `${base64url('{"typ":"JWT"}')}.${jwtPayload}.sig`;
    expectNone('jwt', [jwtHeader, `${jwtHeader}.`, noAlg, 'eyJub3QganNvbg.eyJ4IjoxfQ.sig', `x${JWT}`]);
  });

  it('pem-private-key, with and without the END line', () => {
    const block = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq1w2e3r4\n-----END RSA PRIVATE KEY-----';
    expectFinds('pem-private-key', [
      [`key:\n${block}\ntrailer`, block],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----'],
      ['truncated -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC'],
    ]);
    expectNone('pem-private-key', ['-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----', '-----BEGIN CERTIFICATE-----', 'BEGIN PRIVATE KEY']);
  });

  it('database-url: the password only', () => {
    expectFinds('database-url', [
      ['postgres://app:s3cr3t@db.example.com:5432/app', 's3cr3t'],
      ['DATABASE_URL="postgresql://u:p%40ss@h/db?sslmode=require"', 'p%40ss'],
      ['mongodb+srv://svc:hunter2@cluster0.example.net/test', 'hunter2'],
      ['redis://:secret@cache:6379/0', 'secret'],
      ['mysql://root:p@ss@localhost/db', 'p@ss'],
      ['https://deploy:tok3n@git.example.com/org/repo.git', 'tok3n'],
    ]);
    expectNone('database-url', ['postgres://app@db/app', 'https://example.com:8443/x', 'postgres://localhost:5432/db', 'redis://:@cache', '://x:y@z']);
  });

  it('password-assignment: the value after a secret-named key', () => {
    expectFinds('password-assignment', [
      ['password=hunter2', 'hunter2'],
      ['PASSWORD: hunter2', 'hunter2'],
      ['{"password": "hunter 2 with spaces"}', 'hunter 2 with spaces'],
      ["db_password = 'it''s'", "it''s"],
      ['DB_PASS=xyz&user=bob', 'xyz'],
      ['X-Api-Key: abc123', 'abc123'],
      ['client_secret: "c\\"s"', 'c\\"s'],
      ['Server=db;Uid=sa;Pwd=S3cret!;', 'S3cret!'],
      ['Authorization: Bearer abc.def', 'abc.def'],
      ["'secret' => 'v4lue'", 'v4lue'],
      ['apiKey := "k3y"', 'k3y'],
      ["ALTER ROLE app WITH LOGIN PASSWORD 'pa55'", 'pa55'],
      ["CREATE USER x PASSWORD\n'pa55'", 'pa55'],
      ['aws_secret_access_key=abc', 'abc'],
      ['pw=x', 'x'],
    ]);
  });

  it('password-assignment: leaves other keys, empty and already-masked values alone', () => {
    expectNone('password-assignment', [
      'password_min_length: 12',
      'token_count: 5',
      'max_tokens=4096',
      'bypass=1',
      'compass: north',
      'status=200 request_id=abc',
      'password=',
      'password: ********',
      'password=[REDACTED:password-assignment]',
      '"password": null',
      'password reset link sent',
      '12:30:45',
      'https://example.com',
      'PASSWORD_HASH',
      'mypassword x',
    ]);
  });

  it('key names', () => {
    for (const k of ['password', 'DB_PASSWORD', 'dbPassword', 'passwd', 'PWD', 'db_pass', 'X-Api-Key', 'api_key', 'apikey', 'client_secret', 'secret', 'access_token', 'Authorization', 'private_key', 'credentials', 'SecretAccessKey']) {
      expect(isSecretKeyName(k), k).toBe(true);
    }
    for (const k of ['bypass', 'compass', 'password_length', 'tokens', 'tokenizer', 'secretary', 'keyboard', 'monkey', 'pass_count']) expect(isSecretKeyName(k), k).toBe(false);
  });
});
