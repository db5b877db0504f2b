import { HoopError } from '../../errors.js';

/**
 * A peer sent bytes that are not valid protocol. The session that sent them is closed with a
 * clear error; the gateway and its other sessions carry on.
 */
export class PgProtocolError extends HoopError {
  constructor(message: string) {
    super('HOOP_PG_PROTOCOL', message);
  }
}

/** A message announced a length above the configured cap. */
export class PgMessageTooLargeError extends PgProtocolError {
  constructor(readonly length: number, readonly limit: number, what: string) {
    super(`${what} of ${length} bytes exceeds the ${limit}-byte limit`);
  }
}

/** The backend refused us or failed during startup (bad credentials, TLS, unreachable). */
export class PgBackendError extends HoopError {
  constructor(
    message: string,
    /** SQLSTATE to hand the client. */
    readonly sqlState: string,
    opts: { cause?: unknown } = {},
  ) {
    super('HOOP_PG_BACKEND', message, opts);
  }
}
