import { SlipwayError } from '../../errors.js';
import type { BuildpackDescriptor, GroupEntry, Order } from './buildpack-descriptor.js';

/** A component buildpack in an expanded group. */
export interface GroupMember {
  buildpack: BuildpackDescriptor;
  optional: boolean;
}

/** Finds a buildpack by id and (optional) version. */
export type BuildpackLookup = (entry: GroupEntry) => BuildpackDescriptor;

/**
 * Expands an order into groups of component buildpacks (buildpack.md "Order
 * Resolution"): a composite entry is replaced by each group of its own order, depth
 * first, left to right (two composites in a group give their cartesian product); an
 * optional composite makes its members optional. A buildpack id already in the group
 * is skipped, as the lifecycle's detector skips an id it has taken (`-b A -b B -b B`, or
 * a composite and one of its members): a buildpack runs once per build.
 */
export function expandOrder(order: Order, lookup: BuildpackLookup, depth = 0): GroupMember[][] {
  if (depth > 16) throw new SlipwayError('INVALID_DOCUMENT', 'composite buildpacks nest more than 16 deep (a cycle?)');
  const groups: GroupMember[][] = [];
  for (const group of order) {
    let partial: GroupMember[][] = [[]];
    for (const entry of group) {
      const bp = lookup(entry);
      const options: GroupMember[][] = bp.order
        ? expandOrder(bp.order, lookup, depth + 1).map((g) =>
            g.map((m) => ({ ...m, optional: m.optional || (entry.optional ?? false) })),
          )
        : [[{ buildpack: bp, optional: entry.optional ?? false }]];
      partial = partial.flatMap((prefix) => options.map((o) => [...prefix, ...o]));
    }
    groups.push(...partial.map(firstOfEachId));
  }
  return groups;
}

function firstOfEachId(group: GroupMember[]): GroupMember[] {
  const seen = new Set<string>();
  return group.filter((m) => !seen.has(m.buildpack.id) && seen.add(m.buildpack.id));
}
