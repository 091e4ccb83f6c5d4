// The pgpass package ships no types; this is what libpq-options.ts calls.
declare module 'pgpass' {
  interface ConnectionInfo { host?: string; port?: number | string; database?: string; user?: string }
  /** Looks the password up in PGPASSFILE or ~/.pgpass (ignored, with a warning, when others may read it). */
  export default function pgpass(connection: ConnectionInfo, callback: (password: string | undefined) => void): void;
}
