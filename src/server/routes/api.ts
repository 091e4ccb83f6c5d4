// The JSON API under /api, every route with its schema. Lists page with a cursor
// (`next` in the answer) and have an /export twin that streams every matching row as CSV or JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { ServeConfig } from '../../core/config.ts';
import { EXPORT_FORMATS, exportStream, type ExportFormat } from '../export.ts';
import { LISTS, type ColumnType, type ListColumn, type ListDefinition } from '../lists.ts';
import { alerts } from '../queries/alerts.ts';
import { connectionsSummary } from '../queries/connections.ts';
import type { PageRequest } from '../queries/events.ts';
import { checkHistory, monitoringStatus } from '../queries/monitoring.ts';
import { overview } from '../queries/overview.ts';
import { decodeCursor, type Cursor } from '../queries/paging.ts';
import { parseRange, type TimeRange } from '../queries/range.ts';
import { sessionDetail } from '../queries/sessions.ts';
import { INCIDENT_STATES, MAX_COMMENT, addIncidentComment, incidentDetail, openIncidentCount, setIncidentState } from '../queries/incidents.ts';
import { PgwardenError } from '../../core/errors.ts';
import { listUsers } from '../users.ts';

interface Deps { pool: pg.Pool; config: ServeConfig }

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 50;
type Query = Record<string, string | undefined>;

const RANGE_PROPERTIES = {
  from: { type: 'string', maxLength: 40, description: 'ISO-8601 time or a duration back from now (15m, 24h, 7d); default 24h' },
  to: { type: 'string', maxLength: 40, description: 'ISO-8601 time or a duration back from now; default now' },
} as const;
const PAGE_PROPERTIES = {
  ...RANGE_PROPERTIES,
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
  cursor: { type: 'string', maxLength: 2000, description: 'the `next` of the previous page' },
} as const;

const TYPE_SCHEMA: Record<ColumnType, object> = {
  text: { type: ['string', 'null'] },
  number: { type: ['number', 'null'] },
  time: { type: ['string', 'null'], format: 'date-time' },
  list: { type: ['array', 'null'], items: { type: ['string', 'null'] } },
  object: { type: ['object', 'null'], additionalProperties: true },
};

function itemSchema(columns: ListColumn<unknown>[]): object {
  return { type: 'object', properties: Object.fromEntries(columns.map((c) => [c.name, TYPE_SCHEMA[c.type]])) };
}

function toItem<R>(row: R, columns: ListColumn<R>[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c.name, c.value(row) ?? null]));
}

export function pageRequest(query: Query & { limit?: number | string }, config: ServeConfig, budgetMs = config.search_budget_ms): PageRequest {
  return {
    range: parseRange(query),
    cursor: decodeCursor(query.cursor),
    limit: Number(query.limit ?? DEFAULT_PAGE),
    budgetMs,
  };
}

/** Every page of a list from the start of the range, without a time budget, up to `max` rows. */
async function* allPages<R>(list: ListDefinition<R>, pool: pg.Pool, query: Query, range: TimeRange, max: number): AsyncGenerator<R[]> {
  let cursor: Cursor | null = decodeCursor(query.cursor);
  let left = max;
  while (left > 0) {
    const page = await list.fetch(pool, query, { range, cursor, limit: Math.min(5000, left), budgetMs: Infinity });
    if (page.rows.length > 0) yield page.rows;
    left -= page.rows.length;
    if (!page.next) return;
    cursor = decodeCursor(page.next);
  }
}

function filename<R>(list: ListDefinition<R>, format: ExportFormat): string {
  return `pgwarden-${list.path.slice(1).replaceAll('/', '-')}-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}Z.${format}`;
}

function filterProperties<R>(list: ListDefinition<R>): Record<string, object> {
  return Object.fromEntries(list.filters.map((f) => [f, { type: 'string', maxLength: 500 }]));
}

const FORMAT_PROPERTY = { format: { type: 'string', enum: ['json', 'csv'], default: 'json', description: 'csv: the rows as a CSV download' } } as const;

/** A list that is not paged (alerts, checks, users, a session's events) as a CSV download. */
function sendCsv(reply: FastifyReply, name: string, rows: Record<string, unknown>[], columns: string[]): FastifyReply {
  const list = columns.map((column) => ({ name: column, type: 'text' as const, value: (r: Record<string, unknown>) => r[column] }));
  reply.header('content-disposition', `attachment; filename="pgwarden-${name}-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}Z.csv"`).type('text/csv; charset=utf-8');
  return reply.send(exportStream((async function* () { yield rows; })(), list, 'csv', () => undefined));
}

export function registerApiRoutes(app: FastifyInstance, { pool, config }: Deps): void {
  app.get('/api/me', {
    schema: { response: { 200: { type: 'object', properties: { user: { type: 'string' }, role: { type: 'string' }, auth: { type: 'string' } } } } },
  }, async (request) => {
    const { user, role, auth } = request.identity!;
    return { user, role, auth };
  });

  for (const list of LISTS as ListDefinition<unknown>[]) {
    const properties = { ...PAGE_PROPERTIES, ...filterProperties(list) };
    app.get(`/api${list.path}`, {
      config: { access: list.role },
      schema: {
        querystring: { type: 'object', properties },
        response: {
          200: {
            type: 'object',
            properties: {
              items: { type: 'array', items: itemSchema(list.columns) },
              next: { type: ['string', 'null'] },
              searched_to: { type: ['string', 'null'], format: 'date-time' },
            },
          },
        },
      },
    }, async (request: FastifyRequest) => {
      const query = request.query as Query;
      const page = await list.fetch(pool, query, pageRequest(query, config));
      request.auditRows = page.rows.length;
      return { items: page.rows.map((row) => toItem(row, list.columns)), next: page.next, searched_to: page.searchedTo };
    });

    app.get(`/api${list.path}/export`, {
      config: { access: list.role },
      schema: {
        querystring: {
          type: 'object',
          properties: { ...RANGE_PROPERTIES, ...filterProperties(list), format: { type: 'string', enum: EXPORT_FORMATS, default: 'csv' }, cursor: PAGE_PROPERTIES.cursor },
        },
      },
    }, async (request, reply) => {
      const query = request.query as Query & { format: ExportFormat };
      const range = parseRange(query);
      const pages = allPages(list, pool, query, range, config.export_max_rows);
      // The first page is read before the answer starts, so a bad filter is still a clean 400.
      const first = await pages.next();
      async function* rest(): AsyncGenerator<unknown[]> {
        if (!first.done) yield first.value;
        yield* { [Symbol.asyncIterator]: () => pages };
      }
      reply.header('content-disposition', `attachment; filename="${filename(list, query.format)}"`);
      reply.type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
      request.auditRows = 0;
      return reply.send(exportStream(rest(), list.columns, query.format, (n) => { request.auditRows = n; }));
    });
  }

  // One incident with its events and comments (the incident page's data).
  app.get('/api/incident', {
    schema: { querystring: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200 } } } },
  }, async (request) => {
    const { id } = request.query as { id: string };
    const detail = await incidentDetail(pool, id);
    if (detail === null) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no incident "${id}"`);
    request.auditRows = detail.events.length;
    return detail;
  });

  // An admin's acknowledge, resolve, reopen or comment: a form from the incident page (303 back to
  // it; a browser session must send its CSRF token, app.ts) or JSON with an API token (200).
  const changed = (request: FastifyRequest, reply: FastifyReply, id: string) => (request.identity!.auth === 'session'
    ? reply.redirect(`/incident?id=${encodeURIComponent(id)}`, 303)
    : reply.send({ id, ok: true }));
  const ID = { type: 'string', minLength: 1, maxLength: 200 } as const;
  const COMMENT = { type: 'string', maxLength: MAX_COMMENT + 100 } as const;
  app.post('/incident/state', {
    config: { access: 'admin' },
    schema: { body: { type: 'object', required: ['id', 'state'], properties: { id: ID, state: { type: 'string', enum: INCIDENT_STATES }, comment: COMMENT, _csrf: { type: 'string' } } } },
  }, async (request, reply) => {
    const body = request.body as { id: string; state: string; comment?: string };
    if (!await setIncidentState(pool, body.id, body.state, request.identity!.user, body.comment)) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no incident "${body.id}"`);
    return changed(request, reply, body.id);
  });
  app.post('/incident/comment', {
    config: { access: 'admin' },
    schema: { body: { type: 'object', required: ['id', 'comment'], properties: { id: ID, comment: COMMENT, _csrf: { type: 'string' } } } },
  }, async (request, reply) => {
    const body = request.body as { id: string; comment: string };
    if (!await addIncidentComment(pool, body.id, request.identity!.user, body.comment)) throw new PgwardenError('PGW_ERR_NOT_FOUND', `no incident "${body.id}"`);
    return changed(request, reply, body.id);
  });

  app.get('/api/session', {
    schema: {
      querystring: {
        type: 'object', required: ['server', 'id'],
        properties: {
          server: { type: 'string', maxLength: 200 }, id: { type: 'string', minLength: 1, maxLength: 200 }, cursor: PAGE_PROPERTIES.cursor,
          limit: { ...PAGE_PROPERTIES.limit, default: 200 }, ...FORMAT_PROPERTY,
        },
      },
    },
  }, async (request, reply) => {
    const query = request.query as { server: string; id: string; cursor?: string; limit: number; format: 'json' | 'csv' };
    // An export (CSV) has no cursor to go on with: it may search 10 s, and says where it stopped if it had to.
    const detail = await sessionDetail(pool, query.server, query.id, query.cursor, query.limit,
      query.format === 'csv' ? Math.max(config.search_budget_ms, 10_000) : config.search_budget_ms);
    request.auditRows = detail.events.length;
    if (query.format === 'csv') {
      if (detail.searchedTo !== null) void reply.header('x-pgwarden-searched-to', detail.searchedTo);
      return sendCsv(reply, `session-${query.id}`, detail.events as unknown as Record<string, unknown>[],
        ['ts', 'kind', 'user_name', 'database_name', 'severity', 'sqlstate', 'message', 'class', 'command', 'object_name', 'statement', 'parameters', 'rows', 'duration_ms']);
    }
    return { session: detail.session, events: detail.events, next: detail.next, searched_to: detail.searchedTo };
  });

  app.get('/api/overview', { schema: { querystring: { type: 'object', properties: RANGE_PROPERTIES } } }, async (request) => {
    // open_incidents: every incident not yet acknowledged or resolved, whatever its time
    return { ...await overview(pool, parseRange(request.query as Query)), open_incidents: await openIncidentCount(pool) };
  });

  app.get('/api/connections', { schema: { querystring: { type: 'object', properties: { ...RANGE_PROPERTIES, ...FORMAT_PROPERTY } } } }, async (request, reply) => {
    const summary = await connectionsSummary(pool, parseRange(request.query as Query));
    if ((request.query as Query).format === 'csv') {
      const rows = (['user', 'application', 'client'] as const).flatMap((dimension) =>
        summary[`by_${dimension}`].map((row) => ({ dimension, ...row })));
      return sendCsv(reply, 'connections', rows, ['dimension', 'value', 'authorized', 'refused', 'failed']);
    }
    return summary;
  });

  const alertLimit = 500;
  app.get('/api/alerts', { schema: { querystring: { type: 'object', properties: { ...RANGE_PROPERTIES, ...FORMAT_PROPERTY } } } }, async (request, reply) => {
    const query = request.query as Query & { format: 'json' | 'csv' };
    const result = await alerts(pool, parseRange(query), { failedLogins: config.alerts.failed_logins, windowMinutes: config.alerts.window_minutes, limit: alertLimit });
    request.auditRows = result.alerts.length;
    if (query.format === 'csv') {
      return sendCsv(reply, 'alerts', result.alerts as unknown as Record<string, unknown>[], ['ts', 'level', 'type', 'server', 'user_name', 'client_addr', 'summary', 'count']);
    }
    return result;
  });

  app.get('/api/monitoring', { schema: { querystring: { type: 'object', properties: { server: { type: 'string', maxLength: 200 }, ...FORMAT_PROPERTY } } } }, async (request, reply) => {
    const servers = await monitoringStatus(pool, (request.query as Query).server);
    if ((request.query as Query).format === 'csv') {
      const rows = servers.flatMap((s) => s.checks.map(({ result: _result, ...check }) => ({ server: s.server, ...check })));
      return sendCsv(reply, 'monitoring', rows, ['server', 'check_name', 'category', 'level', 'summary', 'checked_at']);
    }
    return { servers };
  });

  app.get('/api/monitoring/check', {
    schema: { querystring: { type: 'object', required: ['server', 'check'], properties: { server: { type: 'string', maxLength: 200 }, check: { type: 'string', maxLength: 100 }, ...RANGE_PROPERTIES, ...FORMAT_PROPERTY } } },
  }, async (request, reply) => {
    const query = request.query as Query & { server: string; check: string };
    const history = await checkHistory(pool, query.server, query.check, parseRange(query));
    request.auditRows = history.runs.length;
    if (query.format === 'csv') {
      return sendCsv(reply, `check-${query.server}-${query.check}`, history.runs as unknown as Record<string, unknown>[], ['checked_at', 'level', 'summary', 'value', 'duration_ms']);
    }
    return history;
  });

  app.get('/api/admin/users', { config: { access: 'admin' }, schema: { querystring: { type: 'object', properties: FORMAT_PROPERTY } } }, async (request, reply) => {
    const users = await listUsers(pool);
    request.auditRows = users.length;
    if ((request.query as Query).format === 'csv') {
      return sendCsv(reply, 'users', users as unknown as Record<string, unknown>[], ['name', 'role', 'disabled', 'created_at', 'password_changed_at', 'last_login_at']);
    }
    return { users };
  });
}
