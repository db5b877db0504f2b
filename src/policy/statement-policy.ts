import type { Identity } from '../auth/identity.js';
import { type Decision, type Policy, decide } from './policy.js';
import { SqlParseError, classifyForPolicy } from './sql/classify.js';

/** Rule name of the built-in refusal of text the parser does not accept. */
export const UNPARSEABLE_RULE = 'hoop:unparseable';
/** Rule name for a string with no statements (only whitespace or comments). */
export const EMPTY_RULE = 'hoop:empty';
/** Rule name of the refusal of statements too large to inspect. */
export const TOO_LARGE_RULE = 'hoop:too-large';
/**
 * Parsing is synchronous and grows with the text; past this, one statement would stall every
 * session of the gateway while it is inspected. Bulk data belongs in COPY, which streams.
 */
export const MAX_INSPECTED_SQL_CHARS = 1024 * 1024;

/**
 * The policy as one session sees it: its identity and connection are fixed, so a statement's
 * decision depends on its text alone. Classification is cached by text and by the text's shape
 * (in the classifier), and the rule walk is a handful of comparisons, so an allowed statement
 * costs microseconds.
 */
export class SessionPolicy {
  constructor(
    private readonly policy: Policy,
    private readonly identity: Identity,
    private readonly connection: string,
  ) {}

  /** Fails closed: text that does not parse is denied, whatever the rules say. */
  check(sql: string): Decision {
    if (sql.length > MAX_INSPECTED_SQL_CHARS) {
      return {
        action: 'deny',
        rule: TOO_LARGE_RULE,
        class: 'admin',
        reason: `the statement is ${sql.length} characters, more than the ${MAX_INSPECTED_SQL_CHARS} hoop inspects; load bulk data with COPY`,
      };
    }
    let classification;
    try {
      classification = classifyForPolicy(sql);
    } catch (err) {
      if (err instanceof SqlParseError) {
        return { action: 'deny', rule: UNPARSEABLE_RULE, class: 'admin', reason: `the statement could not be parsed, so it is refused: ${(err as Error).message}` };
      }
      return { action: 'deny', rule: UNPARSEABLE_RULE, class: 'admin', reason: 'the statement could not be classified, so it is refused' };
    }
    if (classification.statementCount === 0) return { action: 'allow', rule: EMPTY_RULE, class: 'read' };
    return decide(this.policy, this.identity, this.connection, classification.class);
  }
}
