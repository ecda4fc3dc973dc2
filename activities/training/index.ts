import type { StepImplementation } from '../runtime/implement';
import { inspectOnnxImpl, trainGbdtGpuImpl, trainGbdtImpl, trainLinearImpl, trainLogisticImpl } from './steps';

/**
 * Training: TypeScript trainers for tabular data (logistic regression, linear / ridge regression,
 * histogram gradient-boosted trees) that export ONNX with their preprocessing inside, and
 * `inspect-onnx` for models made elsewhere.
 */
export const trainingImplementations: StepImplementation[] = [trainLogisticImpl, trainLinearImpl, trainGbdtImpl, trainGbdtGpuImpl, inspectOnnxImpl] as StepImplementation[];

export { inspectOnnxImpl, loadTrainingData, runGbdt, runLogistic, trainGbdtGpuImpl, trainGbdtImpl, trainLinearImpl, trainLogisticImpl } from './steps';
