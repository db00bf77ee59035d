/**
 * Plain-text tables of the bench report (cli-table3, with no borders and no colours): the
 * columns are separated by two spaces, each aligned left or right, trailing blanks cut.
 */
import Table from 'cli-table3';

export type Align = 'left' | 'right';

const NO_BORDERS = Object.freeze({
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
});

/**
 * A table as lines of text: `head` on the first line, then one line per row. `align`
 * gives each column's alignment (default: the first column left, the others right);
 * every line starts with `indent`.
 */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[], align?: readonly Align[], indent = ''): string[] {
  const colAligns = head.map((_, i) => align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const table = new Table({
    head: [...head],
    chars: NO_BORDERS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns,
  });
  for (const row of rows) table.push(head.map((_, i) => row[i] ?? ''));
  return table
    .toString()
    .split('\n')
    .map((line) => `${indent}${line}`.trimEnd());
}
