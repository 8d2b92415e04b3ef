// An independent oracle for the Python tests: ajv (JSON Schema 2020-12) and the AsyncAPI 3.0.0 schema.
//
// stdin:  {"schemas": {name: schema}, "messages": [{"schema": name, "data": any}], "asyncapi": doc?,
//          "asyncapi_documents": [doc]?}
// stdout: {"schemas": {name: {"ok": bool, "error": str|null, "lenient_ok": bool, "lenient_error": str|null}},
//          "messages": [{"schema": name, "valid": bool|null, "compiled": "strict"|"lenient"|null,
//                        "errors": [ajv error]}],
//          "asyncapi": {"valid": bool, "errors": [ajv error]} | null,
//          "asyncapi_documents": [{"valid": bool, "errors": [ajv error]}]}
//
// Each schema is compiled by its own Ajv2020 instance ({strict: true, allErrors: true} plus
// ajv-formats), so that schemas sharing an $id (or none) cannot clash. "ok" is the strict-mode
// verdict. Strict mode only refuses schemas, it never changes what a schema accepts, so when the
// strict compile fails the schema is compiled again with {strict: false} ("lenient_ok") and
// messages are checked with that ("compiled": "lenient"). A message whose schema compiled in
// neither mode gets "valid": null. The AsyncAPI document is checked with a separate draft-07 Ajv
// ({strict: false}) against @asyncapi/specs schemasWithoutId["3.0.0"].
import { createRequire } from "node:module";
import Ajv2020 from "ajv/dist/2020.js";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function compileOne(schema, strict) {
  const ajv = new Ajv2020({ strict, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

const input = JSON.parse(await readStdin());
const result = { schemas: {}, messages: [], asyncapi: null, asyncapi_documents: [] };
const validators = {};

const describe = (error) => String(error && error.message ? error.message : error);

for (const [name, schema] of Object.entries(input.schemas ?? {})) {
  const entry = { ok: false, error: null, lenient_ok: false, lenient_error: null };
  result.schemas[name] = entry;
  for (const strict of [true, false]) {
    try {
      validators[name] = { validate: compileOne(schema, strict), compiled: strict ? "strict" : "lenient" };
    } catch (error) {
      entry[strict ? "error" : "lenient_error"] = describe(error);
      continue;
    }
    if (strict) entry.ok = true;
    entry.lenient_ok = true; // what compiles in strict mode compiles without it
    break;
  }
}

for (const message of input.messages ?? []) {
  const compiled = validators[message.schema];
  if (compiled === undefined) {
    result.messages.push({ schema: message.schema, valid: null, compiled: null, errors: [] });
    continue;
  }
  const valid = compiled.validate(message.data);
  const errors = valid ? [] : compiled.validate.errors;
  result.messages.push({ schema: message.schema, valid, compiled: compiled.compiled, errors });
}

const documents = input.asyncapi_documents ?? [];
const single = input.asyncapi !== undefined && input.asyncapi !== null;
if (single || documents.length > 0) {
  const specs = require("@asyncapi/specs");
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(specs.schemasWithoutId["3.0.0"]);
  const check = (doc) => {
    const valid = validate(doc);
    return { valid, errors: valid ? [] : validate.errors };
  };
  if (single) result.asyncapi = check(input.asyncapi);
  result.asyncapi_documents = documents.map(check);
}

process.stdout.write(JSON.stringify(result));
