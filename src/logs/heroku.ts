// Heroku Postgres as Heroku's logplex delivers it (`heroku logs`, a drain to a file):
//   2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  …
// with Heroku's log_line_prefix after the [COLOR] attachment name and the [SEQ-CHUNK] number of
// PostgreSQL's syslog messages (joined per process as in syslog): "sql_error_code = %e " (so
// user, database and client come only from the messages that name them: connection
// authorized, disconnection). Lines of other processes (app[web.1], heroku[router],
// app[heroku-postgres] metrics) are not PostgreSQL's and are skipped. The server: the
// configured one, otherwise "heroku:COLOR".
import type { ParseSink } from './record.ts';
import { SyslogAssembler, rfc3339 } from './syslog.ts';
import { LineInput, type TextStart } from './text-input.ts';

export const HEROKU_PREFIX = 'sql_error_code = %e ';
const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (app|heroku)\[([^\]\s]+)\]: /;
const ATTACHMENT = /^\[([A-Z][A-Z0-9_]*)\] /;

export class HerokuParser extends LineInput {
  private readonly assembler: SyslogAssembler;

  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
    this.assembler = new SyslogAssembler(HEROKU_PREFIX, input, sink,
      (position, l, reason, excerpt) => sink.error({ input, position, line: l, reason, excerpt: excerpt.slice(0, 200) }));
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
    if (!this.assembler.add(`${attachment?.[1] ?? ''}\u0000${source}`, body, server, rfc3339(m[1]!), this.byteAt(start), lineNo, Number(source.slice(9)) || null)) {
      this.emitError(start, lineNo, 'a Heroku Postgres line without sql_error_code and a severity', line);
    }
  }

  override flush(): void {
    this.assembler.flush();
  }
}

export function looksLikeHeroku(sample: string): boolean {
  const lines = sample.split('\n', 50).filter((l) => l.length > 0);
  return lines.some((l) => LINE.test(l) && l.includes(' app[postgres.'));
}
