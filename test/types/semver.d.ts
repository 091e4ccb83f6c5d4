// The part of semver the tests use (the package ships no types; @types/semver is not worth a dependency).
declare module 'semver' {
  export function satisfies(version: string, range: string): boolean;
  export function minVersion(range: string): { version: string } | null;
}
