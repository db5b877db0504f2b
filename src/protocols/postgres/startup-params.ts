/**
 * Startup parameters other than user/database are settings the server applies before the first
 * statement, where the policy never sees them. Those that change who the session is or how the
 * server lexes SQL (so the gateway's parse would differ from the server's) are refused;
 * `options` (`-c name=value` …) is unpacked and checked the same way.
 */

/** Settings a client may never choose at startup. */
const FORBIDDEN = new Set(['role', 'session_authorization', 'is_superuser', 'session_replication_role', 'allow_system_table_mods', 'local_preload_libraries', 'session_preload_libraries']);

/** Encodings in which a byte that looks like a backslash or quote can be part of a character. */
const UNSAFE_ENCODINGS = new Set(['sjis', 'shift_jis', 'big5', 'gbk', 'gb18030', 'uhc', 'johab', 'win932', 'win936', 'win949', 'win950', 'cp932', 'cp936', 'cp949', 'cp950']);

function normalise(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/** Why this setting may not be chosen at startup, or null when it may. */
export function startupSettingRefusal(name: string, value: string): string | null {
  const n = normalise(name);
  if (FORBIDDEN.has(n)) return `setting ${name} at connection time is not allowed through hoop`;
  if (n === 'standard_conforming_strings' && !['on', 'true', '1', 'yes'].includes(value.toLowerCase())) {
    return 'standard_conforming_strings must stay on through hoop';
  }
  if (n === 'backslash_quote' && !['off', 'safe_encoding', 'false', '0', 'no'].includes(value.toLowerCase())) {
    return 'backslash_quote must stay off through hoop';
  }
  if (n === 'client_encoding' && UNSAFE_ENCODINGS.has(value.toLowerCase().replace(/-/g, '_'))) {
    return `client encoding ${value} is not supported through hoop: use UTF8`;
  }
  return null;
}

/**
 * Splits a libpq `options` string into settings: `-c name=value`, `-cname=value` and
 * `--name=value`; backslash escapes a space. Anything else (other postgres command-line switches)
 * is refused.
 */
export function parseStartupOptions(options: string): { settings: [string, string][]; refusal: string | null } {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]!;
    if (ch === '\\' && i + 1 < options.length) {
      current += options[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  const settings: [string, string][] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let assignment: string | undefined;
    if (w === '-c') assignment = words[++i];
    else if (w.startsWith('-c')) assignment = w.slice(2);
    else if (w.startsWith('--')) assignment = w.slice(2);
    if (!assignment || !assignment.includes('=')) return { settings, refusal: `startup option "${w}" is not allowed through hoop (only -c name=value)` };
    const eq = assignment.indexOf('=');
    settings.push([assignment.slice(0, eq), assignment.slice(eq + 1)]);
  }
  return { settings, refusal: null };
}

/** Checks every startup parameter the client sent; the first refusal, or null. */
export function checkStartupParams(params: Readonly<Record<string, string>>): string | null {
  for (const [name, value] of Object.entries(params)) {
    if (name === 'user' || name === 'database' || name === 'replication') continue;
    if (name === 'options') {
      const { settings, refusal } = parseStartupOptions(value);
      if (refusal) return refusal;
      for (const [k, v] of settings) {
        const r = startupSettingRefusal(k, v);
        if (r) return r;
      }
      continue;
    }
    const r = startupSettingRefusal(name, value);
    if (r) return r;
  }
  return null;
}
