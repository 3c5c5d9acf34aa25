// From the merged raw configuration to the normalized model: defaults filled in,
// paths made absolute, host ranges expanded (with MACs, IPs and BMC addresses
// assigned in range order), and inheritance resolved:
//   node  >  category  >  defaults
// Scalars and lists at a lower level replace the inherited value whole; the
// mappings `bmc` and `exclude` merge key by key. Each section has its own file:
// resolve-network.ts, image.ts, resolve-image.ts (layouts), resolve-nodes.ts (with inherit.ts).
import type { Diagnostic } from "./diagnostics.js";
import { keyPosOf, type MergedConfig } from "./merge.js";
import { resolveImage } from "./image.js";
import { checkSizes, resolveLayout } from "./resolve-image.js";
import { resolveBackend, resolveNetwork } from "./resolve-network.js";
import { interfaceScope } from "./resolve-interfaces.js";
import { resolveNodeNetwork } from "./resolve-networks.js";
import { nodeScope, resolveNodeEntry, type NodeOrigin } from "./resolve-nodes.js";
import type { Category, DiskLayout, Image, Network, Node, NodeNetwork, StateBackendConfig } from "./types.js";

export type { NodeOrigin } from "./resolve-nodes.js";

export interface ResolveLimits {
  /** Nodes in the whole cluster after expansion. */
  maxNodes: number;
}

export interface Resolved {
  name: string;
  backend?: StateBackendConfig;
  /** The `backend:` section is there but unusable (an error was reported). */
  backendBroken?: boolean;
  network?: Network;
  /** Networks besides the provisioning one (`networks:`), the usable ones. */
  networks: Map<string, NodeNetwork>;
  images: Map<string, Image>;
  diskLayouts: Map<string, DiskLayout>;
  categories: Map<string, Category>;
  nodes: Node[];
  /** Parallel to `nodes` (before sorting). */
  origins: NodeOrigin[];
  /** Inline secrets by id: kept out of the model so that it can be serialized safely. */
  inlineSecrets: Map<string, string>;
}

export function resolveConfig(merged: MergedConfig, defaultName: string, limits: ResolveLimits, diags: Diagnostic[]): Resolved {
  const out = resolveDefinitions(merged, defaultName, diags);
  const domain = out.network?.domain;
  const interfaces = interfaceScope(out.networks, merged.broken.networks, diags);
  const scope = nodeScope(merged, out.images, { ...(domain ? { domain } : {}), maxNodes: limits.maxNodes, diags, inlineSecrets: out.inlineSecrets, interfaces });
  for (const ln of merged.nodes) {
    const entry = resolveNodeEntry(ln, scope);
    if (!entry) continue;
    // One at a time: a range may hold more nodes than a call takes arguments.
    for (const n of entry.nodes) out.nodes.push(n);
    for (const o of entry.origins) out.origins.push(o);
  }
  return out;
}

/** Everything but the nodes: backend, network, images, disk layouts, categories. */
function resolveDefinitions(merged: MergedConfig, defaultName: string, diags: Diagnostic[]): Resolved {
  const out: Resolved = {
    name: merged.cluster?.value.name ?? defaultName,
    networks: new Map(),
    images: new Map(),
    diskLayouts: new Map(),
    categories: new Map(),
    nodes: [],
    origins: [],
    inlineSecrets: new Map(),
  };
  if (merged.backend) {
    const b = resolveBackend(merged.backend, diags);
    if (b) out.backend = b;
    else out.backendBroken = true;
  }
  if (merged.network) {
    const n = resolveNetwork(merged.network, diags);
    if (n) out.network = n;
  }
  for (const [name, l] of merged.networks) {
    const n = resolveNodeNetwork(name, l, diags);
    if (n) out.networks.set(name, n);
    // An unusable network is not reported again by each interface that names it.
    else merged.broken.networks.add(name);
  }
  for (const [name, l] of merged.images) out.images.set(name, resolveImage(name, l, diags));
  for (const [name, l] of merged.diskLayouts) {
    if (checkSizes(name, l, diags)) out.diskLayouts.set(name, resolveLayout(name, l));
  }
  for (const [name, l] of merged.categories) out.categories.set(name, { name, pos: keyPosOf(l.where) });
  return out;
}
