import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { Severity, Suite, ValidationStatistics } from '../../pipelines/steps/validation';
import type { ComparisonReport } from './comparison';
import type { ExpectationResult } from './expectations';

/**
 * The validation report: GE's suite result (success, statistics, one result per expectation),
 * plus severities, failure lines and the comparison with a reference version. It holds no
 * timestamps or run ids (those are in the validation_reports row), so the same data and suite
 * give the same bytes, hence the same content-addressed artifact.
 */

export const REPORT_FORMAT = 'sluice.validation-report/1';

export interface ValidationReport {
  format: typeof REPORT_FORMAT;
  suite: { name: string; description?: string; expectation_count: number };
  dataset: { name: string; version: number; uri: string; sha256: string; rows: number; columns: { name: string; type: string }[] };
  /** No error-severity failure, among expectations and (when they count as errors) comparison findings. */
  success: boolean;
  statistics: ValidationStatistics;
  /** Error-severity failures, `label: reason`. */
  failed: string[];
  /** Warn-severity failures and warn-level comparison findings, `label: reason`. */
  warnings: string[];
  results: ExpectationResult[];
  comparison?: ComparisonReport & { severity: Severity };
}

export function assembleReport(a: {
  suite: Suite;
  dataset: DatasetRef;
  columns: { name: string; type: string }[];
  results: ExpectationResult[];
  comparison?: ComparisonReport;
  comparisonSeverity: Severity;
}): ValidationReport {
  const failedResults = a.results.filter((r) => !r.success);
  const lines = (sev: Severity) => failedResults.filter((r) => r.severity === sev).map((r) => clip(`${r.id}: ${describeFailure(r)}`, 500));
  const findings = (a.comparison?.findings ?? []).map((f) => clip(`compare(${a.comparison!.reference.name}@${a.comparison!.reference.version}): ${f.message}`, 500));
  const failed = [...lines('error'), ...(a.comparisonSeverity === 'error' ? findings : [])];
  const warnings = [...lines('warn'), ...(a.comparisonSeverity === 'warn' ? findings : [])];
  const evaluated = a.results.length;
  const successful = evaluated - failedResults.length;
  return {
    format: REPORT_FORMAT,
    suite: { name: a.suite.name, ...(a.suite.description ? { description: a.suite.description } : {}), expectation_count: a.suite.expectations.length },
    dataset: { name: a.dataset.name, version: a.dataset.version, uri: a.dataset.uri, sha256: a.dataset.sha256, rows: a.dataset.rows, columns: a.columns },
    success: failed.length === 0,
    statistics: {
      evaluated_expectations: evaluated,
      successful_expectations: successful,
      unsuccessful_expectations: evaluated - successful,
      success_percent: evaluated === 0 ? null : (successful / evaluated) * 100,
    },
    failed,
    warnings,
    results: a.results,
    ...(a.comparison ? { comparison: { ...a.comparison, severity: a.comparisonSeverity } } : {}),
  };
}

const fmt = (x: unknown) => (typeof x === 'number' ? String(Number(x.toPrecision(6))) : clip(JSON.stringify(x), 200));

/** Failure lines travel through workflow history (step output, failure message): values in them are clipped. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(2)}%`);

/** `[0, 5000]`, `(0, inf)`, `[-inf, 10)`: inclusive bounds in brackets, strict ones in parentheses. */
export function boundsText(b: { min?: number | undefined; max?: number | undefined; strictMin?: boolean; strictMax?: boolean }): string {
  return `${b.strictMin ? '(' : '['}${b.min ?? '-inf'}, ${b.max ?? 'inf'}${b.strictMax ? ')' : ']'}`;
}

/** Why an expectation failed, in one line. */
export function describeFailure(r: ExpectationResult): string {
  if (r.exception_info) return `could not be evaluated: ${r.exception_info.exception_message}`;
  const e = r.expectation;
  const res = r.result;
  switch (e.type) {
    case 'columnExists':
      return `column "${e.column}" not found`;
    case 'columnsMatchSet':
    case 'columnsMatchOrderedList':
      return `columns ${JSON.stringify(res.observed_value)} do not match ${JSON.stringify(e.columns)}`;
    case 'rowCountBetween':
      return `${fmt(res.observed_value)} rows, expected ${boundsText(e)}`;
    case 'ofType':
      return `type is ${String(res.observed_value)}, expected ${typeof e.columnType === 'string' ? e.columnType : e.columnType.join(' or ')}`;
    case 'meanBetween':
    case 'medianBetween':
    case 'minBetween':
    case 'maxBetween':
    case 'stdevBetween':
      return `observed ${res.observed_value === null ? 'nothing (no non-missing value)' : fmt(res.observed_value)}, expected ${boundsText(e)}`;
    case 'quantilesBetween': {
      const obs = res.observed_value as { values: (number | null)[] };
      const bad = e.ranges.map((q, i) => ({ q, v: obs.values[i] ?? null, ok: (res.details?.success_details as boolean[] | undefined)?.[i] })).filter((x) => !x.ok);
      return bad.map((x) => `q${x.q.quantile} = ${x.v === null ? 'n/a' : fmt(x.v)} outside ${boundsText(x.q)}`).join('; ');
    }
    default: {
      const considered = (res.element_count ?? 0) - (res.missing_count ?? 0);
      const sample = (res.partial_unexpected_list ?? []).slice(0, 3).map((v) => clip(JSON.stringify(v), 60));
      const mostly = 'mostly' in e && e.mostly !== undefined ? `, mostly ${e.mostly}` : '';
      return `${res.unexpected_count} unexpected of ${considered} (${pct(res.unexpected_percent)}${mostly})${sample.length ? `, e.g. ${sample.join(', ')}` : ''}`;
    }
  }
}

/** The failure message of a failed step: names every failed expectation (up to a bound) and the reports. */
export function failureSummary(report: ValidationReport, links: { report: string; html: string }, maxLines = 20): string {
  const head = `validation suite "${report.suite.name}" failed on dataset ${report.dataset.name}@${report.dataset.version}: ${report.failed.length} error(s)`;
  const shown = report.failed.slice(0, maxLines).map((l) => `- ${clip(l, 300)}`);
  const more = report.failed.length > maxLines ? [`- … and ${report.failed.length - maxLines} more`] : [];
  const warn = report.warnings.length ? [`${report.warnings.length} warning(s) besides.`] : [];
  return [head, ...shown, ...more, ...warn, `report: ${links.report}`, `html: ${links.html}`].join('\n');
}
