import { ExitCode, HoopError, UserError } from '../../errors.js';

/**
 * The text is not SQL that PostgreSQL would accept (or is too deeply nested to analyse safely).
 * The gateway refuses it: what cannot be parsed cannot be classified.
 */
export class SqlParseError extends UserError {
  /** The parser's own message, e.g. `syntax error at or near "SELEC"`. */
  readonly parserMessage: string;
  /**
   * Where the parser stopped, counted in characters from 1 (PostgreSQL's convention, usable as the
   * `P` field of an ErrorResponse); undefined when the parser did not say.
   */
  readonly position: number | undefined;

  constructor(parserMessage: string, position: number | undefined, opts: { cause?: unknown } = {}) {
    super('HOOP_SQL_UNPARSEABLE', position === undefined ? parserMessage : `${parserMessage} at character ${position}`, {
      exitCode: ExitCode.failure,
      hint: 'the gateway only forwards SQL that PostgreSQL can parse',
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
    this.parserMessage = parserMessage;
    this.position = position;
  }
}

/** `classifySql` was called before `await initClassifier()`: a bug in the caller. */
export class ClassifierNotReadyError extends HoopError {
  constructor() {
    super('HOOP_SQL_CLASSIFIER_NOT_READY', 'the SQL classifier is not initialised: await initClassifier() once before calling classifySql()', {
      exitCode: ExitCode.internal,
    });
  }
}
