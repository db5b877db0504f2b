// A deliberately small PostgreSQL client for the streaming bench: it runs one simple Query and
// counts DataRow messages and bytes without decoding a single value, so on a 2-core machine the
// client takes as little CPU as possible away from the server and the gateway. `pg` or psql would
// parse every value (psql also holds the whole result in memory unless it switches to cursors,
// which would change what the gateway sees).
import net from 'node:net';

/** Larger messages than this mean a broken stream, not a big row. */
export const MAX_BACKEND_MESSAGE_BYTES = 256 * 1024 * 1024;
const PROTOCOL_3_0 = 196608;

export class BenchProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BenchProtocolError';
    this.code = 'BENCH_PG_PROTOCOL';
  }
}

export class BenchServerError extends Error {
  constructor(fields) {
    super(`${fields.S ?? 'ERROR'}: ${fields.M ?? 'server error'}${fields.C ? ` (${fields.C})` : ''}`);
    this.name = 'BenchServerError';
    this.code = 'BENCH_PG_SERVER';
  }
}

// StartupMessage: Int32 length, Int32 protocol (3.0), then name\0value\0 pairs, then \0.
function startupMessage(params) {
  const body = Buffer.from(`${Object.entries(params).map(([k, v]) => `${k}\0${v}\0`).join('')}\0`, 'utf8');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(PROTOCOL_3_0, 4);
  return Buffer.concat([head, body]);
}

// Frontend message: Byte1 type, Int32 length (itself included), body.
function typed(type, body) {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const cstring = (s) => Buffer.from(`${s}\0`, 'utf8');

// ErrorResponse/NoticeResponse body: repeated (Byte1 field type, String value), ended by \0.
function errorFields(body) {
  const fields = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const key = String.fromCharCode(body[at]);
    const end = body.indexOf(0, at + 1);
    if (end === -1) throw new BenchProtocolError('unterminated ErrorResponse field');
    fields[key] = body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return fields;
}

/**
 * Connects (trust or cleartext password, as the gateway's native port asks), runs `sql` once and
 * resolves with { rows, bytes, seconds } measured from sending the Query to its ReadyForQuery.
 */
export function streamQuery({ host = '127.0.0.1', port, user, database, password, sql, timeoutMs = 30 * 60_000 }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: Number(port), noDelay: true });
    let pending = Buffer.alloc(0);
    let phase = 'auth';
    let rows = 0;
    let bytes = 0;
    let started = 0;
    let failure = null;
    const timer = setTimeout(() => fail(new Error(`query did not finish within ${timeoutMs / 1000}s`)), timeoutMs);
    const fail = (err) => {
      if (phase === 'done') return;
      phase = 'done';
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const finish = () => {
      phase = 'done';
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      socket.end(typed('X', Buffer.alloc(0)));
      resolve({ rows, bytes, seconds });
    };

    const onMessage = (type, body) => {
      switch (type) {
        case 0x52: {
          // 'R' Authentication: Int32 code (0 ok, 3 cleartext password), then code-specific data.
          if (body.length < 4) throw new BenchProtocolError('short Authentication message');
          const code = body.readInt32BE(0);
          if (code === 0) return;
          if (code === 3) {
            if (password === undefined) throw new BenchProtocolError('server asked for a password and none was given');
            socket.write(typed('p', cstring(password)));
            return;
          }
          throw new BenchProtocolError(`authentication method ${code} is not supported by the bench client (use trust or cleartext)`);
        }
        case 0x45: // 'E'
          failure = new BenchServerError(errorFields(body));
          if (phase === 'auth') throw failure;
          return;
        case 0x5a: // 'Z' ReadyForQuery
          if (phase === 'auth') {
            phase = 'query';
            started = performance.now();
            socket.write(typed('Q', cstring(sql)));
          } else {
            if (failure) throw failure;
            finish();
          }
          return;
        case 0x44: // 'D' DataRow
          rows++;
          return;
        default:
          // ParameterStatus, BackendKeyData, RowDescription, CommandComplete, notices: not needed.
          return;
      }
    };

    socket.on('data', (chunk) => {
      bytes += chunk.length;
      const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      try {
        // Backend message: Byte1 type, Int32 length (itself included, not the type byte), body.
        while (buf.length - at >= 5) {
          const length = buf.readInt32BE(at + 1);
          if (length < 4 || length > MAX_BACKEND_MESSAGE_BYTES) throw new BenchProtocolError(`backend message length ${length} out of range`);
          if (buf.length - at < 1 + length) break;
          onMessage(buf[at], buf.subarray(at + 5, at + 1 + length));
          at += 1 + length;
        }
      } catch (err) {
        fail(err);
        return;
      }
      // Copy the tail so the (large) chunk it came from can be collected.
      pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    });
    socket.once('connect', () => {
      const params = { user, database, client_encoding: 'UTF8', application_name: 'hoop-bench-stream' };
      socket.write(startupMessage(params));
    });
    socket.once('error', fail);
    socket.once('close', () => {
      if (phase !== 'done') fail(new Error('connection closed before the result was complete'));
    });
  });
}
