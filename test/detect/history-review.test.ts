// Hostile review of the repository's login history (src/detect/history.ts): FAILED on main
// 9a626e6 when written. The query is the repository's answer as data (history.test.ts runs the
// real one on PostgreSQL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplayFacts } from '../../src/detect/facts.ts';
import { HistoryFacts } from '../../src/detect/history.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';

const DAY = 86_400_000;
const T = Date.parse('2026-06-01T10:00:00Z');

describe('login history, hostile review', () => {
  // MEDIUM. A refresh reads the stored logins up to the newest record the engine has seen of the
  // server, over all its sources; a source behind the others (a guard source catching up beside
  // the log source, the repository sink ahead of detection on the same lane) has logins the
  // repository holds and the engine has not processed yet. Such a stored login, at or after the
  // login the rule asks about, was taken as its "previous" login: the dormant login was hidden.
  it('a stored login at or after the login asked about is not its previous login', async () => {
    const stored: [string, number][] = [['olduser', T - 120 * DAY]];
    const facts = new HistoryFacts(new ReplayFacts([]), async (_server, before) => stored.filter(([, ms]) => ms < before.getTime()));
    const at = (ms: number) => ({ ts: new Date(ms).toISOString(), server: 'db1' }) as unknown as PgwardenEvent;
    await facts.prepare([at(T - DAY)]);
    // another source of db1 is already at T + 1 h; the repository holds olduser's login at T
    facts.observe(at(T + 3_600_000), T + 3_600_000, false, false, null);
    stored.push(['olduser', T]);
    await facts.refresh();
    assert.equal(facts.lastLogin('db1', 'olduser', T), T - 120 * DAY, 'the login itself hid the 120 days before it');
  });
});
