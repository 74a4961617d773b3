// Row "rolegate-filter": the large list through a route whose right is per record (`when: collaborator`),
// so rolegate buffers the upstream's answer, keeps the records the member may see and rewrites `total`.
import { LARGE_BODY } from './payloads.js';
import { PARTNER_MEMBER, policyYaml, seedYaml } from './rolegate.js';
import { SUBJECT } from './tokens.js';

interface ListPage { items: { id: string }[]; total: number }

const page = (): ListPage => JSON.parse(LARGE_BODY.toString('utf8')) as ListPage;

/** The bench member collaborates on every other deal of the large list: half the records are kept. */
const VISIBLE: ReadonlySet<string> = new Set(page().items.filter((_, i) => i % 2 === 0).map((d) => d.id));

export const FILTER_POLICY = policyYaml({ dealsWhen: 'collaborator', lists: true });

export const FILTER_MEMBERS = seedYaml(
  { [SUBJECT]: PARTNER_MEMBER },
  Object.fromEntries([...VISIBLE].map((id) => [`deals/${id}`, `{ collaborators: [${SUBJECT}], partner: p-42 }`])),
);

/** What the gateway must answer for the large payload: the visible half, `total` rewritten, key order kept. */
export function filteredLargeBody(): Buffer {
  const doc = page();
  doc.items = doc.items.filter((d) => VISIBLE.has(d.id));
  doc.total = doc.items.length;
  return Buffer.from(JSON.stringify(doc));
}

export const FILTER_KEEPS = `${VISIBLE.size} of ${page().items.length} records`;
