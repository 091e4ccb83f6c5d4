// The formats other than PostgreSQL's own files and syslog: recognising them from a sample
// (--format auto), the server log lines inside them (for recognising the log_line_prefix), and
// their parsers.
import { AzureParser } from './azure.ts';
import { cloudSqlBodies, CloudSqlParser } from './cloudsql.ts';
import { CnpgParser } from './cnpg.ts';
import type { LogFormat } from './formats.ts';
import { HerokuParser, looksLikeHeroku } from './heroku.ts';
import { journaldBodies, JournaldParser } from './journald.ts';
import { criFirstRecord, firstObject } from './jsonlines.ts';
import { looksLikePgauditLogToFile, PgauditLogToFileParser } from './pgauditlogtofile.ts';
import { looksLikePgbouncer, PgbouncerParser } from './pgbouncer.ts';
import type { ParseSink } from './record.ts';
import type { TextInput, TextStart } from './text-input.ts';

/** The format of a sample (from its first non-blank character) when it is one of these; null otherwise (jsonlog, csvlog, syslog, stderr). */
export function detectEnvelope(sample: string): LogFormat | null {
  // Container output as the kubelet writes it: what is inside the CRI lines decides.
  const inner = criFirstRecord(sample);
  if (inner !== null) return inner.startsWith('{') ? detectEnvelope(inner) : null;
  if (sample.startsWith('{') || sample.startsWith('[')) {
    const o = firstObject(sample);
    if (o === null) return null;
    if ('textPayload' in o || 'jsonPayload' in o || 'protoPayload' in o || ('logName' in o && 'resource' in o)) return 'cloudsql';
    if ('logging_pod' in o || ('logger' in o && 'record' in o) || ('level' in o && 'ts' in o && 'msg' in o)) return 'cnpg';
    if ('MESSAGE' in o || '__REALTIME_TIMESTAMP' in o || '__CURSOR' in o) return 'journald';
    if (Array.isArray(o.records) || ('category' in o && ('properties' in o || 'resourceId' in o))) return 'azure';
    return null;
  }
  if (sample.startsWith('__CURSOR=')) return 'journald';
  if (looksLikeHeroku(sample)) return 'heroku';
  if (looksLikePgbouncer(sample)) return 'pgbouncer';
  if (looksLikePgauditLogToFile(sample)) return 'pgauditlogtofile';
  return null;
}

/** The server log lines inside a sample (journald MESSAGE, Cloud Logging textPayload), one a line. */
export function envelopeBodies(sample: string, format: LogFormat): string {
  if (format === 'journald') return journaldBodies(sample);
  if (format === 'cloudsql') return cloudSqlBodies(sample);
  return sample;
}

export function makeEnvelopeParser(format: LogFormat, prefix: string, input: string, server: string | null, sink: ParseSink, start?: TextStart): TextInput {
  switch (format) {
    case 'journald': return new JournaldParser(prefix, input, server, sink, start);
    case 'cloudsql': return new CloudSqlParser(prefix, input, server, sink, start);
    case 'cnpg': return new CnpgParser(input, server, sink, start);
    case 'heroku': return new HerokuParser(input, server, sink, start);
    case 'azure': return new AzureParser(input, server, sink, start);
    case 'pgbouncer': return new PgbouncerParser(input, server, sink, start);
    case 'pgauditlogtofile': return new PgauditLogToFileParser(input, server, sink, start);
    default: throw new Error(`no parser for ${format}`);
  }
}
