/**
 * Classification of one parsed statement: a dispatch on the statement's node type, then a walk of
 * its WHOLE tree (sub-selects, CTEs, VALUES, RETURNING, defaults, function arguments…) for the
 * things that raise a class wherever they appear: calls of known functions, data-modifying CTEs,
 * SELECT … INTO, row locks, writes to system catalogs.
 *
 * Three modes say what a piece of the tree does now:
 *   exec   it runs now (the statement itself, a DO block's body, EXPLAIN ANALYZE's statement);
 *   stored it is stored and runs later, when someone else's statement calls it (view queries,
 *          function bodies, rule actions, column defaults). What it would do is reported as a
 *          reason; calls of known functions raise the class even here, because the statement
 *          that later runs the stored code (`SELECT * FROM v`, `SELECT f()`) will not show them;
 *          data changes do not (the body of `CREATE FUNCTION` is not run by CREATE FUNCTION);
 *   inert  it never runs (the statement under a plain EXPLAIN); only its tables are listed.
 */
import { type StatementClass, moreSevere } from './classes.js';
import { SET_CONFIG, SQL_TEXT_FUNCTIONS, functionRule, isUntrustedLanguage, settingClass } from './catalog.js';
import { parsePlpgsql, parseStatements, scanTokens } from './parser.js';
import { Utf8Offsets } from './text.js';

type Obj = Record<string, unknown>;
type Mode = 'exec' | 'stored' | 'inert';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** How deep SQL found inside SQL (a DO body, a query_to_xml literal, an EXECUTE literal) is followed. */
const MAX_EMBEDDING = 8;

interface Entry {
  readonly cls: StatementClass;
  readonly reason: string;
  readonly source: 'effect' | 'call';
  /** False for what stored code would do later: reported, but the class is not raised. */
  readonly raises: boolean;
}

/** What was found about one statement: its class, the reasons, and the relations it touches. */
export class Findings {
  cls: StatementClass = 'read';
  readonly entries: Entry[] = [];
  readonly tables: string[] = [];
  private readonly seenTables = new Set<string>();
  private readonly seenReasons = new Set<string>();

  add(e: Entry): void {
    if (e.raises) this.cls = moreSevere(this.cls, e.cls);
    const key = `${e.raises ? '1' : '0'}${e.reason}`;
    if (this.seenReasons.has(key)) return;
    this.seenReasons.add(key);
    this.entries.push(e);
  }

  addTable(name: string): void {
    if (this.seenTables.has(name)) return;
    this.seenTables.add(name);
    this.tables.push(name);
  }

  get reasons(): string[] {
    return this.entries.map((e) => e.reason);
  }
}

/** State shared by the statements of one query string. */
export interface Context {
  /** Prepared statements seen earlier in the same text: EXECUTE of them is classified like them. */
  readonly prepared: Map<string, Findings>;
  depth: number;
}

export function newContext(): Context {
  return { prepared: new Map(), depth: 0 };
}

/** Where findings go, and in which mode. */
class Sink {
  constructor(
    readonly out: Findings,
    readonly mode: Mode,
    readonly prefix: string,
    readonly ctx: Context,
  ) {}

  /** Something the statement does. Raises the class only when it runs now. */
  effect(cls: StatementClass, reason: string): void {
    if (this.mode === 'inert') return;
    this.out.add({ cls, reason: this.prefix + reason, source: 'effect', raises: this.mode === 'exec' });
  }

  /** A call of a known function. Raises the class now or stored (see the file comment). */
  call(cls: StatementClass, reason: string): void {
    if (this.mode === 'inert') return;
    this.out.add({ cls, reason: this.prefix + reason, source: 'call', raises: true });
  }

  table(name: string): void {
    this.out.addTable(name);
  }

  nested(mode: Mode, prefix = ''): Sink {
    const m: Mode = this.mode === 'inert' || mode === 'inert' ? 'inert' : this.mode === 'stored' || mode === 'stored' ? 'stored' : 'exec';
    return new Sink(this.out, m, this.prefix + prefix, this.ctx);
  }

  /** Findings gathered separately (a prepared statement's), as if found here. */
  replay(f: Findings, prefix: string): void {
    for (const e of f.entries) {
      if (!e.raises) {
        if (this.mode !== 'inert') this.out.add({ ...e, reason: this.prefix + prefix + e.reason });
      } else if (e.source === 'call') this.call(e.cls, prefix + e.reason);
      else this.effect(e.cls, prefix + e.reason);
    }
    for (const t of f.tables) this.table(t);
  }
}

/** Classifies one top-level statement node (`{ DeleteStmt: {...} }`). */
export function analyzeStatement(node: Obj, text: string, ctx: Context): { findings: Findings; kind: string } {
  const findings = new Findings();
  classifyStatement(node, new Sink(findings, 'exec', '', ctx), text);
  return { findings, kind: nodeType(node) ?? 'Unknown' };
}

function nodeType(node: Obj): string | undefined {
  for (const k of Object.keys(node)) return k;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Names

const PLAIN_IDENT = /^[a-z_][a-z0-9_$]*$/;

/** An identifier as PostgreSQL would print it: bare when it can be, double-quoted otherwise. */
function ident(name: string): string {
  return PLAIN_IDENT.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `catalog.schema.relation` of a RangeVar, each part quoted when needed. */
function rangeVarName(rv: Obj): string {
  return [str(rv.catalogname), str(rv.schemaname), str(rv.relname)]
    .filter((p): p is string => p !== undefined && p !== '')
    .map(ident)
    .join('.');
}

/** The strings of a name list (`[{String:{sval:'pg_catalog'}}, {String:{sval:'f'}}]`). */
function nameParts(list: unknown): string[] {
  const out: string[] = [];
  for (const item of asArray(list)) {
    if (isObj(item) && isObj(item.String)) out.push(str(item.String.sval) ?? '');
  }
  return out;
}

/**
 * How many times the analysis has looked at a literal's value. A classification that never did
 * holds for every text that differs from it only in its literals, which is what lets the
 * classifier cache decisions by the text's shape (see classify.ts and shape.ts). Every reader of
 * a literal's value (A_Const, or a String node that came from a string literal) must count here.
 */
let literalValueReadCount = 0;
export function literalValueReads(): number {
  return literalValueReadCount;
}

/** A string literal (possibly cast, `'x'::text`), or undefined. */
function stringLiteral(node: unknown): string | undefined {
  literalValueReadCount++;
  if (!isObj(node)) return undefined;
  if (isObj(node.A_Const)) {
    const sval = node.A_Const.sval;
    return isObj(sval) ? (str(sval.sval) ?? '') : undefined;
  }
  if (isObj(node.TypeCast)) return stringLiteral(node.TypeCast.arg);
  return undefined;
}

/** A constant's text: strings as they are, numbers and booleans printed (JSON omits zero/false). */
function constantText(node: unknown): string | undefined {
  literalValueReadCount++;
  if (!isObj(node) || !isObj(node.A_Const)) return stringLiteral(node);
  const c = node.A_Const;
  if (isObj(c.sval)) return str(c.sval.sval) ?? '';
  if (isObj(c.ival)) return String(c.ival.ival ?? 0);
  if (isObj(c.boolval)) return c.boolval.boolval === true ? 'true' : 'false';
  if (isObj(c.fval)) return str(c.fval.fval);
  return undefined;
}

/** `OBJECT_MATVIEW` → `MATERIALIZED VIEW`. */
function objectLabel(objtype: unknown): string {
  const t = str(objtype) ?? 'OBJECT_UNKNOWN';
  const special: Record<string, string> = {
    OBJECT_MATVIEW: 'MATERIALIZED VIEW',
    OBJECT_FDW: 'FOREIGN DATA WRAPPER',
    OBJECT_FOREIGN_SERVER: 'SERVER',
    OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
    OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
    OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
    OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
    OBJECT_ACCESS_METHOD: 'ACCESS METHOD',
    OBJECT_OPCLASS: 'OPERATOR CLASS',
    OBJECT_OPFAMILY: 'OPERATOR FAMILY',
    OBJECT_STATISTIC_EXT: 'STATISTICS',
    OBJECT_TABCONSTRAINT: 'CONSTRAINT',
    OBJECT_DOMCONSTRAINT: 'DOMAIN CONSTRAINT',
  };
  return special[t] ?? t.replace(/^OBJECT_/, '').replaceAll('_', ' ');
}

/** `CreateOpClassStmt` → `CREATE OP CLASS`: a fallback label from the node type. */
function typeLabel(type: string): string {
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// The walk

class Scope {
  constructor(
    readonly names: ReadonlySet<string>,
    readonly parent: Scope | undefined,
  ) {}
  has(name: string): boolean {
    for (let s: Scope | undefined = this; s; s = s.parent) if (s.names.has(name)) return true;
    return false;
  }
}

interface Frame {
  readonly sink: Sink;
  /** CTE names visible here: an unqualified FROM reference to one is not a relation. */
  readonly scope: Scope | undefined;
  /** Inside a query: a data-modifying statement met here is a data-modifying CTE. */
  readonly inQuery: boolean;
}

/** The walk's work list: values and the frame they are seen in, as two parallel arrays. */
class Stack {
  readonly values: unknown[] = [];
  readonly frames: Frame[] = [];
  push(v: unknown, f: Frame): void {
    this.values.push(v);
    this.frames.push(f);
  }
}

const QUERY_NODES = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Leaf nodes: nothing below them can call a function or name a relation. */
const LEAF_NODES = new Set(['A_Const', 'ColumnRef', 'ParamRef', 'String', 'Integer', 'Float', 'Boolean', 'BitString', 'A_Star', 'TypeName', 'RoleSpec', 'SetToDefault', 'Alias']);

/** Walks a subtree without recursion (parse trees of large statements are deep). */
function walk(root: unknown, sink: Sink, scope?: Scope, inQuery = false): void {
  const stack = new Stack();
  stack.push(root, { sink, scope, inQuery });
  const values = stack.values;
  const frames = stack.frames;
  while (values.length > 0) {
    const v = values.pop();
    const f = frames.pop() as Frame;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const item: unknown = v[i];
        if (typeof item === 'object' && item !== null) stack.push(item, f);
      }
      continue;
    }
    if (!isObj(v)) continue;
    // A RangeVar embedded without its wrapper (DML targets, CREATE TABLE, INTO): a relation.
    if (typeof v.relname === 'string' && 'relpersistence' in v) {
      f.sink.table(rangeVarName(v));
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as string;
      const child = v[k];
      if (typeof child !== 'object' || child === null) continue;
      const first = k.charCodeAt(0);
      if (first >= 65 && first <= 90 && isObj(child)) visitNode(k, child, f, stack);
      else stack.push(child, f);
    }
  }
}

function pushFields(body: Obj, f: Frame, stack: Stack, skip: ReadonlySet<string> = EMPTY): void {
  const keys = Object.keys(body);
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i] as string;
    const child = body[k];
    if (skip.has(k) || typeof child !== 'object' || child === null) continue;
    stack.push(child, f);
  }
}
const EMPTY: ReadonlySet<string> = new Set();

function visitNode(type: string, body: Obj, f: Frame, stack: Stack): void {
  if (LEAF_NODES.has(type)) return;
  switch (type) {
    case 'RangeVar': {
      const name = str(body.relname) ?? '';
      if (!body.schemaname && !body.catalogname && f.scope?.has(name)) return;
      f.sink.table(rangeVarName(body));
      return;
    }
    case 'FuncCall':
      checkCall(body, f.sink);
      pushFields(body, f, stack);
      return;
    default:
      if (QUERY_NODES.has(type)) {
        queryNode(type, body, f, stack);
        return;
      }
      if (type.endsWith('Stmt')) {
        // A statement inside a statement (CREATE SCHEMA's elements, rule actions, function bodies).
        classifyStatement({ [type]: body }, f.sink, undefined);
        return;
      }
      stack.push(body, f);
  }
}

const LOCK_STRENGTH: Record<string, string> = {
  LCS_FORKEYSHARE: 'FOR KEY SHARE',
  LCS_FORSHARE: 'FOR SHARE',
  LCS_FORNOKEYUPDATE: 'FOR NO KEY UPDATE',
  LCS_FORUPDATE: 'FOR UPDATE',
};

const WITH_CLAUSE = new Set(['withClause']);

/** SELECT / INSERT / UPDATE / DELETE / MERGE, at the top of a statement or inside one (CTEs). */
function queryNode(type: string, body: Obj, f: Frame, stack: Stack): void {
  const sink = f.sink;
  const cte = f.inQuery ? 'data-modifying CTE: ' : '';
  let scope = f.scope;
  const withClause = body.withClause;
  let ctes: Obj[] = [];
  let names: string[] = [];
  if (isObj(withClause)) {
    ctes = asArray(withClause.ctes)
      .map((c) => (isObj(c) && isObj(c.CommonTableExpr) ? c.CommonTableExpr : undefined))
      .filter((c): c is Obj => c !== undefined);
    names = ctes.map((c) => str(c.ctename) ?? '');
    scope = new Scope(new Set(names), f.scope);
  }
  const target = isObj(body.relation) ? rangeVarName(body.relation) : '?';
  switch (type) {
    case 'SelectStmt': {
      if (isObj(body.intoClause)) {
        const rel = isObj(body.intoClause.rel) ? rangeVarName(body.intoClause.rel) : '?';
        sink.effect('ddl', `SELECT … INTO creates table ${rel} (like CREATE TABLE AS)`);
      }
      const locks = asArray(body.lockingClause);
      if (locks.length > 0) {
        const first = locks[0];
        const strength = isObj(first) && isObj(first.LockingClause) ? (LOCK_STRENGTH[str(first.LockingClause.strength) ?? ''] ?? 'FOR UPDATE') : 'FOR UPDATE';
        sink.effect('write', `SELECT … ${strength} locks rows (needs UPDATE privilege, blocks writers)`);
      }
      break;
    }
    case 'InsertStmt':
      sink.effect('write', `${cte}INSERT INTO ${target}`);
      if (isObj(body.relation)) catalogTarget(body.relation, 'INSERT INTO', sink);
      break;
    case 'UpdateStmt':
    case 'DeleteStmt': {
      const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE FROM';
      if (body.whereClause === undefined) sink.effect('destructive', `${cte}${type === 'UpdateStmt' ? 'UPDATE' : 'DELETE'} without WHERE (${verb} ${target})`);
      else sink.effect('write', `${cte}${verb} ${target}`);
      if (isObj(body.relation)) catalogTarget(body.relation, verb, sink);
      break;
    }
    case 'MergeStmt':
      sink.effect('write', `${cte}MERGE INTO ${target}`);
      if (isObj(body.relation)) catalogTarget(body.relation, 'MERGE INTO', sink);
      break;
  }
  pushFields(body, { sink, scope, inQuery: true }, stack, WITH_CLAUSE);
  // Pushed last, so visited first, in order: the WITH list comes first in the text.
  for (let i = ctes.length - 1; i >= 0; i--) {
    const visible = isObj(withClause) && withClause.recursive ? scope : i === 0 ? f.scope : new Scope(new Set(names.slice(0, i)), f.scope);
    stack.push((ctes[i] as Obj).ctequery, { sink, scope: visible, inQuery: true });
  }
}

/** Writing a system catalog is superuser business; UPDATE pg_settings is SET by another name. */
function catalogTarget(rel: Obj, verb: string, sink: Sink): void {
  const schema = str(rel.schemaname);
  const name = str(rel.relname) ?? '';
  if (schema !== undefined && schema !== 'pg_catalog') return;
  if (name === 'pg_settings') sink.effect('admin', `${verb} pg_settings changes settings (any of them: the role, how the server reads SQL…)`);
  else if (schema === 'pg_catalog' || name.startsWith('pg_')) sink.effect('admin', `${verb} ${name} writes a system catalog`);
}

function checkCall(body: Obj, sink: Sink): void {
  const parts = nameParts(body.funcname);
  const name = parts[parts.length - 1] ?? '';
  const display = parts.map(ident).join('.');
  const args = asArray(body.args);
  if (name === SET_CONFIG) {
    const setting = stringLiteral(args[0]);
    if (setting === undefined) sink.call('admin', `calls ${display} with a setting name that is not a literal (it could be the role, or how the server reads SQL)`);
    else {
      const s = settingClass(setting, stringLiteral(args[1]));
      sink.call(s.class, `calls ${display}('${setting}', …): ${s.why}`);
    }
    return;
  }
  if (SQL_TEXT_FUNCTIONS.has(name)) {
    const text = stringLiteral(args[0]);
    if (text === undefined) sink.call('procedural', `calls ${display} with SQL text that is not a literal`);
    else embedded(text, sink, `${display} runs: `);
    return;
  }
  const r = functionRule(name);
  if (r) sink.call(r.class, `calls ${display} (${r.why})`);
}

/** SQL found as text inside SQL: classified where it stands, in the sink's mode. */
function embedded(sql: string, sink: Sink, prefix: string): void {
  if (sink.ctx.depth >= MAX_EMBEDDING) {
    sink.effect('procedural', `${prefix}SQL nested too deeply to analyse`);
    return;
  }
  let stmts;
  try {
    stmts = parseStatements(sql);
  } catch {
    sink.effect('procedural', `${prefix}SQL text that cannot be analysed`);
    return;
  }
  sink.ctx.depth++;
  try {
    const inner = sink.nested('exec', prefix);
    for (const s of stmts) classifyStatement(s.node, inner, s.text);
  } finally {
    sink.ctx.depth--;
  }
}

// ---------------------------------------------------------------------------------------------
// Statements

const ADMIN_STATEMENTS: Readonly<Record<string, string>> = {
  AlterSystemStmt: 'ALTER SYSTEM changes the server configuration',
  CheckPointStmt: 'CHECKPOINT',
  LoadStmt: 'LOAD loads a shared library into the server',
  CreatedbStmt: 'CREATE DATABASE',
  AlterDatabaseStmt: 'ALTER DATABASE',
  AlterDatabaseSetStmt: 'ALTER DATABASE … SET',
  AlterDatabaseRefreshCollStmt: 'ALTER DATABASE … REFRESH COLLATION VERSION',
  DropdbStmt: 'DROP DATABASE',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  AlterTableSpaceOptionsStmt: 'ALTER TABLESPACE',
  AlterTableMoveAllStmt: 'ALTER … ALL IN TABLESPACE',
  CreateExtensionStmt: "CREATE EXTENSION runs the extension's install script",
  AlterExtensionStmt: 'ALTER EXTENSION',
  AlterExtensionContentsStmt: 'ALTER EXTENSION … ADD/DROP',
  CreateFdwStmt: 'CREATE FOREIGN DATA WRAPPER',
  AlterFdwStmt: 'ALTER FOREIGN DATA WRAPPER',
  CreateForeignServerStmt: 'CREATE SERVER',
  AlterForeignServerStmt: 'ALTER SERVER',
  CreateUserMappingStmt: 'CREATE USER MAPPING (credentials for a remote server)',
  AlterUserMappingStmt: 'ALTER USER MAPPING',
  DropUserMappingStmt: 'DROP USER MAPPING',
  CreatePublicationStmt: 'CREATE PUBLICATION',
  AlterPublicationStmt: 'ALTER PUBLICATION',
  CreateSubscriptionStmt: 'CREATE SUBSCRIPTION',
  AlterSubscriptionStmt: 'ALTER SUBSCRIPTION',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER',
  AlterEventTrigStmt: 'ALTER EVENT TRIGGER',
  CreatePLangStmt: 'CREATE LANGUAGE',
  CreateAmStmt: 'CREATE ACCESS METHOD',
};

const PRIVILEGE_STATEMENTS: Readonly<Record<string, string>> = {
  AlterRoleStmt: 'ALTER ROLE',
  AlterRoleSetStmt: 'ALTER ROLE … SET',
  DropRoleStmt: 'DROP ROLE',
  AlterDefaultPrivilegesStmt: 'ALTER DEFAULT PRIVILEGES',
  ReassignOwnedStmt: 'REASSIGN OWNED',
  DropOwnedStmt: 'DROP OWNED drops objects and revokes privileges',
  AlterOwnerStmt: 'ALTER … OWNER TO',
  CreatePolicyStmt: 'CREATE POLICY (row-level security)',
  AlterPolicyStmt: 'ALTER POLICY (row-level security)',
  SecLabelStmt: 'SECURITY LABEL',
};

/** Maintenance: no schema change, but owner-only, heavy locks, rewrites. Classed with DDL. */
const MAINTENANCE_STATEMENTS: Readonly<Record<string, string>> = {
  ClusterStmt: 'CLUSTER rewrites the table',
  ReindexStmt: 'REINDEX',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
};

const DDL_LABELS: Readonly<Record<string, string>> = {
  CreateStmt: 'CREATE TABLE',
  IndexStmt: 'CREATE INDEX',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreateDomainStmt: 'CREATE DOMAIN',
  AlterDomainStmt: 'ALTER DOMAIN',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateEnumStmt: 'CREATE TYPE … AS ENUM',
  CreateRangeStmt: 'CREATE TYPE … AS RANGE',
  AlterEnumStmt: 'ALTER TYPE (enum)',
  AlterTypeStmt: 'ALTER TYPE',
  CreateOpClassStmt: 'CREATE OPERATOR CLASS',
  CreateOpFamilyStmt: 'CREATE OPERATOR FAMILY',
  AlterOpFamilyStmt: 'ALTER OPERATOR FAMILY',
  AlterOperatorStmt: 'ALTER OPERATOR',
  CreateCastStmt: 'CREATE CAST',
  CreateConversionStmt: 'CREATE CONVERSION',
  CreateTransformStmt: 'CREATE TRANSFORM',
  CreateStatsStmt: 'CREATE STATISTICS',
  AlterStatsStmt: 'ALTER STATISTICS',
  AlterCollationStmt: 'ALTER COLLATION',
  AlterTSDictionaryStmt: 'ALTER TEXT SEARCH DICTIONARY',
  AlterTSConfigurationStmt: 'ALTER TEXT SEARCH CONFIGURATION',
  CommentStmt: 'COMMENT ON',
  AlterObjectDependsStmt: 'ALTER … DEPENDS ON EXTENSION',
  CreateForeignTableStmt: 'CREATE FOREIGN TABLE',
  ImportForeignSchemaStmt: 'IMPORT FOREIGN SCHEMA',
  ReplicaIdentityStmt: 'REPLICA IDENTITY',
  CreateSchemaStmt: 'CREATE SCHEMA',
};

/** Object types whose DROP also reaches past the data (admin) or changes access (privilege). */
const DROP_ADMIN = new Set(['OBJECT_EXTENSION', 'OBJECT_FOREIGN_SERVER', 'OBJECT_FDW', 'OBJECT_PUBLICATION', 'OBJECT_EVENT_TRIGGER', 'OBJECT_ACCESS_METHOD', 'OBJECT_LANGUAGE']);
const DROP_PRIVILEGE = new Set(['OBJECT_POLICY']);
const DROP_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE']);

function classifyStatement(node: Obj, sink: Sink, text: string | undefined): void {
  const type = nodeType(node);
  if (type === undefined) return;
  const raw = node[type];
  const body: Obj = isObj(raw) ? raw : {};
  /** Walks the statement's fields (except `skip`) in `mode`. */
  const rest = (mode: Mode, skip: readonly string[] = [], prefix = ''): void => {
    const s = sink.nested(mode, prefix);
    for (const [k, v] of Object.entries(body)) if (!skip.includes(k) && typeof v === 'object' && v !== null) walk(v, s);
  };

  if (QUERY_NODES.has(type)) {
    walk(node, sink);
    return;
  }

  if (type in ADMIN_STATEMENTS) {
    sink.effect('admin', ADMIN_STATEMENTS[type] as string);
    if (type === 'DropdbStmt') sink.effect('destructive', `drops database ${str(body.dbname) ?? ''}`.trim());
    rest('exec');
    return;
  }
  if (type in PRIVILEGE_STATEMENTS) {
    sink.effect('privilege', PRIVILEGE_STATEMENTS[type] as string);
    rest('exec');
    return;
  }
  if (type in MAINTENANCE_STATEMENTS) {
    sink.effect('ddl', MAINTENANCE_STATEMENTS[type] as string);
    rest('exec');
    return;
  }

  switch (type) {
    // ---- reads and cursors
    case 'ExplainStmt': {
      const analyze = asArray(body.options).some((o) => isObj(o) && isObj(o.DefElem) && o.DefElem.defname === 'analyze' && defElemTrue(o.DefElem.arg));
      const inner = isObj(body.query) ? body.query : {};
      if (analyze) {
        sink.effect('read', 'EXPLAIN ANALYZE executes the statement');
        classifyStatement(inner, sink.nested('exec', 'EXPLAIN ANALYZE: '), undefined);
      } else {
        sink.effect('read', 'EXPLAIN without ANALYZE does not execute the statement');
        classifyStatement(inner, sink.nested('inert'), undefined);
      }
      return;
    }
    case 'DeclareCursorStmt':
      sink.effect('read', `DECLARE CURSOR ${str(body.portalname) ?? ''}: its query runs as rows are fetched`);
      if (isObj(body.query)) classifyStatement(body.query, sink, undefined);
      return;
    case 'FetchStmt':
      sink.effect('read', body.ismove ? 'MOVE in a cursor' : 'FETCH from a cursor');
      return;
    case 'CopyStmt': {
      const dir = body.is_from ? 'FROM' : 'TO';
      if (body.is_program) sink.effect('admin', `COPY ${dir} PROGRAM runs a shell command on the database server`);
      else if (typeof body.filename === 'string') sink.effect('admin', `COPY ${dir} a file on the database server ('${body.filename}')`);
      if (body.is_from) sink.effect('write', `COPY ${isObj(body.relation) ? rangeVarName(body.relation) : ''} FROM loads rows`);
      else if (!body.is_program && typeof body.filename !== 'string') sink.effect('read', 'COPY TO STDOUT');
      if (isObj(body.query)) classifyStatement(body.query, sink.nested('exec', 'COPY query: '), undefined);
      rest('exec', ['query']);
      return;
    }

    // ---- prepared statements
    case 'PrepareStmt': {
      const name = str(body.name) ?? '';
      const inner = new Findings();
      if (isObj(body.query)) classifyStatement(body.query, new Sink(inner, 'exec', '', sink.ctx), undefined);
      // Classified as the statement it prepares: that is what EXECUTE will run.
      sink.replay(inner, `PREPARE ${name}: `);
      if (sink.mode === 'exec') sink.ctx.prepared.set(name, inner);
      return;
    }
    case 'ExecuteStmt': {
      const name = str(body.name) ?? '';
      const known = sink.ctx.prepared.get(name);
      if (known) {
        sink.effect('read', `EXECUTE ${name}: prepared earlier in this text`);
        sink.replay(known, `EXECUTE ${name}: `);
      } else sink.effect('procedural', `EXECUTE ${name}: a prepared statement whose text is not in this query`);
      rest('exec');
      return;
    }
    case 'DeallocateStmt':
      sink.effect('session', body.isall ? 'DEALLOCATE ALL' : `DEALLOCATE ${str(body.name) ?? ''}`);
      if (sink.mode === 'exec') {
        if (body.isall) sink.ctx.prepared.clear();
        else sink.ctx.prepared.delete(str(body.name) ?? '');
      }
      return;

    // ---- procedural
    case 'DoStmt':
      doBlock(body, sink);
      return;
    case 'CallStmt': {
      const call = isObj(body.funccall) ? body.funccall : {};
      const display = nameParts(call.funcname).map(ident).join('.');
      sink.effect('procedural', `CALL ${display} runs a procedure`);
      checkCall(call, sink);
      walk(call.args, sink);
      return;
    }
    case 'ReturnStmt':
    case 'PLAssignStmt':
      // Only inside function bodies.
      rest('exec');
      return;

    // ---- transaction and session
    case 'TransactionStmt': {
      const kind = (str(body.kind) ?? 'TRANS_STMT_UNKNOWN').replace('TRANS_STMT_', '').replaceAll('_', ' ');
      sink.effect('transaction', kind === 'START' ? 'START TRANSACTION' : kind === 'PREPARE' ? 'PREPARE TRANSACTION' : kind);
      return;
    }
    case 'ConstraintsSetStmt':
      sink.effect('transaction', 'SET CONSTRAINTS');
      return;
    case 'VariableSetStmt': {
      const kind = str(body.kind) ?? '';
      if (kind === 'VAR_RESET_ALL') {
        // role and session_authorization are not reset by RESET ALL (GUC_NO_RESET_ALL).
        sink.effect('session', 'RESET ALL');
        return;
      }
      const name = str(body.name) ?? '';
      const args = asArray(body.args);
      const value = args.length === 1 ? constantText(args[0]) : undefined;
      const s = settingClass(name, value, kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET');
      const verb = kind === 'VAR_RESET' ? 'RESET' : body.is_local ? 'SET LOCAL' : 'SET';
      const shown = name === 'session_authorization' ? 'SESSION AUTHORIZATION' : name.toLowerCase() === 'role' ? 'ROLE' : name;
      sink.effect(s.class, `${verb} ${shown}: ${s.why}`);
      return;
    }
    case 'VariableShowStmt':
      sink.effect('session', `SHOW ${str(body.name) ?? ''}`.trim());
      return;
    case 'DiscardStmt':
      if (body.target === 'DISCARD_ALL') sink.effect('privilege', 'DISCARD ALL resets the session authorization and role');
      else sink.effect('session', `DISCARD ${(str(body.target) ?? '').replace('DISCARD_', '')}`);
      return;
    case 'ListenStmt':
      sink.effect('session', `LISTEN ${str(body.conditionname) ?? ''}`);
      return;
    case 'UnlistenStmt':
      sink.effect('session', `UNLISTEN ${str(body.conditionname) ?? '*'}`);
      return;
    case 'NotifyStmt':
      sink.effect('session', `NOTIFY ${str(body.conditionname) ?? ''}`);
      return;
    case 'ClosePortalStmt':
      sink.effect('session', `CLOSE ${str(body.portalname) ?? 'ALL'}`);
      return;
    case 'LockStmt':
      sink.effect('write', 'LOCK TABLE blocks other sessions');
      rest('exec');
      return;

    // ---- destructive
    case 'DropStmt': {
      const removeType = str(body.removeType) ?? '';
      const what = objectLabel(removeType);
      sink.effect('destructive', `DROP ${what}`);
      if (DROP_ADMIN.has(removeType)) sink.effect('admin', `DROP ${what}`);
      if (DROP_PRIVILEGE.has(removeType)) sink.effect('privilege', `DROP ${what} changes row-level access`);
      if (DROP_RELATIONS.has(removeType)) {
        for (const o of asArray(body.objects)) {
          if (isObj(o) && isObj(o.List)) sink.table(nameParts(o.List.items).map(ident).join('.'));
        }
      }
      return;
    }
    case 'TruncateStmt':
      sink.effect('destructive', 'TRUNCATE');
      rest('exec');
      return;

    // ---- privilege
    case 'GrantStmt':
      sink.effect('privilege', `${body.is_grant ? 'GRANT' : 'REVOKE'} on ${objectLabel(body.objtype)}`);
      rest('exec');
      return;
    case 'GrantRoleStmt':
      sink.effect('privilege', body.is_grant ? 'GRANT role membership' : 'REVOKE role membership');
      return;
    case 'CreateRoleStmt': {
      const what = (str(body.stmt_type) ?? 'ROLESTMT_ROLE').replace('ROLESTMT_', '');
      sink.effect('privilege', `CREATE ${what}`);
      return;
    }

    // ---- DDL with something to say
    case 'AlterTableStmt': {
      sink.effect('ddl', `ALTER ${objectLabel(body.objtype)}`);
      for (const c of asArray(body.cmds)) {
        const cmd = isObj(c) && isObj(c.AlterTableCmd) ? c.AlterTableCmd : undefined;
        if (!cmd) continue;
        switch (cmd.subtype) {
          case 'AT_DropColumn':
            sink.effect('destructive', `ALTER TABLE … DROP COLUMN ${str(cmd.name) ?? ''}`.trim());
            break;
          case 'AT_ChangeOwner':
            sink.effect('privilege', 'ALTER … OWNER TO');
            break;
          case 'AT_EnableRowSecurity':
          case 'AT_DisableRowSecurity':
          case 'AT_ForceRowSecurity':
          case 'AT_NoForceRowSecurity':
            sink.effect('privilege', `ALTER TABLE … ${(str(cmd.subtype) ?? '').replace('AT_', '')} (row-level security)`);
            break;
        }
      }
      rest('stored', [], 'stored expression: ');
      return;
    }
    case 'ViewStmt':
      sink.effect('ddl', 'CREATE VIEW');
      if (isObj(body.view)) sink.table(rangeVarName(body.view));
      rest('stored', ['view'], 'view: ');
      return;
    case 'CreateTableAsStmt': {
      const matview = body.objtype === 'OBJECT_MATVIEW';
      sink.effect('ddl', matview ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS');
      const into = isObj(body.into) ? body.into : {};
      const runsNow = !into.skipData;
      if (isObj(body.query)) classifyStatement(body.query, runsNow ? sink : sink.nested('stored', 'view: '), undefined);
      walk(into, sink.nested('stored', 'stored expression: '));
      return;
    }
    case 'RuleStmt':
      sink.effect('ddl', 'CREATE RULE');
      rest('stored', [], 'rule: ');
      return;
    case 'CreateFunctionStmt':
      createFunction(body, sink, text);
      return;
    case 'AlterFunctionStmt':
      sink.effect('ddl', `ALTER ${objectLabel(body.objtype)}`);
      if (asArray(body.actions).some((a) => isObj(a) && isObj(a.DefElem) && a.DefElem.defname === 'security' && defElemTrue(a.DefElem.arg))) {
        sink.effect('privilege', 'SECURITY DEFINER: the function runs with its owner’s rights');
      }
      rest('stored', [], 'stored expression: ');
      return;
    case 'VacuumStmt': {
      const full = asArray(body.options).some((o) => isObj(o) && isObj(o.DefElem) && o.DefElem.defname === 'full' && defElemTrue(o.DefElem.arg));
      sink.effect('ddl', body.is_vacuumcmd ? (full ? 'VACUUM FULL rewrites tables under an exclusive lock' : 'VACUUM') : 'ANALYZE');
      rest('exec');
      return;
    }
    case 'DefineStmt':
      sink.effect('ddl', `CREATE ${objectLabel(body.kind)}`);
      rest('stored', [], 'stored expression: ');
      return;
    case 'RenameStmt':
      sink.effect('ddl', `ALTER ${objectLabel(body.renameType)} … RENAME`);
      rest('stored');
      return;
    case 'AlterObjectSchemaStmt':
      sink.effect('ddl', `ALTER ${objectLabel(body.objectType)} … SET SCHEMA`);
      rest('stored');
      return;
    case 'CreateSchemaStmt':
      sink.effect('ddl', 'CREATE SCHEMA');
      // Its elements (CREATE TABLE, GRANT…) run now and are classified as statements.
      rest('exec');
      return;
  }

  if (type in DDL_LABELS) {
    sink.effect('ddl', DDL_LABELS[type] as string);
    rest('stored', [], 'stored expression: ');
    return;
  }

  // A statement type this classifier does not know (a newer PostgreSQL): fail closed.
  sink.effect('admin', `unrecognised statement type ${type} (${typeLabel(type)}): classified as admin until it is known`);
  rest('exec');
}

/** A DefElem's boolean argument: absent means true; false only for false/off/0. */
function defElemTrue(arg: unknown): boolean {
  literalValueReadCount++;
  if (arg === undefined) return true;
  if (!isObj(arg)) return true;
  if (isObj(arg.Boolean)) return arg.Boolean.boolval === true;
  if (isObj(arg.Integer)) return (arg.Integer.ival ?? 0) !== 0;
  if (isObj(arg.String)) {
    const s = (str(arg.String.sval) ?? '').toLowerCase();
    return !(s === 'false' || s === 'off' || s === '0');
  }
  return true;
}

function defElemValue(list: unknown, name: string): unknown {
  for (const o of asArray(list)) if (isObj(o) && isObj(o.DefElem) && o.DefElem.defname === name) return o.DefElem.arg;
  return undefined;
}

function doBlock(body: Obj, sink: Sink): void {
  literalValueReadCount++;
  const langArg = defElemValue(body.args, 'language');
  const lang = (isObj(langArg) && isObj(langArg.String) ? str(langArg.String.sval) : undefined) ?? 'plpgsql';
  const asArg = defElemValue(body.args, 'as');
  const code = isObj(asArg) && isObj(asArg.String) ? (str(asArg.String.sval) ?? '') : '';
  sink.effect('procedural', `DO block runs ${lang} code`);
  if (isUntrustedLanguage(lang)) {
    sink.effect('admin', `DO block in untrusted language ${lang} runs code with the server's operating-system rights`);
    return;
  }
  if (lang.toLowerCase() !== 'plpgsql') return;
  // The body runs now: what it does counts.
  const tag = dollarTag(code);
  analysePlpgsql(`DO ${tag}${code}${tag}`, code, sink.nested('exec', 'DO block: '));
}

function createFunction(body: Obj, sink: Sink, text: string | undefined): void {
  literalValueReadCount++;
  const what = body.is_procedure ? 'PROCEDURE' : 'FUNCTION';
  sink.effect('ddl', `CREATE ${what} (its body does not run now)`);
  const langArg = defElemValue(body.options, 'language');
  const lang = (isObj(langArg) && isObj(langArg.String) ? str(langArg.String.sval) : undefined) ?? 'sql';
  if (isUntrustedLanguage(lang)) sink.effect('admin', `${what} in untrusted language ${lang} runs code with the server's operating-system rights`);
  if (defElemTrue(defElemValue(body.options, 'security')) && defElemValue(body.options, 'security') !== undefined) {
    sink.effect('privilege', `SECURITY DEFINER: the ${what.toLowerCase()} runs with its owner’s rights`);
  }
  const stored = sink.nested('stored', `${what.toLowerCase()} body: `);
  // Parameter defaults run at call time, like the body.
  walk(body.parameters, stored);
  if (body.sql_body !== undefined) {
    walk(body.sql_body, stored);
    return;
  }
  const asArg = defElemValue(body.options, 'as');
  const parts = isObj(asArg) && isObj(asArg.List) ? nameParts(asArg.List.items) : isObj(asArg) && isObj(asArg.String) ? [str(asArg.String.sval) ?? ''] : [];
  const code = parts[0];
  if (code === undefined) return;
  const l = lang.toLowerCase();
  if (l === 'sql') embedded(code, stored, '');
  else if (l === 'plpgsql') {
    if (text === undefined) stored.effect('read', 'PL/pgSQL body not analysed');
    else analysePlpgsql(text, code, stored);
  } else if (!isUntrustedLanguage(l)) stored.effect('read', `${lang} body not analysed`);
}

/** A dollar-quote tag that does not occur in `code`. */
function dollarTag(code: string): string {
  let tag = '$hoop$';
  for (let i = 0; code.includes(tag); i++) tag = `$hoop${i}$`;
  return tag;
}

// ---------------------------------------------------------------------------------------------
// PL/pgSQL

/**
 * A PL/pgSQL body is a tree of control flow around SQL expressions kept as text; each expression
 * is parsed with the SQL parser and classified in the sink's mode. Dynamic SQL (EXECUTE) cannot be
 * known unless it is a literal.
 */
function analysePlpgsql(statementText: string, code: string, sink: Sink): void {
  if (sink.ctx.depth >= MAX_EMBEDDING) {
    sink.effect('procedural', 'procedural code nested too deeply to analyse');
    return;
  }
  let tree: unknown;
  try {
    tree = parsePlpgsql(statementText, code);
  } catch (err) {
    sink.effect('procedural', `PL/pgSQL body could not be analysed (${err instanceof Error ? err.message : String(err)})`);
    return;
  }
  sink.ctx.depth++;
  try {
    const stack: unknown[] = [tree];
    let v: unknown;
    while ((v = stack.pop()) !== undefined) {
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
        continue;
      }
      if (!isObj(v)) continue;
      for (const [k, child] of Object.entries(v).reverse()) {
        if (!isObj(child) && !Array.isArray(child)) continue;
        if (k === 'PLpgSQL_expr' && isObj(child)) {
          plpgsqlExpr(child, sink);
          continue;
        }
        if (isObj(child) && (k === 'PLpgSQL_stmt_dynexecute' || k === 'PLpgSQL_stmt_dynfors')) {
          dynamicSql(child.query, sink);
          const { query: _q, ...others } = child;
          stack.push(others);
          continue;
        }
        if (isObj(child) && (k === 'PLpgSQL_stmt_open' || k === 'PLpgSQL_stmt_return_query') && child.dynquery !== undefined) {
          dynamicSql(child.dynquery, sink);
          const { dynquery: _q, ...others } = child;
          stack.push(others);
          continue;
        }
        if (k === 'PLpgSQL_stmt_commit' || k === 'PLpgSQL_stmt_rollback') {
          sink.effect('transaction', k === 'PLpgSQL_stmt_commit' ? 'COMMIT' : 'ROLLBACK');
          continue;
        }
        stack.push(child);
      }
    }
  } finally {
    sink.ctx.depth--;
  }
}

/** PLpgSQL_expr.parseMode: 0 a statement, 2 an expression, 3–5 an assignment `target := expr`. */
function plpgsqlExpr(expr: Obj, sink: Sink): void {
  const query = str(expr.query);
  if (query === undefined) return;
  const mode = typeof expr.parseMode === 'number' ? expr.parseMode : 0;
  if (mode === 0) embedded(query, sink, '');
  else if (mode === 2) embedded(`SELECT ${query}`, sink, '');
  else {
    const rhs = assignmentValue(query);
    if (rhs === undefined) sink.effect('procedural', `PL/pgSQL assignment not analysed: ${query.slice(0, 60)}`);
    else embedded(`SELECT ${rhs}`, sink, '');
  }
}

/** The expression of `target := expr` (or `target = expr`), found with the SQL scanner. */
function assignmentValue(query: string): string | undefined {
  let tokens;
  try {
    tokens = scanTokens(query);
  } catch {
    return undefined;
  }
  let depth = 0;
  for (const t of tokens) {
    if (t.text === '(' || t.text === '[') depth++;
    else if (t.text === ')' || t.text === ']') depth--;
    else if (depth === 0 && (t.text === ':=' || t.text === '=')) return new Utf8Offsets(query).slice(t.end);
  }
  return undefined;
}

/** EXECUTE <expr>: a literal is classified; anything else cannot be known. */
function dynamicSql(q: unknown, sink: Sink): void {
  const expr = isObj(q) && isObj(q.PLpgSQL_expr) ? q.PLpgSQL_expr : undefined;
  const text = expr ? str(expr.query) : undefined;
  let literal: string | undefined;
  if (text !== undefined) {
    try {
      const [stmt] = parseStatements(`SELECT ${text}`);
      const sel = stmt && isObj(stmt.node.SelectStmt) ? stmt.node.SelectStmt : undefined;
      const targets = sel ? asArray(sel.targetList) : [];
      const only = targets.length === 1 && isObj(targets[0]) && isObj(targets[0].ResTarget) ? targets[0].ResTarget.val : undefined;
      literal = stringLiteral(only);
      // Calls inside the expression that builds the SQL still count.
      if (literal === undefined && sel) walk(sel.targetList, sink);
    } catch {
      literal = undefined;
    }
  }
  if (literal !== undefined) embedded(literal, sink, 'EXECUTE: ');
  else sink.effect('procedural', 'dynamic SQL (EXECUTE of a computed string) cannot be analysed');
}
