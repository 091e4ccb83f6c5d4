// Server-rendered HTML: a tagged template that escapes every value unless it is already Html,
// and the page layout. The pages carry no script at all and no style attribute, so the
// Content-Security-Policy can forbid both.

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (value instanceof Date) return escapeHtml(formatTime(value));
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Every time on the dashboard is UTC, to the millisecond, as the logs have it. */
export function formatTime(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return '';
  const date = typeof value === 'string' ? new Date(value) : value;
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A query string from the non-empty values. */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface PageContext {
  user: string;
  role: 'viewer' | 'admin';
  /** the session's CSRF token, for the logout form; absent for an API token */
  csrf: string | null;
  /** the path of the page, for the active menu entry */
  path: string;
}

const MENU: { path: string; label: string; admin?: boolean }[] = [
  { path: '/', label: 'Overview' },
  { path: '/connections', label: 'Connections' },
  { path: '/ddl', label: 'DDL' },
  { path: '/audit', label: 'Audit search' },
  { path: '/sessions', label: 'Sessions' },
  { path: '/alerts', label: 'Alerts' },
  { path: '/incidents', label: 'Incidents' },
  { path: '/monitoring', label: 'Monitoring' },
  { path: '/admin/access', label: 'Access log', admin: true },
  { path: '/admin/users', label: 'Users', admin: true },
];

export function layout(context: PageContext, title: string, body: Html): Html {
  const active = (path: string) => (path === '/' ? context.path === '/' : context.path.startsWith(path));
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · pgwarden</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header>
  <a class="brand" href="/">pgwarden</a>
  <nav>${MENU.filter((m) => !m.admin || context.role === 'admin').map((m) => html`<a href="${m.path}"${active(m.path) ? html` aria-current="page"` : ''}>${m.label}</a>`)}</nav>
  <div class="who">${context.user} (${context.role})${context.csrf ? html`
    <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${context.csrf}"><button type="submit">Log out</button></form>` : ''}</div>
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`;
}

export function loginPage(options: { error?: string; next?: string; user?: string }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · pgwarden</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body class="login">
<main>
<h1>pgwarden</h1>
<form method="post" action="/login" class="card">
  ${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
  <label>User <input name="user" autocomplete="username" required value="${options.user ?? ''}" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <input type="hidden" name="next" value="${options.next ?? '/'}">
  <button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`;
}

export function errorPage(context: PageContext | null, status: number, message: string): Html {
  const body = html`<p class="error">${message}</p><p><a href="/">Back to the overview</a></p>`;
  if (!context) return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error ${status} · pgwarden</title><link rel="stylesheet" href="/static/style.css"></head><body><main><h1>Error ${status}</h1>${body}</main></body></html>`;
  return layout(context, `Error ${status}`, body);
}
