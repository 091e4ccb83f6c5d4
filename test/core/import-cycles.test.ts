// The guard against import cycles in src/: it walks every module's imports (static, `import type`,
// `export … from` and dynamic `import()` alike: a type-only or lazy import still ties the two files
// together for a reader, and a lazy one is how a cycle hides) and fails on any strongly connected
// group of files, naming one cycle in it. A cycle is broken by moving what both sides share into a
// leaf module that imports neither (docs/development.md, "Imports").
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The relative imports of one file, as absolute paths of files under src/. */
export function importsOf(file: string, text: string): string[] {
  // preProcessFile is the compiler's own import scanner: it reads import/export declarations and
  // import() calls, and not strings or comments that look like them.
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('.')).map((name) => resolve(dirname(file), name));
}

/** Strongly connected groups of more than one file, or a file importing itself (Tarjan's algorithm). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1 || (graph.get(node) ?? []).includes(node)) groups.push(group);
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return groups;
}

/** One concrete cycle through `start` inside its group, for the failure message. */
function pathThrough(graph: Map<string, string[]>, group: Set<string>, start: string): string[] {
  const seen = new Set<string>();
  const walk = (node: string, path: string[]): string[] | undefined => {
    for (const to of graph.get(node) ?? []) {
      if (to === start) return [...path, to];
      if (!group.has(to) || seen.has(to)) continue;
      seen.add(to);
      const found = walk(to, [...path, to]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]) ?? [start];
}

describe('import graph of src/', () => {
  it('finds a cycle when there is one (the checker itself can fail)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    assert.deepEqual(cycles(graph).map((g) => g.sort()), [['a', 'b', 'c'], ['e']]);
    const file = join(SRC, 'x', 'y.ts');
    const text = "import type { A } from './a.ts';\nexport { B } from '../b.ts';\nconst c = await import('./c.ts');\n// import { D } from './d.ts';\nconst s = \"import { E } from './e.ts'\";\nimport pg from 'pg';\n";
    assert.deepEqual(importsOf(file, text), [join(SRC, 'x', 'a.ts'), join(SRC, 'b.ts'), join(SRC, 'x', 'c.ts')]);
  });

  it('has no cycle', () => {
    const graph = new Map<string, string[]>();
    for (const file of modules(SRC)) graph.set(file, importsOf(file, readFileSync(file, 'utf8')));
    assert.ok(graph.size > 100, `${graph.size} modules read`);
    const unresolved = [...graph].flatMap(([from, tos]) => tos.filter((to) => !graph.has(to)).map((to) => `${relative(SRC, from)} -> ${relative(SRC, to)}`));
    assert.deepEqual(unresolved, [], 'every relative import names a .ts file under src/');
    const found = cycles(graph).map((group) => {
      const path = pathThrough(graph, new Set(group), group.sort()[0]!).map((f) => relative(SRC, f)).join(' -> ');
      return group.length > 2 ? `${path} (one cycle of ${group.map((f) => relative(SRC, f)).join(', ')})` : path;
    });
    assert.deepEqual(found, []);
  });
});
