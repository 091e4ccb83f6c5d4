// What the cloudwatch and sqs sources share about AWS: client settings from the config
// (credentials and region by the SDK's default chain unless the config names a region or an
// endpoint), and which errors are a mistake to stop for rather than a moment to wait out.
import { PgwardenError } from '../core/errors.ts';

// The SDK warns on every run under Node.js 20 that its releases after January 2027 will need 22;
// pgwarden pins a release that runs on 20, so the warning tells a pgwarden user nothing to do.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Backoff of the cloudwatch and sqs sources after throttling or an unreachable endpoint: 1 s doubling up to 60 s. */
export const AWS_RETRY = { initial_seconds: 1, max_seconds: 60 };

export interface AwsClientSettings {
  region?: string;
  endpoint?: string;
  /** a long poll needs longer than an ordinary call */
  requestTimeoutMs: number;
}

export function awsClientConfig(settings: AwsClientSettings) {
  return {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    requestHandler: { connectionTimeout: 10_000, requestTimeout: settings.requestTimeoutMs },
  };
}

/** Errors that waiting does not mend: credentials, permissions, a missing group or queue. */
const FATAL = new Set([
  'AccessDenied', 'AccessDeniedException', 'UnrecognizedClientException', 'InvalidClientTokenId',
  'InvalidSignatureException', 'SignatureDoesNotMatch', 'ExpiredToken', 'ExpiredTokenException',
  'MissingAuthenticationToken', 'IncompleteSignature', 'CredentialsProviderError',
  'ResourceNotFoundException', 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue',
  'KMSAccessDeniedException', 'KMS.AccessDeniedException',
]);

const THROTTLING = new Set([
  'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestThrottled',
  'RequestThrottledException', 'ProvisionedThroughputExceededException', 'LimitExceededException',
  'RequestLimitExceeded', 'AWS.SimpleQueueService.RequestThrottled',
]);

interface AwsLikeError { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } }

export function awsErrorName(error: unknown): string {
  const e = (error ?? {}) as AwsLikeError;
  return e.Code ?? e.name ?? 'Error';
}

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(awsErrorName(error)) || (error as AwsLikeError)?.$metadata?.httpStatusCode === 429;
}

/** A PgwardenError for an error that retrying cannot mend, else null (unreachable, throttled, a server error). */
export function awsFatalError(error: unknown, what: string): PgwardenError | null {
  const name = awsErrorName(error);
  const message = (error as AwsLikeError)?.message ?? String(error);
  if (/region is missing/i.test(message)) {
    return new PgwardenError('PGW_ERR_AWS', `${what}: no AWS region: set region: in the source, or AWS_REGION`, { cause: error });
  }
  if (!FATAL.has(name)) return null;
  return new PgwardenError('PGW_ERR_AWS', `${what}: ${name}: ${message}`, { cause: error });
}
