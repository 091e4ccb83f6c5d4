// Role and database names as the command line gives them, checked before anything reaches the
// database. Its own module so that the shared CLI options (src/cli/common.ts) validate names
// without loading rule-input.ts and its IP-address parser on every command, `check` included.
import { PgwardenError } from '../core/errors.ts';

const MAX_NAME = 63; // NAMEDATALEN - 1: PostgreSQL truncates longer role and database names

/** Role and database names: what PostgreSQL would accept without truncating. */
export function validateName(kind: string, value: string): void {
  const invalid = (message: string) => new PgwardenError('PGW_ERR_INVALID_VALUE', message);
  if (value.length === 0) throw invalid(`${kind} "" is empty`);
  if (Buffer.byteLength(value) > MAX_NAME) throw invalid(`${kind} "${value}" is longer than ${MAX_NAME} bytes, which PostgreSQL would truncate`);
  if (value.includes('\0')) throw invalid(`${kind} contains a NUL byte`);
}
