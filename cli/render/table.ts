import { clean } from './model-card';

/**
 * Listings as aligned columns under a header row of capitalised names (`NAME  VERSIONS …`), the
 * shape every `sluice … list` prints. Cells are cleaned of terminal escapes and kept on one line;
 * the last column is not padded, so lines carry no trailing blanks. Pure, for tests.
 */
export function formatTable(head: string[], rows: string[][]): string[] {
  const safe = rows.map((r) => head.map((_, i) => clean(r[i] ?? '').replace(/\s+/g, ' ')));
  const widths = head.map((h, i) => Math.max(h.length, ...safe.map((r) => r[i]!.length)));
  return [head, ...safe].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function printTable(head: string[], rows: string[][], log: (line: string) => void = (l) => console.log(l)): void {
  for (const line of formatTable(head, rows)) log(line);
}
