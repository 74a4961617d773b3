/**
 * The permission matrix as an editable model: one value per (resource, action)
 * cell, read from a role's matrix and written back as policy grants
 * ("deals:list,read", { allow: "deals:update", when: assigned }).
 *
 * A cell value is "no", "yes", or a condition expression: alternatives joined
 * by " | ", each a conjunction joined by " & " ("assigned", "own_org & group",
 * "assigned | collaborator"): the same shape as the matrix's `when`.
 */
import type { GrantBody, MatrixCell, MatrixRow, ResourceInfo } from './api.js';

/** The policy language's record conditions (src/policy/schema.ts CONDITIONS). */
export const CONDITIONS: readonly { name: string; label: string }[] = [
  { name: 'own_org', label: 'own organisation' },
  { name: 'self', label: 'only themselves' },
  { name: 'assigned', label: 'assigned records' },
  { name: 'collaborator', label: 'records they collaborate on' },
  { name: 'group', label: "their partner's groups" },
];

type CellValue = string;
export type Cells = Map<string, CellValue>;

export const cellKey = (resource: string, action: string): string => `${resource}:${action}`;

function whenToValue(when: readonly (readonly string[])[]): CellValue {
  return when.map((all) => all.join(' & ')).join(' | ');
}

function valueToWhen(v: CellValue): string[][] {
  return v.split(' | ').map((all) => all.split(' & '));
}

function cellValue(c: MatrixCell): CellValue {
  if (c.access === 'yes') return 'yes';
  if (c.access === 'conditional' && c.when?.length) return whenToValue(c.when);
  return 'no';
}

export function cellsFromMatrix(matrix: readonly MatrixRow[]): Cells {
  const cells: Cells = new Map();
  for (const row of matrix) for (const c of row.actions) cells.set(cellKey(row.resource, c.action), cellValue(c));
  return cells;
}

/** Human text of a cell value: "yes", "no", "assigned records or own organisation". */
export function describeValue(v: CellValue): string {
  if (v === 'yes' || v === 'no') return v;
  const label = (n: string) => CONDITIONS.find((c) => c.name === n)?.label ?? n;
  return valueToWhen(v).map((all) => all.map(label).join(' and ')).join(', or ');
}

/**
 * Grants for the cells, resource by resource in policy order; actions that
 * share a value share one grant. Unconditional grants come first, then one
 * grant per alternative of each condition expression.
 */
export function grantsFromCells(resources: readonly ResourceInfo[], cells: Cells): GrantBody[] {
  const grants: GrantBody[] = [];
  for (const r of resources) {
    const byValue = new Map<CellValue, string[]>();
    for (const a of r.actions) {
      const v = cells.get(cellKey(r.resource, a)) ?? 'no';
      if (v === 'no') continue;
      byValue.set(v, [...(byValue.get(v) ?? []), a]);
    }
    const yes = byValue.get('yes');
    if (yes) grants.push(`${r.resource}:${yes.join(',')}`);
    for (const [v, actions] of byValue) {
      if (v === 'yes') continue;
      for (const all of valueToWhen(v)) {
        grants.push({ allow: `${r.resource}:${actions.join(',')}`, when: all.length === 1 ? all[0]! : all });
      }
    }
  }
  return grants;
}
