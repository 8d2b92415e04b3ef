// The JavaScript side of the validator matrix: one process judges a batch of (schema, instance) pairs
// with every JavaScript validator setting a producer may use.
//
// stdin:  {"schemas": {name: schema}, "pairs": [{"schema": name, "data": any}]}
// stdout: {"validators": [name], "verdicts": [{validator name: bool}], "compile_errors": {key: str},
//          "thrown": [{"index": int, "validator": name, "error": str}]}
//
// Validators, each with its own instances so that schemas sharing an $id cannot clash:
//   ajv_formats_full  Ajv2020 + ajv-formats (full mode, its default): the Node producer's setup
//   ajv_formats_fast  Ajv2020 + ajv-formats {mode: "fast"}
//   ajv_no_formats    Ajv2020 with {validateFormats: false}: format is an annotation
//   hyperjump         @hyperjump/json-schema, draft 2020-12, format not asserted (its default)
//   hyperjump_formats @hyperjump/json-schema with its format validators, asserted
// A schema that does not compile gets null verdicts and its error in compile_errors. A validator that
// throws on an instance (hyperjump's uri check on "http://[v1.x]/") enqueues nothing: its verdict is
// false, and the throw is listed in thrown for the tests to judge.
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { registerSchema, setShouldValidateFormat, validate } from "@hyperjump/json-schema/draft-2020-12";
import "@hyperjump/json-schema/formats";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

const AJV = {
  ajv_formats_full: () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    return ajv;
  },
  ajv_formats_fast: () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv, { mode: "fast" });
    return ajv;
  },
  ajv_no_formats: () => new Ajv2020({ strict: false, validateFormats: false }),
};
const VALIDATORS = [...Object.keys(AJV), "hyperjump", "hyperjump_formats"];

const input = JSON.parse(await readStdin());
const compileErrors = {};
const describe = (error) => String(error && error.message ? error.message : error);

const compiled = {};
for (const [name, schema] of Object.entries(input.schemas)) {
  compiled[name] = {};
  for (const [validator, make] of Object.entries(AJV)) {
    try {
      compiled[name][validator] = make().compile(schema);
    } catch (error) {
      compileErrors[`${validator}:${name}`] = describe(error);
    }
  }
  // hyperjump needs an absolute URI per schema; the generated $id is relative.
  const uri = `https://actorschema.test/matrix/${encodeURIComponent(name)}`;
  try {
    registerSchema({ ...schema, $id: uri }, uri);
    compiled[name].uri = uri;
  } catch (error) {
    compileErrors[`hyperjump:${name}`] = describe(error);
  }
}

const verdicts = input.pairs.map(() => ({}));
const thrown = [];
for (const [index, pair] of input.pairs.entries()) {
  for (const validator of Object.keys(AJV)) {
    const check = compiled[pair.schema]?.[validator];
    verdicts[index][validator] = check === undefined ? null : check(pair.data);
  }
}
for (const [validator, asserted] of [
  ["hyperjump", false],
  ["hyperjump_formats", true],
]) {
  setShouldValidateFormat(asserted);
  const checks = {};
  for (const [index, pair] of input.pairs.entries()) {
    const uri = compiled[pair.schema]?.uri;
    if (uri === undefined) {
      verdicts[index][validator] = null;
      continue;
    }
    try {
      checks[uri] ??= await validate(uri);
    } catch (error) {
      compileErrors[`${validator}:${pair.schema}`] = describe(error);
      verdicts[index][validator] = null;
      continue;
    }
    try {
      verdicts[index][validator] = checks[uri](pair.data).valid;
    } catch (error) {
      thrown.push({ index, validator, error: describe(error) });
      verdicts[index][validator] = false;
    }
  }
}

process.stdout.write(JSON.stringify({ validators: VALIDATORS, verdicts, compile_errors: compileErrors, thrown }));
