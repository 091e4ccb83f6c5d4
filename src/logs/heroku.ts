// Heroku Postgres as Heroku's logplex delivers it (`heroku logs`, a drain to a file):
//   2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  …
// with Heroku's log_line_prefix after the [COLOR] attachment name and the [SEQ-CHUNK] number of
// PostgreSQL's syslog messages (joined per process as in syslog): "sql_error_code = %e " or the
// longer one of newer plans (time_ms, pid, session_id, database, connection_source, user,
// application_name, each "quoted"). Lines of other processes (app[web.1], heroku[router],
// app[heroku-postgres] metrics) are not PostgreSQL's and are skipped. The server: the
// configured one, otherwise "heroku:COLOR".
import type { ParseSink } from './record.ts';
import { SyslogAssembler, rfc3339 } from './syslog.ts';
import { LineInput, type TextStart } from './text-input.ts';

export const HEROKU_PREFIX = 'sql_error_code = %e ';
export const HEROKU_LONG_PREFIX = 'sql_error_code = %e time_ms = "%m" pid="%p" proc_start_time="%s" session_id="%c" vtid="%v" tid="%x" log_line="%l" %qdatabase="%d" connection_source="%r" user="%u" application_name="%a" ';
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (app|heroku)\[([^\]\s]+)\]: /;
const ATTACHMENT = /^\[([A-Z][A-Z0-9_]*)\] /;

export class HerokuParser extends LineInput {
  private assembler: SyslogAssembler | null = null;

  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const line = text.slice(start, lineEnd);
    const m = LINE.exec(line);
    if (!m) {
      this.emitError(start, lineNo, 'not a Heroku log line (TIME app[postgres.PID]: …)', line);
      return;
    }
    const source = m[3]!;
    if (m[2] !== 'app' || !source.startsWith('postgres.')) return; // another process's line
    let body = line.slice(m[0].length);
    const attachment = ATTACHMENT.exec(body);
    if (attachment) body = body.slice(attachment[0].length);
    const server = this.server ?? (attachment ? `heroku:${attachment[1]}` : null);
    if (this.assembler === null) {
      const long = / sql_error_code = \S+ time_ms = "/.test(` ${body.replace(/^\[\d+-\d+\] /, '')}`);
      this.assembler = new SyslogAssembler(long ? HEROKU_LONG_PREFIX : HEROKU_PREFIX, this.input, this.sink,
        (position, l, reason, excerpt) => this.sink.error({ input: this.input, position, line: l, reason, excerpt: excerpt.slice(0, 200) }));
    }
    if (!this.assembler.add(`${attachment?.[1] ?? ''}\u0000${source}`, body, server, rfc3339(m[1]!), this.byteAt(start), lineNo, Number(source.slice(9)) || null)) {
      this.emitError(start, lineNo, 'a Heroku Postgres line without sql_error_code and a severity', line);
    }
  }

  override flush(): void {
    this.assembler?.flush();
  }
}

export function looksLikeHeroku(sample: string): boolean {
  const lines = sample.split('\n', 50).filter((l) => l.length > 0);
  return lines.some((l) => LINE.test(l) && l.includes(' app[postgres.'));
}
