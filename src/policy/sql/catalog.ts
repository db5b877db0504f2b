/**
 * What the classifier knows about functions and settings by name.
 *
 * Function names are matched as PostgreSQL resolves them: the parser has already folded unquoted
 * identifiers to lower case, so `PG_TERMINATE_BACKEND(1)` arrives as `pg_terminate_backend` and
 * matches, while the quoted `"PG_TERMINATE_BACKEND"(1)` names a different function (PostgreSQL would
 * not call the built-in) and does not. The match is on the last name component, whatever the
 * schema: `pg_catalog.pg_read_file` matches, and so does `ext.dblink` (extensions such as dblink and
 * adminpack live in whichever schema they were installed into); a user function that happens to
 * share a dangerous name is flagged too, which errs on the safe side.
 *
 * Setting names, unlike functions, are case-insensitive in PostgreSQL (`SET "ROLE" = x` is SET ROLE).
 */
import type { StatementClass } from './classes.js';

export interface FunctionRule {
  readonly class: StatementClass;
  /** Why, appended to "calls <name>". */
  readonly why: string;
}

const rule = (cls: StatementClass, why: string): FunctionRule => Object.freeze({ class: cls, why });

const SERVER_FILE = rule('admin', 'reads or writes files on the database server');
const OTHER_SESSIONS = rule('admin', 'signals other server processes');
const SERVER_CONTROL = rule('admin', 'controls the server');
const REPLICATION = rule('admin', 'manages replication');
const REMOTE = rule('admin', 'connects to another server');
const STATS_RESET = rule('admin', 'resets server statistics');
const SEQUENCE = rule('write', 'advances or sets a sequence');
const LARGE_OBJECT = rule('write', 'modifies large objects');
const ADVISORY_LOCK = rule('write', 'takes or releases advisory locks, which other sessions wait on');

const EXACT: ReadonlyMap<string, FunctionRule> = new Map<string, FunctionRule>([
  // Other sessions and the server process.
  ['pg_terminate_backend', OTHER_SESSIONS],
  ['pg_cancel_backend', OTHER_SESSIONS],
  ['pg_log_backend_memory_contexts', OTHER_SESSIONS],
  ['pg_reload_conf', SERVER_CONTROL],
  ['pg_rotate_logfile', SERVER_CONTROL],
  ['pg_rotate_logfile_old', SERVER_CONTROL],
  ['pg_promote', SERVER_CONTROL],
  ['pg_switch_wal', SERVER_CONTROL],
  ['pg_switch_xlog', SERVER_CONTROL],
  ['pg_create_restore_point', SERVER_CONTROL],
  ['pg_backup_start', SERVER_CONTROL],
  ['pg_backup_stop', SERVER_CONTROL],
  ['pg_start_backup', SERVER_CONTROL],
  ['pg_stop_backup', SERVER_CONTROL],
  ['pg_wal_replay_pause', SERVER_CONTROL],
  ['pg_wal_replay_resume', SERVER_CONTROL],
  ['pg_xlog_replay_pause', SERVER_CONTROL],
  ['pg_xlog_replay_resume', SERVER_CONTROL],
  ['pg_import_system_collations', SERVER_CONTROL],
  // Server files (core and adminpack).
  ['pg_read_file', SERVER_FILE],
  ['pg_read_binary_file', SERVER_FILE],
  ['pg_stat_file', SERVER_FILE],
  ['pg_ls_dir', SERVER_FILE],
  ['pg_ls_logdir', SERVER_FILE],
  ['pg_ls_waldir', SERVER_FILE],
  ['pg_ls_tmpdir', SERVER_FILE],
  ['pg_ls_archive_statusdir', SERVER_FILE],
  ['pg_ls_logicalsnapdir', SERVER_FILE],
  ['pg_ls_logicalmapdir', SERVER_FILE],
  ['pg_ls_replslotdir', SERVER_FILE],
  ['pg_ls_summariesdir', SERVER_FILE],
  ['pg_file_write', SERVER_FILE],
  ['pg_file_rename', SERVER_FILE],
  ['pg_file_unlink', SERVER_FILE],
  ['pg_file_sync', SERVER_FILE],
  ['pg_logdir_ls', SERVER_FILE],
  ['lo_import', SERVER_FILE],
  ['lo_export', SERVER_FILE],
  // Replication.
  ['pg_create_physical_replication_slot', REPLICATION],
  ['pg_create_logical_replication_slot', REPLICATION],
  ['pg_drop_replication_slot', REPLICATION],
  ['pg_copy_physical_replication_slot', REPLICATION],
  ['pg_copy_logical_replication_slot', REPLICATION],
  ['pg_replication_slot_advance', REPLICATION],
  ['pg_sync_replication_slots', REPLICATION],
  ['pg_logical_slot_get_changes', REPLICATION],
  ['pg_logical_slot_get_binary_changes', REPLICATION],
  ['pg_logical_slot_peek_changes', REPLICATION],
  ['pg_logical_slot_peek_binary_changes', REPLICATION],
  ['pg_logical_emit_message', REPLICATION],
  // Rows, sequences, large objects.
  ['nextval', SEQUENCE],
  ['setval', SEQUENCE],
  ['lo_create', LARGE_OBJECT],
  ['lo_creat', LARGE_OBJECT],
  ['lo_unlink', LARGE_OBJECT],
  ['lo_put', LARGE_OBJECT],
  ['lo_from_bytea', LARGE_OBJECT],
  ['lo_truncate', LARGE_OBJECT],
  ['lo_truncate64', LARGE_OBJECT],
  ['lowrite', LARGE_OBJECT],
  // Session state.
  ['pg_notify', rule('session', 'sends a notification (like NOTIFY)')],
  ['setseed', rule('session', 'sets the session random seed')],
]);

const PREFIXES: readonly (readonly [string, FunctionRule])[] = [
  ['dblink', REMOTE],
  ['pg_advisory_', ADVISORY_LOCK],
  ['pg_try_advisory_', ADVISORY_LOCK],
  ['pg_stat_reset', STATS_RESET],
  ['pg_replication_origin_', REPLICATION],
  ['binary_upgrade_', SERVER_CONTROL],
];

/** Read-only functions that a prefix above would otherwise catch. */
const PREFIX_EXCEPTIONS = new Set(['pg_replication_origin_oid', 'pg_replication_origin_progress', 'pg_replication_origin_session_progress', 'pg_replication_origin_session_is_setup']);

export function functionRule(name: string): FunctionRule | undefined {
  const exact = EXACT.get(name);
  if (exact) return exact;
  if (PREFIX_EXCEPTIONS.has(name)) return undefined;
  for (const [prefix, r] of PREFIXES) if (name.startsWith(prefix)) return r;
  return undefined;
}

/** Functions that run SQL given as text: the text is classified when it is a literal. */
export const SQL_TEXT_FUNCTIONS: ReadonlySet<string> = new Set(['query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema']);

/** Sets a setting from SQL (`set_config(name, value, is_local)`): classified like SET name. */
export const SET_CONFIG = 'set_config';

const PRIVILEGE_SETTINGS = new Set(['role', 'session_authorization']);
/** Superuser-only settings that switch off integrity checks or server-side logging. */
const ADMIN_SETTINGS = new Set(['session_replication_role', 'allow_system_table_mods', 'zero_damaged_pages', 'ignore_checksum_failure', 'ignore_invalid_pages', 'ignore_system_indexes', 'lo_compat_privileges']);
const TRANSACTION_SETTINGS = new Set(['transaction', 'transaction snapshot', 'transaction_isolation', 'transaction_read_only', 'transaction_deferrable']);

/**
 * Settings that change how the server reads the text of later statements. The gateway parses
 * with standard_conforming_strings on and reads SQL as UTF-8; if the server lexed differently, a
 * string literal could end in another place there than here and hide a statement from the gateway
 * (`'x\' || '; drop table t; --'` is one literal with standard_conforming_strings off).
 */
const LEXICAL_SETTINGS: Readonly<Record<string, (value: string) => boolean>> = {
  standard_conforming_strings: (v) => ['on', 'true', 'yes', '1'].includes(v),
  client_encoding: (v) => ['utf8', 'utf-8', 'unicode'].includes(v),
};

/**
 * The class of setting (or resetting) a named setting. `value` is the new value when the text
 * gives it as a constant; undefined for RESET, SET … TO DEFAULT (`isDefault`) or a computed value.
 */
export function settingClass(rawName: string, value?: string, isDefault = false): { class: StatementClass; why: string } {
  const name = rawName.toLowerCase();
  if (PRIVILEGE_SETTINGS.has(name)) return { class: 'privilege', why: 'changes the role the session acts as' };
  if (ADMIN_SETTINGS.has(name)) return { class: 'admin', why: 'superuser setting that bypasses integrity checks' };
  if (name.startsWith('log_') || name.startsWith('debug_')) return { class: 'admin', why: 'superuser setting that changes server logging' };
  const safe = LEXICAL_SETTINGS[name];
  if (safe && !isDefault && !(value !== undefined && safe(value.toLowerCase()))) {
    return { class: 'admin', why: 'changes how the server reads SQL text, so the gateway could no longer classify it' };
  }
  if (TRANSACTION_SETTINGS.has(name)) return { class: 'transaction', why: 'sets transaction characteristics' };
  return { class: 'session', why: 'changes a session setting' };
}

const UNTRUSTED_LANGUAGES = new Set(['c', 'internal', 'plpythonu', 'plpython2u', 'plpython3u', 'plperlu', 'pltclu', 'plsh', 'plr', 'plrustu']);

/** Languages whose code runs with the server's operating-system rights (superuser-only). */
export function isUntrustedLanguage(lang: string): boolean {
  const l = lang.toLowerCase();
  return UNTRUSTED_LANGUAGES.has(l) || (l.startsWith('pl') && l.endsWith('u') && l !== 'plpgsql');
}
