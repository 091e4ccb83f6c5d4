// One catalogue of user-facing errors. Each has a stable code (documented in
// docs/errors.md; a test keeps the two in step), a message that says what went wrong,
// and a hint that says what to do next. PostgreSQL errors are classified by SQLSTATE.

export const ERRORS = {
  PGW_ERR_CONFIG: { exit: 2, hint: 'Fix the config file as the message says; docs/config.md lists every key.' },
  PGW_ERR_INVALID_VALUE: { exit: 2, hint: 'Correct the named value and run the command again; nothing was written.' },
  PGW_ERR_CONNECT: { exit: 3, hint: 'Check the URL (or PGHOST/PGPORT/PGUSER/PGDATABASE), that the server runs, and pg_hba.conf.' },
  PGW_ERR_AUTH: { exit: 3, hint: 'Check the user name and password (PGPASSWORD, PGPASSFILE or the password file in pgwarden.yaml).' },
  PGW_ERR_TLS: { exit: 3, hint: 'Check sslmode and sslrootcert against the server\'s certificate (docs/config.md#tls): verify-ca needs the CA that signed it, verify-full also its host name; require encrypts without verifying.' },
  PGW_ERR_PRIVILEGE: { exit: 4, hint: 'install, uninstall, rule and policy changes need a superuser; guard watch needs pgwarden_watcher, alerts run and report ddl need pgwarden_alerts.' },
  PGW_ERR_NOT_INSTALLED: { exit: 5, hint: 'Run `pgwarden install --db URL` first.' },
  PGW_ERR_SCHEMA_NEWER: { exit: 5, hint: 'Upgrade pgwarden to a version that knows this schema, or uninstall and reinstall.' },
  PGW_ERR_NOT_FOUND: { exit: 6, hint: 'List what exists: `pgwarden guard list` (rules), `pgwarden ddl policy show` (freezes and windows), `pgwarden status` (alert sinks).' },
  PGW_ERR_DRIFT: { exit: 7, hint: 'Run `pgwarden install` again to restore the expected objects, and find out who changed them.' },
  PGW_ERR_SERVER: { exit: 8, hint: 'The server refused the statement; the message above says why.' },
  PGW_ERR_STUCK: { exit: 7, hint: 'Look at the lane\'s last error (a sink that refuses, a source that cannot be read) and at the collect log; `pgwarden collect status --format json` has every detail (docs/pipeline.md#collect-status).' },
  PGW_ERR_DELIVERY: { exit: 7, hint: 'Fix the failing alert sink or start `pgwarden alerts run` (docs/alerts.md); the FAILED rows above show the last error.' },
  PGW_ERR_INPUT: { exit: 2, hint: 'Check the file name and that you may read it; `-` reads standard input.' },
  PGW_ERR_AWS: { exit: 3, hint: 'Check the AWS credentials (environment, ~/.aws, or the instance role), the region, and the IAM permissions listed in docs/pipeline.md.' },
  PGW_ERR_NATS: { exit: 3, hint: 'Check the NATS servers, credentials (user/password, token or creds file) and permissions in pgwarden.yaml; see docs/fleet.md.' },
  PGW_ERR_PGAUDIT_NOT_LOADED: { exit: 5, hint: "Add pgaudit to shared_preload_libraries and restart PostgreSQL (docs/pgaudit.md); pgwarden never changes it itself." },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class PgwardenError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgwardenError';
    this.code = code;
    this.hint = options?.hint ?? ERRORS[code].hint;
  }
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
}

interface PgLikeError { code?: string; message?: string; errno?: number; syscall?: string; address?: string; port?: number }

/** Turns an error from pg or the network into a PgwardenError, by SQLSTATE or errno code, never by message text. */
export function classifyError(error: unknown, target?: string): PgwardenError {
  if (error instanceof PgwardenError) return error;
  const e = (error ?? {}) as PgLikeError;
  const where = target ? ` (${target})` : '';
  const message = e.message ?? String(error);
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'ENOENT':
      return new PgwardenError('PGW_ERR_CONNECT', `cannot reach PostgreSQL${where}: ${message}`, { cause: error });
    case '28P01':
    case '28000':
      return new PgwardenError('PGW_ERR_AUTH', `PostgreSQL refused the login${where}: ${message}`, { cause: error });
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new PgwardenError('PGW_ERR_TLS', `the server's certificate does not name the host connected to${where}: ${message}`, { cause: error,
        hint: 'Connect by a name the certificate carries (sslmode=verify-full checks it), or use sslmode=verify-ca, which checks only who signed it.' });
    case '3D000':
      return new PgwardenError('PGW_ERR_CONNECT', `database does not exist${where}: ${message}`, { cause: error });
    case '42501':
      return new PgwardenError('PGW_ERR_PRIVILEGE', `permission denied${where}: ${message}`, { cause: error });
    case '3F000':
    case '42P01':
    case '42883':
      return new PgwardenError('PGW_ERR_NOT_INSTALLED', `pgwarden is not installed (or incomplete)${where}: ${message}`, { cause: error });
    default:
      if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
        return new PgwardenError('PGW_ERR_SERVER', `PostgreSQL error ${e.code}${where}: ${message}`, { cause: error });
      }
      // OpenSSL's verification results and TLS failures (Node gives them as codes)
      if (typeof e.code === 'string' && /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EPROTO$)/.test(e.code)) {
        return new PgwardenError('PGW_ERR_TLS', `TLS with the server failed${where}: ${message}`, { cause: error });
      }
      if (message.includes('timeout') || message.includes('Connection terminated')) {
        return new PgwardenError('PGW_ERR_CONNECT', `cannot reach PostgreSQL${where}: ${message}`, { cause: error });
      }
      throw error;
  }
}
