// Loaded just before the pg driver (src/core/pg.ts): on Node.js 20, which has no global
// `navigator`, pg's stream.js asks whether it runs in a Cloudflare Worker by building a
// `new Response(...)`, and that loads undici (fetch) — 25-40 ms of every `pgwarden check`
// start-up for a module pgwarden never uses. Node.js 21+ has `navigator` and pays nothing. A
// `navigator` that says Node.js answers the question without undici; it exists only while pg
// loads (pg.ts removes it), so no other code sees a global that Node.js 20 does not have.
const absent = typeof (globalThis as { navigator?: unknown }).navigator === 'undefined';
if (absent) Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node}` }, configurable: true, writable: true });

export function removeRuntimeHint(): void {
  if (absent) delete (globalThis as { navigator?: unknown }).navigator;
}
