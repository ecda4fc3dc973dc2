import type { ModelSignature, ModelTask } from '../../../pipelines/steps/model';
import type { FeatureColumn } from '../data/design-matrix';

/** The signature of a model Sluice trained: one input per feature column, outputs by task. */
export function trainedSignature(m: { task: ModelTask; target: string; features: readonly Pick<FeatureColumn, 'column' | 'input' | 'kind'>[]; classes?: (string | number)[] | undefined }): ModelSignature {
  return {
    task: m.task,
    inputs: m.features.map((f) => ({ name: f.input, column: f.column, type: f.kind === 'numeric' ? ('float' as const) : ('string' as const) })),
    outputs: m.task === 'regression' ? { value: 'value' } : { label: 'label', probabilities: 'probabilities' },
    ...(m.classes ? { classes: m.classes } : {}),
    // A boolean target is trained on as the text "false" / "true": its predictions are booleans again.
    ...(m.classes?.length === 2 && m.classes[0] === 'false' && m.classes[1] === 'true' ? { labelType: 'bool' as const } : {}),
    target: m.target,
  };
}
