// Email sink: one message per batch over SMTP (nodemailer), with STARTTLS and AUTH options.
// deliver() resolves when the server answered 250 to the message; the Message-ID is the
// batch's stable id, so a batch sent again after a crash is recognisably the same message.
import nodemailer from 'nodemailer';
import { readSecret } from '../../../core/config-file.ts';
import type { SinkContext } from '../../build.ts';
import { body, subject } from '../../message.ts';
import type { Pending, Sink } from '../../types.ts';
import type { EmailSinkConfig } from './config.ts';

export function build({ name, config }: SinkContext<EmailSinkConfig>): Sink {
  const password = readSecret(`pipeline.sinks.${name}`, config.password_env, config.password_file);
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.tls === 'implicit',
    requireTLS: config.tls === 'starttls',
    ignoreTLS: config.tls === 'none',
    tls: { rejectUnauthorized: config.tls_reject_unauthorized },
    auth: config.user ? { user: config.user, pass: password ?? '' } : undefined,
    connectionTimeout: config.timeout_seconds * 1000,
    greetingTimeout: config.timeout_seconds * 1000,
    socketTimeout: config.timeout_seconds * 1000,
  });
  return {
    name,
    type: 'email',
    inputs: config.inputs,
    async deliver(pending: Pending): Promise<void> {
      const info = await transport.sendMail({
        from: config.from,
        to: config.to,
        subject: subject(pending.events, config.subject_prefix),
        text: body(pending.events),
        messageId: `<${pending.messageId}@pgwarden>`,
        headers: { 'X-Pgwarden-Delivery': pending.messageId },
      });
      // nodemailer rejects when no recipient was accepted; a partial refusal is delivered
      // to the others and must not be sent to them again.
      if (info.accepted.length === 0) throw new Error(`the SMTP server accepted no recipient: ${info.response}`);
    },
    async close(): Promise<void> {
      transport.close();
    },
  };
}
