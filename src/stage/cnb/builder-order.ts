import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { parseOrder, type Order } from '../../buildpack/cnb/buildpack-descriptor.js';
import { parseToml } from '../../buildpack/cnb/toml.js';

/** The order of a builder directory: `builder.toml` or `order.toml` with `[[order]]` groups (as pack's builder.toml and platform.md's order.toml). */
export async function readBuilderOrder(dir: string): Promise<Order> {
  for (const name of ['builder.toml', 'order.toml']) {
    const file = join(dir, name);
    if (existsSync(file)) return parseOrder(parseToml(readFileSync(file, 'utf8'), file)['order'], `${file} [[order]]`);
  }
  throw new SlipwayError('NOT_FOUND', `builder ${dir} has no builder.toml or order.toml`, { detail: { builder: dir } });
}
