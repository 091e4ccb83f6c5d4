// The formats other than PostgreSQL's own files and syslog: recognising them from a sample
// (--format auto), the server log lines inside them (for recognising the log_line_prefix), and
// their parsers.
import { PgwardenError } from '../core/errors.ts';
import type { LogFormat } from './formats.ts';
import type { ParseSink } from './record.ts';
import type { TextInput, TextStart } from './text-input.ts';

/** The format of a sample (from its first non-blank character) when it is one of these; null otherwise. */
export function detectEnvelope(sample: string): LogFormat | null {
  void sample;
  return null;
}

/** The server log lines inside a sample (journald MESSAGE, Cloud Logging textPayload), one a line. */
export function envelopeBodies(sample: string, format: LogFormat): string {
  void format;
  return sample;
}

export function makeEnvelopeParser(format: LogFormat, prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart): TextInput {
  void prefix; void input; void server; void sink; void start;
  throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--format ${format} is not built yet`);
}
