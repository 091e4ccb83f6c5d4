// Hostile review of quotedLogin/checkQuotedLogin (05ae01a): inputs exactly as PostgreSQL 15 writes
// them in a stderr log with Debian's prefix (line layout checked against a real server in
// review-stderr-linebreak.test.ts; the German text is PostgreSQL 15's own de catalogue,
// /usr/share/locale/de/LC_MESSAGES/postgres-15.mo).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseText } from '../../src/logs/index.ts';

const PREFIX = '%m [%p] %q%u@%d ';
const T = '2026-12-02 06:15:24.538 UTC';
/** pid 77: another client, connected from 10.0.0.77, not authenticated yet (or failed). */
const VICTIM = `${T} [77] [unknown]@[unknown] LOG:  connection received: host=10.0.0.77 port=5077\n`;
const parse = (text: string) => parseText(text, { format: 'stderr', prefix: PREFIX, input: 'x.log' });

describe('review: quotedLogin', () => {
  it('(a) a client-chosen database name cannot re-attribute a real role\'s pg_hba rejection', () => {
    // Real role postgres, database name `x", database "y` (client-chosen, before authentication).
    const text = `${T} [4242] [unknown]@[unknown] LOG:  connection received: host=10.9.9.9 port=4242\n`
      + `${T} [4242] postgres@x", database "y FATAL:  no pg_hba.conf entry for host "10.9.9.9", user "postgres", database "x", database "y", no encryption\n`;
    const { events } = parse(text);
    const failed = events.filter((e) => e.severity === 'FATAL');
    assert.deepEqual(failed.map((e) => [e.user, e.pid, e.client_addr]), [['postgres', 4242, '10.9.9.9']]);
  });

  it('(b) a forged failed login whose forged prefix says [unknown] is not checked at all', () => {
    // Login name `x␤<T> [77] [unknown]`, database `d`: the forged line's %u reads as no user, and
    // checkQuotedLogin returns early on event.user === null — pid 77 and its client are believed.
    const text = `${VICTIM}${T} [4242] [unknown]@[unknown] LOG:  connection received: host=10.9.9.9 port=4242\n`
      + `${T} [4242] x\n${T} [77] [unknown]@d FATAL:  password authentication failed for user "x\n\t${T} [77] [unknown]"\n`;
    const { events } = parse(text);
    const failed = events.filter((e) => e.kind === 'auth_failed');
    assert.deepEqual(failed.filter((e) => e.pid === 77 || e.client_addr === '10.0.0.77').map((e) => [e.user, e.pid, e.client_addr]), [],
      'no failed login on pid 77 / 10.0.0.77');
  });

  it('(d) lc_messages = de: the forged failed login of postgres is believed (quotedLogin knows only English)', () => {
    const name = `x\n${T} [77] postgres`;
    const text = `${VICTIM}${T} [4242] [unknown]@[unknown] LOG:  connection received: host=10.9.9.9 port=4242\n`
      + `${T} [4242] ${name}@postgres FATAL:  Passwort-Authentifizierung für Benutzer »${name.replace('\n', '\n\t')}« fehlgeschlagen\n`;
    const { events } = parse(text);
    assert.deepEqual(events.filter((e) => e.severity === 'FATAL' && (e.pid === 77 || e.user === 'postgres')).map((e) => [e.user, e.pid, e.client_addr]), [],
      'no failure of postgres on pid 77');
  });

  it('(d) cert: a message with text after the quote is not checked (forged failure of postgres believed)', () => {
    const name = `x\n${T} [77] postgres`;
    const text = `${VICTIM}${T} [4242] ${name}@postgres FATAL:  certificate authentication failed for user "${name.replace('\n', '\n\t')}": client certificate contains no user name\n`;
    const { events } = parse(text);
    assert.deepEqual(events.filter((e) => e.severity === 'FATAL' && (e.pid === 77 || e.user === 'postgres')).map((e) => [e.user, e.pid]), []);
  });
});
