// Webhook sink: one HTTP POST per batch, Slack-compatible by default. Any 2xx answer is
// delivery; anything else (or no answer within the timeout) is a failure to retry.
// With a secret, X-Pgwarden-Signature is `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>`,
// X-Pgwarden-Timestamp the timestamp; X-Pgwarden-Delivery is the batch's stable id.
import { createHmac } from 'node:crypto';
import { readSecret } from '../../../core/config-file.ts';
import type { SinkContext } from '../../build.ts';
import { alertBody, alertSubject, body, subject } from '../../message.ts';
import type { Pending, PendingAlert, Sink } from '../../types.ts';
import type { WebhookSinkConfig } from './config.ts';

// Slack limits a section's text to 3000 characters.
const SLACK_TEXT_LIMIT = 2900;

/**
 * Text as Slack shows it literally. Slack reads `<…>` as a link or a mention (`<!channel>`,
 * `<https://x|reset your password>`) and decodes only &amp; &lt; &gt;, so those three are escaped:
 * role names, application names and statements are the client's own text, and an alert must not
 * ping a channel or show a link its sender chose. Cut to `limit` characters after escaping,
 * never inside an entity.
 */
export function slackText(text: string, limit = SLACK_TEXT_LIMIT): string {
  const escaped = text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  if (escaped.length <= limit) return escaped;
  return `${escaped.slice(0, limit).replace(/&[a-z]{0,3}$|[\uD800-\uDBFF]$/, '')}\n… (truncated)`;
}

/**
 * A Slack message: the title (also the notification's text) on one line and in bold, the text as
 * a code block, each cut to Slack's limit. Stars and backticks would end the bold early; an
 * underscore inside a word (`brute_force`) is no formatting to Slack.
 */
function slackMessage(title: string, text: string): object {
  const heading = slackText(title.replace(/\s+/g, ' '));
  return {
    text: heading,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${heading.replace(/[*`]/g, '')}*` } },
      { type: 'section', text: { type: 'mrkdwn', text: '```' + slackText(text.replaceAll('```', "'''")) + '```' } },
    ],
  };
}

export function payload(format: WebhookSinkConfig['format'], pending: Pending): object {
  const title = subject(pending.events);
  if (format === 'json') return { text: title, delivery_id: pending.messageId, events: pending.events };
  return slackMessage(title, body(pending.events));
}

/** A detection alert: `json` carries the alert object; Slack gets its subject and body. */
export function alertPayload(format: WebhookSinkConfig['format'], pending: PendingAlert): object {
  const title = alertSubject(pending.notice);
  if (format === 'json') return { text: title, delivery_id: pending.messageId, notice: pending.notice.notice, alert: pending.notice.alert };
  return slackMessage(title, alertBody(pending.notice));
}

export function signature(secret: string, timestamp: string, text: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${text}`).digest('hex')}`;
}

export function build({ name, config }: SinkContext<WebhookSinkConfig>): Sink {
  const secret = readSecret(`pipeline.sinks.${name}`, config.secret_env, config.secret_file, ['secret_env', 'secret_file']);
  return {
    name,
    type: 'webhook',
    inputs: config.inputs,
    deliver: (pending: Pending) => post(JSON.stringify(payload(config.format, pending)), pending.messageId),
    deliverAlert: (pending: PendingAlert) => post(JSON.stringify(alertPayload(config.format, pending)), pending.messageId),
    async close(): Promise<void> {},
  };

  async function post(text: string, messageId: string): Promise<void> {
      const headers: Record<string, string> = {
        ...config.headers,
        'content-type': 'application/json',
        'user-agent': 'pgwarden',
        'x-pgwarden-delivery': messageId,
      };
      if (secret !== undefined) {
        const timestamp = String(Math.floor(Date.now() / 1000));
        headers['x-pgwarden-timestamp'] = timestamp;
        headers['x-pgwarden-signature'] = signature(secret, timestamp, text);
      }
      const response = await fetch(config.url, {
        method: 'POST', headers, body: text, signal: AbortSignal.timeout(config.timeout_seconds * 1000),
      }).catch((error: Error) => {
        throw new Error(`POST ${new URL(config.url).origin}: ${error.name === 'TimeoutError' ? `no answer within ${config.timeout_seconds} s` : (error.cause as Error | undefined)?.message ?? error.message}`);
      });
      const answer = await response.text().catch(() => '');
      if (!response.ok) throw new Error(`POST ${new URL(config.url).origin} answered ${response.status} ${answer.slice(0, 200)}`.trim());
  }
}
