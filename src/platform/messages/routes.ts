import { z } from 'zod';
import { MetadataPatchSchema, toOne } from './common.js';
import { csv, listMessage } from './list-query.js';

/**
 * CC's DomainsListMessage, RoutesListMessage, RouteCreateMessage and
 * RouteUpdateDestinationsMessage. An empty filter (`hosts=`) means "equals the empty
 * string", as the cf CLI's map-route sends it.
 */

export const DomainListMessage = listMessage({
  params: { guids: csv('Domain guids'), names: csv('Domain names') },
  orderBy: ['created_at', 'updated_at', 'name'],
});

export const RouteListMessage = listMessage({
  params: {
    guids: csv('Route guids'),
    app_guids: csv('Guids of apps the routes have destinations to'),
    space_guids: csv('Guids of their spaces'),
    organization_guids: csv('Guids of their organizations'),
    domain_guids: csv('Guids of their domains'),
    hosts: csv('Hosts (empty: the route on the domain itself)'),
    paths: csv('Paths (empty: no path)'),
  },
  orderBy: ['created_at', 'updated_at'],
});

/** CC's RouteCreateMessage host and path rules. */
const HOST = /^([\w-]+|\*)$/;

export const RouteCreateMessage = z
  .strictObject({
    host: z
      .string({ error: 'must be a string' })
      .max(63, { error: 'is too long (maximum is 63 characters)' })
      .regex(HOST, { error: 'must be either "*" or contain only alphanumeric characters, "_", or "-"' })
      .or(z.literal(''))
      .optional(),
    path: z
      .string({ error: 'must be a string' })
      .max(128, { error: 'is too long (maximum is 128 characters)' })
      .refine((p) => p === '' || p.startsWith('/'), { error: "must begin with '/'" })
      .refine((p) => p !== '/', { error: "cannot be exactly '/'" })
      .refine((p) => !p.includes('?'), { error: "cannot contain '?'" })
      .optional(),
    port: z.number().int().optional(),
    relationships: z.strictObject(
      { space: toOne(), domain: toOne() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    options: z.record(z.string(), z.string()).optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'RouteCreate' });
export type RouteCreateInput = z.output<typeof RouteCreateMessage>;

const destination = z.strictObject(
  {
    app: z.strictObject(
      {
        guid: z.string({ error: 'must be a string' }),
        process: z.strictObject({ type: z.string({ error: 'must be a string' }).min(1) }).optional(),
      },
      { error: 'must be an object' },
    ),
    port: z.number().int().min(1024).max(65535).nullable().optional(),
    protocol: z.enum(['http1', 'http2'], { error: "must be 'http1' or 'http2'" }).nullable().optional(),
    weight: z.number().nullable().optional(),
  },
  { error: 'must be an object' },
);

export const DestinationsInsertMessage = z
  .strictObject({
    destinations: z
      .array(destination, { error: 'must be an array' })
      .min(1, { error: 'must be an array containing between 1 and 100 destination objects.' })
      .max(100, { error: 'must be an array containing between 1 and 100 destination objects.' }),
  })
  .meta({ title: 'RouteDestinations' });
export type DestinationsInput = z.output<typeof DestinationsInsertMessage>;
