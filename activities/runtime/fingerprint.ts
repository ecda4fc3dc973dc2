import crypto from 'node:crypto';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../../infra/paths';

/**
 * A hash of a module's source and of every project module it imports, transitively, and of the
 * name and installed version of every package those modules import. Part of a step's cache key,
 * so editing a step, or a helper it uses, invalidates its cache without a version bump.
 *
 * Packages count by version, not by the lock file: an upgrade of a package a step runs (polars,
 * onnxruntime) can change its output, so the step's cached results must go; but hashing the
 * whole package-lock.json would drop every step's cache on any dependency change, a test tool's
 * included. A package's own dependencies are not followed: they move with its version or with
 * the lock file, and chasing them would hash most of node_modules for each step.
 */
const memo = new Map<string, string>();

export function fingerprintModule(file: string, opts: { fresh?: boolean } = {}): string {
  const abs = path.resolve(file);
  const cached = opts.fresh ? undefined : memo.get(abs);
  if (cached) return cached;
  const seen = new Set<string>();
  const order: string[] = [];
  const packages = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    order.push(f);
    const { local, external } = imports(f);
    for (const p of external) packages.add(p);
    for (const dep of local) visit(dep);
  };
  visit(abs);
  const h = crypto.createHash('sha256');
  for (const f of order.sort()) {
    h.update(path.relative(projectRoot, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  for (const p of [...packages].sort()) h.update(p).update('\0');
  const digest = h.digest('hex');
  memo.set(abs, digest);
  return digest;
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/** A module's imports: project modules as resolved paths, packages as `name@version` (`name@?` when not installed). */
function imports(file: string): { local: string[]; external: string[] } {
  const src = fs.readFileSync(file, 'utf8');
  const local: string[] = [];
  const external: string[] = [];
  for (const m of src.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || isBuiltin(spec)) continue;
    if (!spec.startsWith('.')) {
      external.push(packageVersion(file, spec));
      continue;
    }
    const resolved = resolveLocal(path.resolve(path.dirname(file), spec));
    if (resolved && resolved.startsWith(projectRoot) && !resolved.includes(`${path.sep}node_modules${path.sep}`)) local.push(resolved);
  }
  return { local, external };
}

/** `name@version` of the package a bare specifier names, found as Node finds it: in node_modules from `from`'s folder up. */
function packageVersion(from: string, spec: string): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(manifest)) return `${name}@${(JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: string }).version ?? '?'}`;
    if (path.dirname(dir) === dir) return `${name}@?`;
  }
}

function resolveLocal(base: string): string | undefined {
  const candidates = [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, `${base}.mjs`, path.join(base, 'index.ts'), path.join(base, 'index.js')];
  if (/\.js$/.test(base)) candidates.unshift(base.replace(/\.js$/, '.ts'));
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
}
