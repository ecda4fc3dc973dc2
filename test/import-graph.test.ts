import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { projectRoot } from '../infra/paths';

/**
 * The layering rules of the README's Architecture section, checked on the source itself: every
 * import (`import type` and re-exports included: a cycle through types still couples layers)
 * of every .ts file under the layers below, resolved to a file.
 */

const LAYERS = ['pipelines', 'workflows', 'activities', 'workers', 'serving', 'console', 'infra', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

interface Import {
  /** The specifier as written. */
  spec: string;
  /** Repo-relative path of the file a relative specifier names; undefined for a package. */
  file?: string;
  /** `import('…')`: loaded lazily, so not part of a load-time cycle; still a dependency between layers. */
  dynamic: boolean;
  /** Erased at build (`import type`, `export type`, or only `type` names): loads nothing at run time. */
  typeOnly: boolean;
}

type Graph = Map<string, Import[]>;

const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.mjs', '.js', '.json', '/index.ts', '/index.mjs'];

function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = path.join(path.dirname(fromFile), spec);
  const candidates = EXTENSIONS.map((e) => base + e);
  // ESM-style './x.js' naming a TypeScript source.
  if (/\.m?js$/.test(spec)) candidates.push(base.replace(/\.(m?)js$/, '.$1ts'));
  return candidates.find((c) => fs.existsSync(path.join(projectRoot, c)) && fs.statSync(path.join(projectRoot, c)).isFile());
}

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(path.join(projectRoot, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: { spec: string; dynamic: boolean; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ spec: node.moduleSpecifier.text, dynamic: false, typeOnly: importsTypesOnly(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = node.isTypeOnly || (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
      found.push({ spec: node.moduleSpecifier.text, dynamic: false, typeOnly });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ spec: node.moduleReference.expression.text, dynamic: false, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      found.push({ spec: node.arguments[0].text, dynamic: true, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ spec: node.argument.literal.text, dynamic: false, typeOnly: true }); // `typeof import('…')`
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.map(({ spec, dynamic, typeOnly }) => {
    if (!spec.startsWith('.')) return { spec, dynamic, typeOnly };
    const resolved = resolveRelative(file, spec);
    if (!resolved) throw new Error(`${file}: cannot resolve import '${spec}'`);
    return { spec, file: resolved, dynamic, typeOnly };
  });
}

/** `import type …`, or `import { type A, type B }`: TypeScript drops the whole import. */
function importsTypesOnly(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x'`: run for its effects
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(projectRoot, dir), { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (/\.m?ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const l of LAYERS) if (fs.existsSync(path.join(projectRoot, l))) walk(l);
  return out.sort();
}

export function importGraph(): Graph {
  return new Map(sourceFiles().map((f) => [f, importsOf(f)]));
}

const layerOf = (file: string): string => file.split(/[\\/]/)[0]!;
const isLayer = (x: string): x is Layer => (LAYERS as readonly string[]).includes(x);

/** Load-time cycles (static imports, types included), each named by the files around it. */
export function findCycles(graph: Graph): string[][] {
  // Tarjan's strongly connected components; a component of more than one file (or a file that
  // imports itself) holds at least one cycle, and one is named per component.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const edges = (f: string) => (graph.get(f) ?? []).filter((i) => !i.dynamic && i.file && graph.has(i.file)).map((i) => i.file!);
  const strongConnect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges(v)) {
      if (!index.has(w)) {
        strongConnect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || edges(v).includes(v)) components.push(comp);
    }
  };
  for (const f of graph.keys()) if (!index.has(f)) strongConnect(f);

  // One concrete cycle per component: a shortest path back to its first file, by breadth-first search.
  return components.map((comp) => {
    const members = new Set(comp);
    const start = [...comp].sort()[0]!;
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of edges(v)) {
        if (!members.has(w)) continue;
        if (w === start) {
          const cycle = [v];
          while (cycle[0] !== start) cycle.unshift(prev.get(cycle[0]!)!);
          return [...cycle, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

/** Which layers each layer may import (the README's table); packages are free except in workflows/. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  pipelines: ['pipelines'],
  workflows: ['pipelines', 'workflows'],
  activities: ['pipelines', 'infra', 'activities'],
  infra: ['pipelines', 'infra'],
  workers: ['pipelines', 'workflows', 'activities', 'infra', 'workers'],
  // The serving process and the console are composition roots like workers/: they run activities'
  // code (inference, reports) and infra/, and only cli/ starts them.
  serving: ['pipelines', 'activities', 'infra', 'serving'],
  console: ['pipelines', 'activities', 'infra', 'console'],
  cli: LAYERS,
};

function why(from: Layer, to: string): string {
  if (to === 'cli') return 'nothing outside cli/ imports cli/';
  if (to === 'workers' || to === 'serving' || to === 'console') return `only ${to}/ itself and cli/ import ${to}/ (it is a process of its own)`;
  if (from === 'workflows') return "workflow code imports only pipelines/, workflows/ and @temporalio/* (it runs in Temporal's deterministic sandbox; the types it needs come through pipelines/)";
  if (from === 'pipelines') return 'pipelines/ is the contract layer and imports no other layer';
  return `${from}/ imports only ${MAY_IMPORT[from].map((l) => `${l}/`).join(', ')}`;
}

/** The layering rules; each broken one is a line naming the file, the import and the rule. */
export function layerViolations(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    if (!isLayer(from)) continue;
    for (const imp of imports) {
      const where = `${file} imports '${imp.spec}'`;
      if (!imp.file) {
        // A package's types (zod's z.infer, say) are erased at build and put nothing in the bundle.
        if (from === 'workflows' && !imp.spec.startsWith('@temporalio/')) problems.push(`${where}: ${why(from, imp.spec)}`);
        continue;
      }
      const to = layerOf(imp.file);
      if (!isLayer(to)) problems.push(`${where}: ${to}/ is not part of the product (tests, benchmarks)`);
      else if (!MAY_IMPORT[from].includes(to)) problems.push(`${where}: ${why(from, to)}`);
    }
  }
  return problems;
}

describe('import graph', () => {
  test('the checks find a cycle (through a type import too) and each broken rule in a made-up graph', () => {
    const rel = (file: string) => ({ spec: `./${path.basename(file)}`, file, dynamic: false, typeOnly: false });
    const graph: Graph = new Map([
      ['activities/a.ts', [rel('activities/b.ts')]],
      ['activities/b.ts', [rel('workflows/w.ts')]],
      ['workflows/w.ts', [rel('workers/r.ts'), { spec: 'zod', dynamic: false, typeOnly: false }, { spec: 'zod/v4', dynamic: false, typeOnly: true }, { spec: '@temporalio/workflow', dynamic: false, typeOnly: false }]],
      ['workers/r.ts', [rel('activities/a.ts')]],
      ['cli/main.ts', [rel('workers/s.ts'), { spec: '../workers/lazy', file: 'workers/lazy.ts', dynamic: true, typeOnly: false }]],
      ['workers/s.ts', [rel('cli/main.ts')]],
      ['workers/lazy.ts', [rel('cli/main.ts')]],
      ['pipelines/p.ts', [rel('infra/config.ts'), rel('pipelines/q.ts')]],
      ['pipelines/q.ts', []],
      ['infra/config.ts', [rel('test/helpers/stack.ts'), rel('activities/b.ts')]],
    ]);
    const cycles = findCycles(graph);
    assert.deepEqual(
      cycles.map((c) => c.join(' → ')).sort(),
      // The dynamic import closes no load-time cycle; the static path back does.
      ['activities/a.ts → activities/b.ts → workflows/w.ts → workers/r.ts → activities/a.ts', 'cli/main.ts → workers/s.ts → cli/main.ts'],
    );
    const problems = layerViolations(graph).join('\n');
    assert.match(problems, /workflows\/w\.ts imports 'zod': workflow code imports only/);
    assert.doesNotMatch(problems, /imports '@temporalio/);
    assert.match(problems, /imports 'zod\/v4'/, 'not even a type-only import of another package: the contract layer re-exports what workflows need');
    assert.match(problems, /workflows\/w\.ts imports '\.\/r\.ts': only workers\/ itself and cli\/ import workers\//);
    assert.match(problems, /workers\/s\.ts imports '\.\/main\.ts': nothing outside cli\//);
    assert.match(problems, /workers\/lazy\.ts imports '\.\/main\.ts': nothing outside cli\//);
    assert.doesNotMatch(problems, /^cli\/main\.ts/m);
    assert.match(problems, /pipelines\/p\.ts imports '\.\/config\.ts': pipelines\/ is the contract layer/);
    assert.doesNotMatch(problems, /pipelines\/p\.ts imports '\.\/q\.ts'/);
    assert.match(problems, /infra\/config\.ts imports '\.\/stack\.ts': test\/ is not part of the product/);
    assert.match(problems, /infra\/config\.ts imports '\.\/b\.ts': infra\/ imports only pipelines\/, infra\//);
    assert.match(problems, /activities\/b\.ts imports '\.\/w\.ts': activities\/ imports only pipelines\/, infra\/, activities\//);
    assert.equal(layerViolations(graph).length, 9, problems);
  });

  test('the walk sees type-only imports, re-exports and relative paths without extensions', () => {
    const graph = importGraph();
    const bookkeeping = graph.get(path.join('activities', 'runs', 'bookkeeping.ts'));
    assert.ok(bookkeeping, 'activities/runs/bookkeeping.ts is walked');
    assert.ok(bookkeeping.some((i) => i.file === path.join('pipelines', 'dsl', 'engine-activities.ts') && i.typeOnly), 'its `import type` of the activity interface is an edge, marked type-only');
    assert.ok(bookkeeping.some((i) => i.file === path.join('infra', 'db', 'runs.ts') && !i.typeOnly), 'its value import is not type-only');
    const scoring = graph.get(path.join('activities', 'scoring', 'index.ts'))!;
    assert.ok(scoring.some((i) => i.spec === './finalize' && i.file === path.join('activities', 'scoring', 'finalize.ts')), "its `export … from './finalize'` is an edge");
    assert.ok(graph.get(path.join('activities', 'index.ts'))!.some((i) => i.file === path.join('activities', 'drift', 'index.ts')), "'./drift' resolves to drift/index.ts");
  });

  test('the source has no import cycle', () => {
    const cycles = findCycles(importGraph());
    assert.deepEqual(cycles.map((c) => c.join(' → ')), []);
  });

  test('the CLI loads no step implementation: no polars, no onnxruntime on its import path', () => {
    // `sluice pipeline list` reads the pipeline catalogue (pipelines/catalogue.ts); the step
    // implementations, and the native libraries they load, are the workers' (workers/registry.ts).
    const graph = importGraph();
    const loaded = new Map<string, string>();
    /** Everything loaded, file or package, with the file that first imports it. */
    const visit = (file: string, by: string) => {
      if (loaded.has(file)) return;
      loaded.set(file, by);
      for (const imp of graph.get(file) ?? []) {
        if (imp.dynamic) continue;
        if (imp.file) visit(imp.file, file);
        else if (!loaded.has(imp.spec)) loaded.set(imp.spec, file);
      }
    };
    visit(path.join('cli', 'main.ts'), '(entry)');
    const heavy = [...loaded].filter(([name]) => /^(nodejs-polars|onnxruntime-node|danfojs-node)(\/|$)/.test(name) || name === path.join('workers', 'registry.ts'));
    assert.deepEqual(heavy.map(([name, by]) => `${name} (imported by ${by})`), []);
  });

  test('ONNX code shared by training, evaluation and scoring lives in activities/onnx: scoring reaches neither evaluation nor training, evaluation not training', () => {
    const graph = importGraph();
    /** The activities/ folders a folder's files reach through static imports, each with a path there. */
    const reached = (folder: string): Map<string, string[]> => {
      const prev = new Map<string, string>();
      const queue = [...graph.keys()].filter((f) => f.startsWith(path.join('activities', folder) + path.sep));
      const seen = new Set(queue);
      const out = new Map<string, string[]>();
      while (queue.length) {
        const f = queue.shift()!;
        const sub = f.split(path.sep)[1]!;
        if (f.startsWith('activities') && !out.has(sub)) {
          const trail = [f];
          while (prev.has(trail[0]!)) trail.unshift(prev.get(trail[0]!)!);
          out.set(sub, trail);
        }
        for (const i of graph.get(f) ?? []) {
          if (i.dynamic || !i.file || seen.has(i.file)) continue;
          seen.add(i.file);
          prev.set(i.file, f);
          queue.push(i.file);
        }
      }
      return out;
    };
    const forbidden: [from: string, to: string][] = [['scoring', 'evaluation'], ['scoring', 'training'], ['evaluation', 'training'], ['onnx', 'training'], ['onnx', 'evaluation'], ['onnx', 'scoring']];
    const broken = forbidden.flatMap(([from, to]) => {
      const trail = reached(from).get(to);
      return trail ? [`activities/${from} reaches activities/${to}: ${trail.join(' → ')}`] : [];
    });
    assert.deepEqual(broken, []);
    assert.ok(reached('scoring').has('onnx') && reached('evaluation').has('onnx') && reached('training').has('onnx'), 'all three use activities/onnx');
  });

  test('every import respects its layer rule', () => {
    assert.deepEqual(layerViolations(importGraph()), []);
  });
});
