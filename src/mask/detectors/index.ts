import type { ScanDetector } from '../scan.js';
import { cardDetector, ibanDetector } from './financial.js';
import { emailDetector, phoneDetector, ssnDetector } from './identity.js';
import { ipv4Detector, ipv6Detector } from './network.js';
import {
  awsAccessKeyIdDetector,
  awsSecretAccessKeyDetector,
  databaseUrlDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  googleApiKeyDetector,
  jwtDetector,
  passwordAssignmentDetector,
  pemPrivateKeyDetector,
  slackTokenDetector,
  stripeKeyDetector,
} from './secrets.js';

export const BUILTIN_DETECTOR_NAMES = [
  'card',
  'ssn',
  'email',
  'phone',
  'iban',
  'ipv4',
  'ipv6',
  'aws-access-key-id',
  'aws-secret-access-key',
  'github-token',
  'gitlab-token',
  'slack-token',
  'stripe-key',
  'google-api-key',
  'jwt',
  'pem-private-key',
  'database-url',
  'password-assignment',
] as const;

export type BuiltinDetectorName = (typeof BUILTIN_DETECTOR_NAMES)[number];

/** Everything but IP addresses, which are opt-in (version numbers look like them). */
export const DEFAULT_DETECTORS: readonly BuiltinDetectorName[] = BUILTIN_DETECTOR_NAMES.filter((n) => n !== 'ipv4' && n !== 'ipv6');

export const BUILTIN_DETECTORS: Readonly<Record<BuiltinDetectorName, ScanDetector>> = {
  card: cardDetector,
  ssn: ssnDetector,
  email: emailDetector,
  phone: phoneDetector,
  iban: ibanDetector,
  ipv4: ipv4Detector,
  ipv6: ipv6Detector,
  'aws-access-key-id': awsAccessKeyIdDetector,
  'aws-secret-access-key': awsSecretAccessKeyDetector,
  'github-token': githubTokenDetector,
  'gitlab-token': gitlabTokenDetector,
  'slack-token': slackTokenDetector,
  'stripe-key': stripeKeyDetector,
  'google-api-key': googleApiKeyDetector,
  jwt: jwtDetector,
  'pem-private-key': pemPrivateKeyDetector,
  'database-url': databaseUrlDetector,
  'password-assignment': passwordAssignmentDetector,
};

export {
  awsAccessKeyIdDetector,
  awsSecretAccessKeyDetector,
  cardDetector,
  databaseUrlDetector,
  emailDetector,
  githubTokenDetector,
  gitlabTokenDetector,
  googleApiKeyDetector,
  ibanDetector,
  ipv4Detector,
  ipv6Detector,
  jwtDetector,
  passwordAssignmentDetector,
  pemPrivateKeyDetector,
  phoneDetector,
  slackTokenDetector,
  ssnDetector,
  stripeKeyDetector,
};
export { checkPatternSafety, compileCustomDetector, CUSTOM_VALIDATORS, PATTERN_BACKTRACK_BUDGET, UnsafePatternError } from './custom.js';
export type { CustomDetectorDefinition, CustomValidator } from './custom.js';
