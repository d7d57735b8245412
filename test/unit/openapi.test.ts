import type { Router } from 'express';
import Ajv2020 from 'ajv/dist/2020';
import type { ApiDeps } from '../../src/api/app';
import { apiRouters } from '../../src/api/app';
import { openApiDocument, openApiPath } from '../../src/api/openapi';

/** The OpenAPI document covers exactly the routes Express serves, and its schemas compile. */

interface RouteLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
}

/** `METHOD /path` of every route of a router, nested routers mounted at their own root included. */
function routesOf(router: Router, mount: string): string[] {
  const out: string[] = [];
  for (const layer of router.stack as RouteLayer[]) {
    if (layer.route && typeof layer.route.path === 'string') {
      const full = `${mount === '/' ? '' : mount}${layer.route.path}`.replace(/(.)\/$/, '$1');
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') out.push(`${method.toUpperCase()} ${openApiPath(full)}`);
      }
    } else if (layer.handle?.stack) {
      out.push(...routesOf(layer.handle as unknown as Router, mount));
    }
  }
  return out;
}

// Building the routers calls none of their collaborators: only the handlers do.
const served = apiRouters({} as ApiDeps).flatMap(([mount, router]) => routesOf(router, mount));
const doc = openApiDocument();
const documented = Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
  ['get', 'post', 'put', 'patch', 'delete']
    .filter((m) => (item as Record<string, unknown>)[m] !== undefined)
    .map((m) => `${m.toUpperCase()} ${p}`),
);

test('every Express route of the API has its path and method in the document', () => {
  expect(served.length).toBeGreaterThan(60);
  expect(served.filter((r) => !documented.includes(r))).toEqual([]);
});

test('the document lists no route Express does not serve', () => {
  expect(documented.filter((r) => !served.includes(r))).toEqual([]);
});

test('it is OpenAPI 3.1 and every request and response schema compiles as JSON Schema 2020-12', () => {
  expect(doc.openapi).toBe('3.1.0');
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  let compiled = 0;
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { responses?: object; requestBody?: object }>)) {
      const bodies = [
        ...Object.values(
          (op.responses ?? {}) as Record<string, { content?: Record<string, { schema?: object }> }>,
        ),
        ...(op.requestBody ? [op.requestBody as { content?: Record<string, { schema?: object }> }] : []),
      ];
      for (const body of bodies) {
        for (const media of Object.values(body.content ?? {})) {
          if (!media.schema) continue;
          const schema = JSON.parse(
            JSON.stringify(media.schema).replaceAll('"#/components', '"doc#/components'),
          ) as object;
          expect(() => ajv.compile(schema)).not.toThrow();
          compiled++;
        }
      }
    }
  }
  expect(compiled).toBeGreaterThan(150);
});

test('every route outside the public ones documents 401 and 403 with the error shape', () => {
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const op of Object.values(
      item as Record<string, { security?: unknown[]; responses: Record<string, unknown> }>,
    )) {
      if (op.security?.length === 0) continue;
      expect([p, Object.keys(op.responses)]).toEqual([p, expect.arrayContaining(['401', '403'])]);
      expect(op.responses['401']).toMatchObject({
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      });
    }
  }
});
