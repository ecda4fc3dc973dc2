import type { StepImplementation } from '../runtime/implement';
import { validateDataset } from './validate';

export { validateDataset } from './validate';
export { evaluateSuite, evaluateExpectation, prepareFrame, SAMPLE_SIZE, type ExpectationResult, type ExpectationResultBody } from './expectations';
export { compareFrames, type ComparisonReport } from './comparison';
export { assembleReport, describeFailure, failureSummary, REPORT_FORMAT, type ValidationReport } from './report';
export { renderHtml } from './html';

/** The validation step implementations, for the worker registry. */
export const validationImplementations = [validateDataset] as StepImplementation[];
