import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { openArtifactStore } from '../../infra/artifacts/index';
import { loadConfig } from '../../infra/config';
import type { InferOutputs } from '../../pipelines/dsl/start';
import { importModel } from '../../pipelines/import-model';
import { modelTask } from '../../pipelines/steps/model';
import { connectClient } from '../client';
import { startRun } from './run';

/**
 * `sluice models import FILE.onnx --name NAME [--columns a,b,c] [--task …] [--target col] [--alias …]`:
 * uploads the file to the artifact store (so a worker anywhere can read it) and runs the
 * `import-model` pipeline on it, waiting for the registered version. FILE may also be an artifact
 * URI already in the store.
 */

interface ImportOptions {
  name: string;
  columns?: string;
  task?: string;
  target?: string;
  alias: string[];
  description?: string;
  booleanLabels?: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerModelsImportCommand(models: Command): void {
  models
    .command('import <file>')
    .description('register an ONNX model made elsewhere (scikit-learn via skl2onnx, …) as a new version: the import-model pipeline')
    .requiredOption('--name <name>', 'registered model name')
    .option('--columns <a,b,c>', "dataset columns of a 2-D input [N, k], in the tensor's column order")
    .option('--task <task>', `${modelTask.options.join(' | ')} (default: what the outputs say)`)
    .option('--target <column>', 'the label column it predicts')
    .option('--alias <alias>', 'point this alias at the version (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--description <text>', "the version's description")
    .option('--boolean-labels', 'the labels are booleans (skl2onnx exports a boolean target as classes 0 and 1)')
    .option('--force', 'register a new version even if this file already is one')
    .option('--json', 'print the run result as JSON')
    .action(async (file: string, o: ImportOptions) => {
      const task = o.task === undefined ? undefined : modelTask.safeParse(o.task);
      if (task && !task.success) throw new Error(`--task must be one of ${modelTask.options.join(', ')}, got "${o.task}"`);
      const columns = o.columns?.split(',').map((c) => c.trim());
      if (columns?.some((c) => !c)) throw new Error(`--columns has an empty name: "${o.columns}"`);
      const config = loadConfig();
      const source = await upload(config, file);
      const client = await connectClient(config);
      let result: InferOutputs<typeof importModel>;
      try {
        const params = {
          source,
          name: o.name,
          ...(columns ? { columns } : {}),
          ...(task ? { task: task.data } : {}),
          ...(o.target ? { target: o.target } : {}),
          ...(o.booleanLabels ? { booleanLabels: true } : {}),
          aliases: o.alias,
          ...(o.description ? { description: o.description } : {}),
          ...(o.force ? { force: true } : {}),
        };
        // By definition: the params are checked against import-model's schema at compile time and the outputs are typed.
        const run = await startRun(client, config, importModel, { params, wait: true, progress: !o.json });
        result = run.result!.outputs; // defined: the start waited for the result
      } finally {
        await client.connection.close();
      }
      if (o.json) return void console.log(JSON.stringify(result, null, 2));
      const sig = result.model.signature;
      console.log(result.created ? `registered ${result.uri}` : `${path.basename(file)} is already ${result.uri} (same file, sha256 ${result.file.sha256.slice(0, 12)}…): nothing registered; --force makes a new version`);
      console.log(`  task     ${sig.task}${sig.classes ? ` (classes ${sig.classes.join(', ')})` : ''}`);
      for (const i of sig.inputs) console.log(`  input    ${i.name} ${i.type} ${'columns' in i ? `[N, ${i.columns.length}] ← ${i.columns.join(', ')}` : `[N, 1] ← ${i.column}`}`);
      console.log(`  outputs  ${Object.entries(sig.outputs).map(([k, v]) => `${k}=${v}`).join(', ')}`);
      if (result.aliases.length) console.log(`  aliases  ${result.aliases.join(', ')}`);
      if (result.onnx.producer) console.log(`  producer ${result.onnx.producer}`);
    });
}

/** A local file goes to the artifact store (content-addressed); anything else is taken as an artifact URI. */
async function upload(config: ReturnType<typeof loadConfig>, file: string): Promise<string> {
  if (!fs.existsSync(file)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return file;
    throw new Error(`no such file: ${file}`);
  }
  const store = await openArtifactStore(config.artifacts);
  const ref = await store.putContent(fs.readFileSync(file), { contentType: 'application/onnx' });
  return ref.uri;
}
