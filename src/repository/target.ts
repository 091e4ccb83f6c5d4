// Which database is the repository: --repo URL, else $PGWARDEN_REPO, else `repository:` in
// pgwarden.yaml (url + password_env/password_file). Passwords never on the command line.
import type { Config } from '../core/config.ts';
import { readSecret } from '../core/config.ts';
import { redactUrl, type Target } from '../core/db.ts';
import { PgwardenError, classifyError } from '../core/errors.ts';

export function repositoryTarget(repo: string | undefined, config: Config): Target {
  const url = repo ?? process.env.PGWARDEN_REPO;
  if (url !== undefined && url !== '') {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--repo "${redactUrl(url)}" is not a postgres:// or postgresql:// URL`);
    }
    return { url, label: `repository ${redactUrl(url)}` };
  }
  if (config.repository?.url) {
    const password = readSecret('repository', config.repository.password_env, config.repository.password_file);
    return { url: config.repository.url, password, label: `repository ${redactUrl(config.repository.url)}` };
  }
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'no repository named: give --repo postgres://…, set PGWARDEN_REPO, or add repository: url: to pgwarden.yaml',
    { hint: 'See docs/repository.md; put the password in PGPASSWORD, a pgpass file or repository.password_env.' });
}

/** An error from the repository, with a hint about its roles when a privilege was missing. */
export function repositoryError(error: unknown, label?: string): PgwardenError {
  const classified = classifyError(error, label);
  if (classified.code !== 'PGW_ERR_PRIVILEGE') return classified;
  return new PgwardenError('PGW_ERR_PRIVILEGE', classified.message, {
    cause: error,
    hint: 'Writing needs pgwarden_repo_writer (`pgwarden repo migrate --writer-login LOGIN`), reports need pgwarden_repo_reader, migrate and prune the schema owner (docs/repository.md).',
  });
}
