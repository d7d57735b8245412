import { openApiDocument } from '../../src/api/openapi';

/** The links the stateful phase of `make fuzz` follows: each names a real operation and fills its path. */

interface Op {
  operationId: string;
  parameters?: { in: string; name: string }[];
  responses: Record<
    string,
    { links?: Record<string, { operationId: string; parameters: Record<string, string> }> }
  >;
}

const doc = openApiDocument();
const ops = Object.values(doc.paths ?? {}).flatMap((item) => Object.values(item as Record<string, Op>));
const byId = new Map(ops.map((op) => [op.operationId, op]));

test('every link names an operation of the document and gives each path parameter it takes', () => {
  let links = 0;
  for (const op of ops) {
    for (const response of Object.values(op.responses)) {
      for (const link of Object.values(response.links ?? {})) {
        const target = byId.get(link.operationId);
        expect([op.operationId, link.operationId, target !== undefined]).toEqual([
          op.operationId,
          link.operationId,
          true,
        ]);
        const pathParams = (target!.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(Object.keys(link.parameters).sort()).toEqual(pathParams.sort());
        for (const value of Object.values(link.parameters)) expect(value).toMatch(/^\$response\.body#\//);
        links++;
      }
    }
  }
  expect(links).toBeGreaterThan(30);
});

test('a created flow links to reading it and to its first step', () => {
  const created = byId.get('postApiFlows')!.responses['201']!.links!;
  expect(created.getApiFlowsId).toEqual({
    operationId: 'getApiFlowsId',
    parameters: { id: '$response.body#/id' },
  });
  expect(created.postApiFlowsIdStepsStepIdPreview!.parameters).toEqual({
    id: '$response.body#/id',
    stepId: '$response.body#/steps/0/id',
  });
});
