import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../infra/paths';

/**
 * A hash of a module's source and of every project module it imports, transitively. Part of a
 * step's cache key, so editing a step, or a helper it uses, invalidates its cache without a
 * version bump. Packages under node_modules are left out: their versions change with the lock file.
 */
const memo = new Map<string, string>();

export function fingerprintModule(file: string, opts: { fresh?: boolean } = {}): string {
  const abs = path.resolve(file);
  const cached = opts.fresh ? undefined : memo.get(abs);
  if (cached) return cached;
  const seen = new Set<string>();
  const order: string[] = [];
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    order.push(f);
    for (const dep of projectImports(f)) visit(dep);
  };
  visit(abs);
  const h = crypto.createHash('sha256');
  for (const f of order.sort()) {
    h.update(path.relative(projectRoot, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  const digest = h.digest('hex');
  memo.set(abs, digest);
  return digest;
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

function projectImports(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    const resolved = resolveLocal(path.resolve(path.dirname(file), spec));
    if (resolved && resolved.startsWith(projectRoot) && !resolved.includes(`${path.sep}node_modules${path.sep}`)) out.push(resolved);
  }
  return out;
}

function resolveLocal(base: string): string | undefined {
  const candidates = [base, `${base}.ts`, `${base}.tsx`, `${base}.js`, `${base}.mjs`, path.join(base, 'index.ts'), path.join(base, 'index.js')];
  if (/\.js$/.test(base)) candidates.unshift(base.replace(/\.js$/, '.ts'));
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
}
