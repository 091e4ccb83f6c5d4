// The webhook sink's Slack format, as a Slack workspace would read what arrives at a real HTTP
// receiver: Block Kit sections within Slack's 3000-character limit, and the client's own text
// (role names, application names, statements) shown literally — never a `<!channel>` mention or a
// `<https://…|…>` link an attacker typed as a role name or put in a statement.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ddlRowToEvent, type DdlRow } from '../../src/ddl/index.ts';
import { createLogger } from '../../src/core/logger.ts';
import type { Alert } from '../../src/detect/alert.ts';
import type { Sink } from '../../src/pipeline/types.ts';
import { build } from '../../src/pipeline/sinks/webhook/webhook.ts';
import { webhookSinkSchema } from '../../src/pipeline/sinks/webhook/config.ts';
import { startHttpReceiver, type HttpReceiver } from '../harness/receivers.ts';

interface SlackSection { type: string; text: { type: string; text: string } }
interface SlackMessage { text: string; blocks: SlackSection[] }

// What Slack decodes in mrkdwn text: only these three entities.
const decode = (s: string) => s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');

/** The mention and link markup Slack acts on: `<!…>`, `<@…>`, `<#…>`, `<scheme:…>`. */
function slackMarkup(text: string): string[] {
  return text.match(/<[!@#][^>]*>|<[a-z]+:[^>]*>/gi) ?? [];
}

function ddlEvent(statement: string, user: string) {
  const row: DdlRow = {
    id: 1, ts: new Date('2026-12-02T09:00:00Z'), txid: 700, event: 'sql_drop', user_name: user, current_user_name: user,
    database: 'shop', server_addr: '10.0.0.2', server_port: 5432, client_addr: '10.0.0.9', client_port: 50_000,
    application: '<https://evil.example/reset|Reset your password>', backend_pid: 4242, command_tag: 'DROP TABLE',
    object_type: 'table', object_identity: 'public.invoices', schema_name: 'public', in_extension: false, statement,
    change_ticket: null, detail: null,
  };
  return ddlRowToEvent(row, 'db1');
}

function alert(user: string): Alert {
  return {
    rule: 'unknown_role_probe', severity: 'medium', state: 'open', id: 'a1b2c3', server: 'db1',
    first_ts: '2026-12-02T09:00:00.000Z', last_ts: '2026-12-02T09:01:00.000Z', count: 5, user, database: 'postgres',
    client_addr: '203.0.113.9', application: 'psql', group: { client_addr: '203.0.113.9' },
    summary: `5 logins as roles that do not exist from 203.0.113.9: ${user}, *bold* & co`, tags: ['attack.t1087'],
    events: [{ input: '/var/log/postgresql/postgresql-15-main.log', position: 42 }], sessions: [], notices: 1, responses: [],
  };
}

describe('webhook sink, Slack format', () => {
  let receiver: HttpReceiver;
  let sink: Sink;

  before(async () => {
    receiver = await startHttpReceiver();
    const config = webhookSinkSchema.parse({ type: 'webhook', url: `${receiver.url}/slack` });
    assert.equal(config.format, 'slack', 'Slack is the default format');
    sink = build({ name: 'slack', config, log: createLogger('test') });
  });
  after(async () => {
    await sink.close();
    await receiver.close();
  });

  function lastMessage(): SlackMessage {
    return JSON.parse(receiver.requests.at(-1)!.body) as SlackMessage;
  }

  function assertSlackShape(message: SlackMessage): void {
    assert.equal(typeof message.text, 'string');
    assert.equal(message.blocks.length, 2);
    for (const block of message.blocks) {
      assert.equal(block.type, 'section');
      assert.equal(block.text.type, 'mrkdwn');
      assert.ok(block.text.text.length <= 3000, `a section of ${block.text.text.length} characters (Slack's limit is 3000)`);
    }
    const code = message.blocks[1]!.text.text;
    assert.ok(code.startsWith('```') && code.endsWith('```'), 'the body is one code block');
    assert.ok(!code.slice(3, -3).includes('```'), 'nothing inside closes the code block early');
    for (const text of [message.text, ...message.blocks.map((b) => b.text.text)]) {
      assert.deepEqual(slackMarkup(text), [], `markup Slack would act on: ${text.slice(0, 200)}`);
    }
  }

  it('a DDL batch: a link in the application and a mention in the statement arrive as text; a long statement is cut within the limit', async () => {
    const statement = `DROP TABLE invoices; -- <!channel> please run ${'```'} now & <@U024BE7LH>\n${'x'.repeat(5000)}`;
    await sink.deliver({ events: [ddlEvent(statement, 'alice')], messageId: 'ddl.db1.slack.1-1' });
    const message = lastMessage();
    assertSlackShape(message);
    const code = decode(message.blocks[1]!.text.text);
    assert.match(code, /-- <!channel> please run ''' now & <@U024BE7LH>/, 'the statement is shown as written (the fence defused)');
    assert.match(code, /<https:\/\/evil\.example\/reset\|Reset your password>/, 'the application shown literally');
    assert.match(message.blocks[1]!.text.text, /… \(truncated\)```$/);
    assert.match(message.text, /^DROP TABLE on db1\/shop by alice/);
  });

  it('an alert whose role name is a mention: the subject, the heading and the body show it literally', async () => {
    const name = '<!channel> &lt;';
    await sink.deliverAlert!({ notice: { notice: 'opened', id: 'a1b2c3:1', alert: alert(name) }, messageId: 'a1b2c3:1' });
    const message = lastMessage();
    assertSlackShape(message);
    assert.equal(decode(message.text), '[medium] unknown_role_probe on db1: 5 logins as roles that do not exist from 203.0.113.9: <!channel> &lt;, *bold* & co');
    assert.equal(message.blocks[0]!.text.text, `*${message.text.replaceAll('*', '')}*`);
    assert.match(decode(message.blocks[1]!.text.text), /User +: <!channel> &lt;\n/);
    assert.equal(receiver.requests.at(-1)!.headers['x-pgwarden-delivery'], 'a1b2c3:1');
  });

  it('a cut never leaves half an entity or half a surrogate pair', async () => {
    for (let shift = 0; shift < 6; shift++) {
      const statement = 'y'.repeat(2860 + shift) + '<'.repeat(40) + '😀'.repeat(40);
      await sink.deliver({ events: [ddlEvent(statement, 'bob')], messageId: `ddl.db1.slack.2-${shift}` });
      const code = lastMessage().blocks[1]!.text.text;
      const cut = code.slice(0, code.indexOf('\n… (truncated)'));
      assert.doesNotMatch(cut, /&[a-z]*$/, `shift ${shift}: ends inside an entity`);
      assert.doesNotMatch(cut, /[\uD800-\uDBFF]$/, `shift ${shift}: ends inside a surrogate pair`);
    }
  });
});
