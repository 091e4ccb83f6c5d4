// pgwarden's own documentation (the docs/ folder it ships with), rendered for the dashboard: a
// check's page links to docs/checks/<check>.md, which says what it measures and how to resolve
// it. Markdown is rendered with raw HTML turned off, so a page can carry nothing but text, tables,
// code and links (and markdown-it refuses javascript: links).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import MarkdownIt from 'markdown-it';
import { PgwardenError } from '../../core/errors.ts';
import { pageContext } from '../request.ts';
import { Html, layout } from '../ui/html.ts';

/** src/server/routes and dist/server/routes are both three levels below the package. */
const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });
// A column's alignment as a class, not the style attribute markdown-it writes: the
// Content-Security-Policy refuses inline style.
markdown.core.ruler.push('alignment_as_class', (state) => {
  for (const token of state.tokens) {
    const style = token.attrGet('style');
    if (!style) continue;
    token.attrs = (token.attrs ?? []).filter(([name]) => name !== 'style');
    const align = /text-align:\s*(left|right|center)/.exec(String(style))?.[1];
    if (align) token.attrJoin('class', `align-${align}`);
  }
});

/** A doc page's path below /docs/: a page or a check's page, nothing that could climb out. */
const PAGE = /^(?:checks\/)?[a-z0-9][a-z0-9_-]{0,63}\.md$/;

export function docPath(check: string): string {
  return `/docs/checks/${check}.md`;
}

export function registerDocRoutes(app: FastifyInstance): void {
  app.get('/docs/*', async (request, reply) => {
    const page = (request.params as { '*': string })['*'];
    if (!PAGE.test(page)) throw new PgwardenError('PGW_ERR_NOT_FOUND', 'there is no such documentation page');
    let text: string;
    try {
      text = await readFile(DOCS + page, 'utf8');
    } catch {
      throw new PgwardenError('PGW_ERR_NOT_FOUND', `there is no documentation page ${page}`);
    }
    const title = /^# (.+)$/m.exec(text)?.[1] ?? page;
    // the page's own title becomes the layout's
    const body = new Html(`<article class="doc">${markdown.render(text.replace(/^# .+\n/m, ''))}</article>`);
    return reply.type('text/html; charset=utf-8').send(layout(pageContext(request), title, body).value);
  });
}
