import { z } from 'zod';
import { API_VERSION } from './presenters/platform.js';
import type { RouteDef } from './route.js';

/**
 * The OpenAPI 3.1 document of the v3 API, written from the route table: each route's
 * query and body schemas are the zod messages that validate requests (as their input
 * JSON Schema), its answers the presenters' schemas. Nothing here is by hand but the
 * envelope.
 */

export const ErrorListSchema = z
  .object({
    errors: z.array(z.object({ code: z.number().int(), title: z.string(), detail: z.string() })),
  })
  .meta({ id: 'ErrorList', description: 'Cloud Foundry errors: code, CF-<Name> title, detail' });

type Json = Record<string, unknown>;

/** A zod schema as JSON Schema, its named parts moved to components (refs rewritten). */
function toSchema(schema: z.ZodType, io: 'input' | 'output', components: Json): Json {
  const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  const { $schema: _, $defs, ...rest } = js;
  const rewrite = (x: unknown): Json => JSON.parse(JSON.stringify(x).replaceAll('"#/$defs/', '"#/components/schemas/'));
  for (const [name, def] of Object.entries(($defs ?? {}) as Json)) components[name] = rewrite(def);
  const id = (rest as { id?: unknown }).id;
  if (typeof id === 'string') {
    const { id: _id, ...body } = rest;
    components[id] = rewrite(body);
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewrite(rest);
}

function content(schema: Json): Json {
  return { 'application/json': { schema } };
}

function operation(route: RouteDef, components: Json): Json {
  const parameters: Json[] = [];
  for (const name of route.path.matchAll(/\{(\w+)\}/g)) {
    parameters.push({ name: name[1], in: 'path', required: true, schema: { type: 'string' } });
  }
  for (const [name, schema] of Object.entries(route.query?.shape ?? {})) {
    const js = toSchema(schema as z.ZodType, 'input', components);
    const { description, ...rest } = js;
    parameters.push({ name, in: 'query', required: false, ...(description ? { description } : {}), schema: rest });
  }
  const responses: Json = {};
  for (const [status, r] of Object.entries(route.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema ? { content: content(toSchema(r.schema, 'output', components)) } : {}),
    };
  }
  responses['4XX'] = {
    description: 'A Cloud Foundry error',
    content: content({ $ref: '#/components/schemas/ErrorList' }),
  };
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.public ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: content(toSchema(route.body, 'input', components)) } }
      : {}),
    responses,
  };
}

/** The document's paths and components for `routes` (the servers are added per request: the base URL varies). */
export function openApiDocument(routes: readonly RouteDef[]): Json {
  const components: Json = {};
  toSchema(ErrorListSchema, 'output', components);
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const entry = paths[route.path] ?? {};
    entry[route.method] = operation(route, components);
    paths[route.path] = entry;
  }
  paths['/v3/openapi.json'] = {
    get: {
      operationId: 'getOpenApi',
      summary: 'This document',
      tags: ['Root'],
      security: [],
      responses: { 200: { description: 'The OpenAPI 3.1 document', content: content({ type: 'object' }) } },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Slipway platform API (Cloud Foundry v3)',
      version: API_VERSION,
      description:
        "Cloud Foundry's v3 API for organizations, spaces, roles, users, apps, stacks, buildpacks, audit events and jobs.",
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
  };
}
