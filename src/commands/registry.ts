import type { CommandSpec } from '../cli/command.js';
import adminServiceAccountCreate from './admin-service-account-create.js';
import adminServiceAccountList from './admin-service-account-list.js';
import adminServiceAccountRevoke from './admin-service-account-revoke.js';
import approvalsList from './approvals-list.js';
import approve from './approve.js';
import auditExport from './audit-export.js';
import auditKeygen from './audit-keygen.js';
import auditReport from './audit-report.js';
import auditVerify from './audit-verify.js';
import completion from './completion.js';
import connect from './connect.js';
import connections from './connections.js';
import demo from './demo.js';
import deny from './deny.js';
import exec from './exec.js';
import gateway from './gateway.js';
import login from './login.js';
import logout from './logout.js';
import maskTest from './mask-test.js';
import policyCheck from './policy-check.js';
import policyExplain from './policy-explain.js';
import replay from './replay.js';
import sessions from './sessions.js';
import sessionsShow from './sessions-show.js';
import token from './token.js';
import whoami from './whoami.js';

/**
 * Every CLI command, in the order `hoop --help` lists them. The parser, help text and the
 * scripts in completions/ are generated from this list.
 */
export const registry: readonly CommandSpec[] = [
  demo,
  login,
  logout,
  whoami,
  token,
  connect,
  exec,
  connections,
  sessions,
  sessionsShow,
  replay,
  approve,
  deny,
  approvalsList,
  policyCheck,
  policyExplain,
  maskTest,
  auditVerify,
  auditExport,
  auditReport,
  auditKeygen,
  gateway,
  adminServiceAccountCreate,
  adminServiceAccountList,
  adminServiceAccountRevoke,
  completion,
];
