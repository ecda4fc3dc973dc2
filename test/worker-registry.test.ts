import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fingerprintModule } from '../activities/runtime/fingerprint';
import { projectRoot } from '../infra/paths';
import { uniqueId } from './helpers/stack';

// Generated modules live inside the project so they resolve its packages like a user's module would.
const dir = path.join(projectRoot, '.sluice', 'test-generated', uniqueId('registry-'));
fs.mkdirSync(dir, { recursive: true });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a worker refuses to start when a registered pipeline uses a step it cannot run, naming the step', async () => {
  const file = path.join(dir, 'missing-impl.ts');
  fs.writeFileSync(
    file,
    `import { z } from 'zod';
import { pipeline } from '${projectRoot}/pipelines/dsl/pipeline';
import { step } from '${projectRoot}/pipelines/dsl/step';
const orphan = step({ name: 'orphan.step', input: z.object({}), output: z.object({}) });
export const pipelines = [pipeline({ name: 'needs-orphan', params: z.object({}) }, (_p, b) => { b.step('lonely', orphan, {}); return {}; })];
export const implementations = [];
`,
  );
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', 'cpu.ts')], {
      env: { ...process.env, SLUICE_EXTRA_PIPELINES: file, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', TEMPORAL_ADDRESS: '127.0.0.1:1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (c) => resolve({ code: c, output: out }));
  });
  assert.equal(code, 1);
  assert.match(output, /pipeline needs-orphan, node lonely: no implementation of step "orphan\.step"/);
});

test('the code fingerprint follows the module and the project modules it imports', () => {
  const helper = path.join(dir, 'helper.ts');
  const main = path.join(dir, 'main.ts');
  fs.writeFileSync(helper, 'export const k = 1;\n');
  fs.writeFileSync(main, "import { k } from './helper';\nimport { z } from 'zod';\nexport const v = k + 1;\n");
  const fresh = (f: string) => fingerprintModule(f, { fresh: true });
  const before = fresh(main);
  assert.equal(fresh(main), before, 'stable for unchanged code');
  fs.writeFileSync(helper, 'export const k = 2;\n');
  const afterHelper = fresh(main);
  assert.notEqual(afterHelper, before, 'editing an imported project module changes it');
  fs.writeFileSync(path.join(dir, 'unrelated.ts'), 'export const x = 1;\n');
  assert.equal(fresh(main), afterHelper, 'a module it does not import does not');
});

test("the code fingerprint follows the installed version of each package the module's code imports", () => {
  const pkg = path.join(dir, 'node_modules', '@acme', 'fake-dep');
  fs.mkdirSync(pkg, { recursive: true });
  const install = (version: string) => fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@acme/fake-dep', version }));
  const helper = path.join(dir, 'uses-dep.ts');
  const main = path.join(dir, 'main-dep.ts');
  const other = path.join(dir, 'no-dep.ts');
  fs.writeFileSync(helper, "import { f } from '@acme/fake-dep/sub';\nimport fs from 'node:fs';\nexport const g = f;\n");
  fs.writeFileSync(main, "import { g } from './uses-dep';\nexport const v = g;\n");
  fs.writeFileSync(other, "import { z } from 'zod';\nexport const s = z.string();\n");
  const fresh = (f: string) => fingerprintModule(f, { fresh: true });
  install('1.0.0');
  const before = fresh(main);
  const unrelated = fresh(other);
  install('1.0.1');
  assert.notEqual(fresh(main), before, 'upgrading a package a (transitively) imported module uses changes it');
  assert.equal(fresh(other), unrelated, 'a module that does not import the package keeps its fingerprint');
});
