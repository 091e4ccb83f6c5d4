// Email sink: one message per batch over SMTP (nodemailer), with STARTTLS and AUTH options.
// deliver() resolves when the server answered 250 to the message; the Message-ID is the
// batch's stable id, so a batch sent again after a crash is recognisably the same message.
import nodemailer from 'nodemailer';
import { readSecret } from '../../../core/config-file.ts';
import type { SinkContext } from '../../build.ts';
import { alertBody, alertSubject, body, subject } from '../../message.ts';
import type { Pending, PendingAlert, Sink } from '../../types.ts';
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
    deliver: (pending: Pending) => send(subject(pending.events, config.subject_prefix), body(pending.events), pending.messageId),
    deliverAlert: (pending: PendingAlert) => send(alertSubject(pending.notice, config.subject_prefix), alertBody(pending.notice), pending.messageId),
    async close(): Promise<void> {
      transport.close();
    },
  };

  async function send(subjectLine: string, text: string, messageId: string): Promise<void> {
    const info = await transport.sendMail({
      from: config.from,
      to: config.to,
      subject: subjectLine,
      text,
      messageId: `<${messageId}@pgwarden>`,
      headers: { 'X-Pgwarden-Delivery': messageId },
    });
    // nodemailer rejects when no recipient was accepted; a partial refusal is delivered
    // to the others and must not be sent to them again.
    if (info.accepted.length === 0) throw new Error(`the SMTP server accepted no recipient: ${info.response}`);
  }
}
