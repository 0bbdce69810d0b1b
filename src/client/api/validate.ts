import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { ApiProblem } from './problem.js';

/**
 * Request validation against the OpenAPI document's own schemas (components/schemas), so what the
 * document says is what the server takes.
 */
const ROOT = 'urn:umbra:api';
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
ajv.addSchema({ $id: ROOT, components: OPENAPI_DOCUMENT.components });

const compiled = new Map<string, ValidateFunction>();

export type SchemaName = keyof typeof OPENAPI_DOCUMENT.components.schemas;

/** Checks `value` against a named schema; a mismatch is a 400 naming the first problem. */
export function validate<T>(name: SchemaName, value: unknown): T {
  let check = compiled.get(name);
  if (check === undefined) {
    check = ajv.getSchema(`${ROOT}#/components/schemas/${name}`);
    if (check === undefined) throw new Error(`no schema ${name}`);
    compiled.set(name, check);
  }
  if (!check(value)) {
    const first = check.errors?.[0];
    const where = first?.instancePath === '' || first === undefined ? 'the body' : first.instancePath.slice(1).replace(/\//g, '.');
    throw new ApiProblem(400, 'invalid-request', `${where} ${first?.message ?? 'does not match the schema'}`);
  }
  return value as T;
}
