// The two upstream bodies. Deterministic, so the harness can check what a target returned.

export const SMALL_PATH = '/api/partners/p-42/deals/small?limit=1&fields=id,name,stage';
export const LARGE_PATH = '/api/partners/p-42/deals/large?limit=100&fields=all';

export type PayloadName = 'small' | 'large';
export const PAYLOADS: readonly PayloadName[] = ['small', 'large'];

export function payloadPath(p: PayloadName): string {
  return p === 'small' ? SMALL_PATH : LARGE_PATH;
}

function deal(i: number): Record<string, unknown> {
  return {
    id: `d-${String(i).padStart(5, '0')}`,
    partner_id: 'p-42',
    name: `Renewal ${i} for ACME subsidiary`,
    stage: ['lead', 'qualified', 'proposal', 'won', 'lost'][i % 5],
    amount_cents: 100_000 + i * 137,
    currency: 'EUR',
    owner: `u-${i % 17}`,
    updated_at: new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString(),
  };
}

/** About 150 bytes. */
export const SMALL_BODY = Buffer.from(JSON.stringify({ items: [deal(1)], next: null }));

/** A JSON list just over 16 KiB. */
export const LARGE_BODY: Buffer = (() => {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < 1000; i++) {
    items.push(deal(i));
    if (JSON.stringify({ items, next: 'cursor-abc' }).length >= 16 * 1024) break;
  }
  return Buffer.from(JSON.stringify({ items, next: 'cursor-abc' }));
})();

export function payloadBody(p: PayloadName): Buffer {
  return p === 'small' ? SMALL_BODY : LARGE_BODY;
}
