/**
 * Errors with stable codes. A `UserError` is something the person at the keyboard can fix
 * (bad flag, bad config, wrong token); anything else that escapes is a bug and is reported as one.
 * Exit codes are part of the CLI's contract: scripts and agent frameworks branch on them.
 */

export const ExitCode = {
  ok: 0,
  /** The operation ran and failed (query error, backend unreachable). */
  failure: 1,
  /** Bad usage or bad configuration: fix the input and run again. */
  usage: 2,
  /** Not authenticated or not allowed. */
  auth: 3,
  /** A named thing (connection, session, account) does not exist. */
  notFound: 4,
  /** The gateway could not be reached. */
  unavailable: 5,
  /** An internal error: a bug in hoop. */
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class HoopError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  /** What the user can do about it, printed after the message. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, opts: { exitCode?: ExitCodeValue; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = opts.exitCode ?? ExitCode.failure;
    this.hint = opts.hint;
  }
}

/** The user can fix this: bad input, bad config, missing login. */
export class UserError extends HoopError {}

export class ConfigError extends UserError {
  constructor(message: string, hint?: string) {
    super('HOOP_CONFIG_INVALID', message, { exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
  }
}

export class UsageError extends UserError {
  constructor(message: string, hint?: string) {
    super('HOOP_USAGE', message, { exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
  }
}

export class AuthError extends UserError {
  constructor(message: string, hint?: string) {
    super('HOOP_UNAUTHENTICATED', message, { exitCode: ExitCode.auth, ...(hint ? { hint } : {}) });
  }
}

export class NotFoundError extends UserError {
  constructor(what: string, hint?: string) {
    super('HOOP_NOT_FOUND', what, { exitCode: ExitCode.notFound, ...(hint ? { hint } : {}) });
  }
}

export class GatewayUnavailableError extends UserError {
  constructor(message: string, hint?: string) {
    super('HOOP_GATEWAY_UNAVAILABLE', message, { exitCode: ExitCode.unavailable, ...(hint ? { hint } : {}) });
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
