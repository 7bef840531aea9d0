import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Router } from 'express';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import swaggerUi from 'swagger-ui-express';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../config';

export const OPENAPI_FILE = join(PROJECT_ROOT, 'openapi.yaml');

const COMPONENT_REF = '#/components/schemas/';
const SCHEMAS_ID = 'facegate-api';

export interface ApiDocument {
  text: string;
  document: { paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
  /** A validator for the named schema of `components.schemas`. */
  validator(name: string): ValidateFunction;
}

/** Rewrites OpenAPI's component references so that Ajv resolves them inside one schema resource. */
function toAjvRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toAjvRefs);
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF) ? `#/$defs/${value.slice(COMPONENT_REF.length)}` : toAjvRefs(value),
    ]),
  );
}

/** openapi.yaml, read once at start-up; its component schemas validate requests (and, in tests, its examples). */
export function loadApiDocument(path = OPENAPI_FILE): ApiDocument {
  const text = readFileSync(path, 'utf8');
  const document = parse(text) as ApiDocument['document'];
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addKeyword('example');
  ajv.addSchema({ $id: SCHEMAS_ID, $defs: toAjvRefs(document.components.schemas) });
  const compiled = new Map<string, ValidateFunction>();
  return {
    text,
    document,
    validator(name: string): ValidateFunction {
      let validate = compiled.get(name);
      if (!validate) {
        validate = ajv.compile({ $ref: `${SCHEMAS_ID}#/$defs/${name}` });
        compiled.set(name, validate);
      }
      return validate;
    },
  };
}

/** Validation errors as one sentence for a client, e.g. "/images must NOT have fewer than 1 items". */
export function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((e) => {
      const path = e.instancePath || '/';
      if (e.keyword === 'additionalProperties') return `${path} has unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
      return `${path} ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}

/** `/openapi.yaml` (the document itself) and `/docs` (Swagger UI, served from the installed package). */
export function documentationRoutes(api: ApiDocument): Router {
  const router = Router();
  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml').send(api.text);
  });
  router.use('/docs', swaggerUi.serve, swaggerUi.setup(api.document, { customSiteTitle: 'FaceGate API' }));
  return router;
}
