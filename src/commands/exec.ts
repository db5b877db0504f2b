import { readFileSync } from 'node:fs';
import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { findConnection } from '../cli/api.js';
import { resolveGatewayAuth } from '../cli/settings.js';
import { renderTable } from '../cli/table.js';
import { ExitCode, GatewayUnavailableError, HoopError, UsageError, errorMessage } from '../errors.js';

interface ResultJson {
  readonly command: string | null;
  readonly rowCount: number | null;
  readonly columns: { name: string; type: number }[];
  readonly rows: Record<string, unknown>[];
}

/** Type OIDs whose text form maps losslessly to JSON; everything else stays the server's text. */
const INT_TYPES = new Set([20, 21, 23, 26]); // int8 may exceed 2^53: kept as text below
const FLOAT_TYPES = new Set([700, 701]);
const JSON_TYPES = new Set([114, 3802]);

function parseValue(oid: number, text: string): unknown {
  if (oid === 16) return text === 't';
  if (INT_TYPES.has(oid) && oid !== 20) return Number(text);
  if (FLOAT_TYPES.has(oid)) return Number.isFinite(Number(text)) ? Number(text) : text;
  if (JSON_TYPES.has(oid)) return JSON.parse(text) as unknown;
  return text;
}

async function readSql(options: Record<string, unknown>): Promise<string> {
  if (typeof options.input === 'string') return options.input;
  if (typeof options.file === 'string') {
    try {
      return readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${options.file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
  }
  if (process.stdin.isTTY) throw new UsageError('no SQL given', 'pass -i "SQL", --file FILE, or pipe SQL on stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export default defineCommand({
  name: 'exec',
  summary: 'run SQL on a connection through the gateway and print the result',
  args: [{ name: 'connection', description: 'connection name', required: true }],
  options: [
    { flags: '-i, --input <sql>', description: 'SQL to run' },
    { flags: '-f, --file <file>', description: 'read SQL from a file' },
    jsonOption,
    ...gatewayOptions,
  ],
  examples: ['hoop exec pg-prod -i "select count(*) from orders"', 'hoop exec pg-prod -i "select * from customers limit 5" --json', 'echo "select 1" | hoop exec pg-prod'],
  async run(ctx, args, options) {
    const name = args[0]!;
    const sql = await readSql(options);
    if (sql.trim() === '') throw new UsageError('the SQL is empty');
    const auth = await resolveGatewayAuth(options);
    const connection = await findConnection(auth, name);
    if (connection.type !== 'postgres') throw new UsageError(`hoop exec runs SQL; ${name} is a ${connection.type} connection`, `use hoop connect ${name}`);

    const { LocalListener } = await import('../tunnel/local-end.js');
    const listener = await LocalListener.start({ auth, connection: name, connectionType: connection.type });
    let sessionId = '';
    let tunnelError: Error | undefined;
    listener.on('session', (s) => (sessionId = s.sessionId));
    listener.on('tunnelError', (err) => (tunnelError = err));
    const { default: pg } = await import('pg');
    const client = new pg.Client({
      host: '127.0.0.1',
      port: listener.port,
      user: 'hoop',
      database: name,
      application_name: 'hoop exec',
      types: { getTypeParser: ((oid: number) => (text: string) => parseValue(oid, text)) as never },
    });
    client.on('error', () => {});
    // Notices matter here: a statement held for approval says so, and which command releases it.
    client.on('notice', (n: { severity?: string; message?: string; hint?: string }) => {
      ctx.status(`${n.severity ?? 'NOTICE'}:  ${n.message ?? ''}${n.hint ? `\nHINT:  ${n.hint}` : ''}`);
    });
    try {
      try {
        await client.connect();
      } catch (err) {
        throw tunnelError ?? err;
      }
      const raw = (await client.query({ text: sql, rowMode: 'array' } as never)) as unknown;
      const results = (Array.isArray(raw) ? raw : [raw]) as { command: string | null; rowCount: number | null; fields: { name: string; dataTypeID: number }[]; rows: unknown[][] }[];
      const asJson: ResultJson[] = results.map((r) => ({
        command: r.command,
        rowCount: r.rowCount,
        columns: (r.fields ?? []).map((f) => ({ name: f.name, type: f.dataTypeID })),
        rows: (r.rows ?? []).map((row) => Object.fromEntries((r.fields ?? []).map((f, i) => [f.name, row[i]]))),
      }));
      if (options.json) {
        const last = asJson.at(-1)!;
        ctx.out(JSON.stringify({ sessionId, connection: name, ...last, ...(asJson.length > 1 ? { results: asJson } : {}) }));
      } else {
        for (const r of results) {
          if (r.fields && r.fields.length > 0) {
            ctx.out(renderTable(r.fields.map((f) => f.name), r.rows.map((row) => row.map(cellText))));
            ctx.out(`(${r.rows.length} row${r.rows.length === 1 ? '' : 's'})\n`);
          } else if (r.command) {
            ctx.out(r.rowCount !== null && /^(INSERT|UPDATE|DELETE|MERGE|COPY|SELECT)/.test(r.command) ? `${r.command} ${r.rowCount}` : r.command);
          }
        }
        ctx.status(`hoop: session ${sessionId}`);
      }
      return ExitCode.ok;
    } catch (err) {
      const e = err as { message?: string; code?: string; detail?: string; severity?: string };
      const isPg = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code);
      if (!isPg) {
        if (err instanceof HoopError) throw err;
        // The driver's own failures (the tunnel or the gateway went away mid-statement) are not bugs.
        throw new GatewayUnavailableError(`the connection to ${name} ended before the statement completed: ${errorMessage(err)}`, 'is the gateway still running? the statement may or may not have run: check `hoop sessions`');
      }
      if (options.json) {
        ctx.out(JSON.stringify({ sessionId, connection: name, error: { sqlState: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) } }));
      } else {
        ctx.status(`ERROR:  ${e.message} (SQLSTATE ${e.code})${e.detail ? `\nDETAIL:  ${e.detail}` : ''}`);
      }
      return ExitCode.failure;
    } finally {
      await client.end().catch(() => {});
      await listener.close();
    }
  },
});
