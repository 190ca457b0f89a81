// node check.mjs DOC SAMPLES: DOC is the OpenAPI document; SAMPLES a JSON
// array of {method, path, status, type, body}, each answer the gateway
// gave.  Prints one JSON line: {"document": errors, "samples": [...]}.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";

const [docFile, samplesFile] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docFile, "utf8"));
const samples = JSON.parse(readFileSync(samplesFile, "utf8"));

const validator = new Validator();
const res = await validator.validate(structuredClone(doc));

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(doc, "openapi");

const pointer = (s) => s.replace(/~/g, "~0").replace(/\//g, "~1");

// the documented path an actual one matches: /executions/exec_1 is /executions/{id}
function route(path) {
  const bare = path.split("?")[0];
  for (const p of Object.keys(doc.paths)) {
    const re = new RegExp("^" + p.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    if (re.test(bare) && !(p.includes("{") && doc.paths[bare])) return p;
  }
  return null;
}

const out = samples.map((s) => {
  const p = route(s.path);
  if (!p) return { ...s, body: undefined, error: "no such path in the document" };
  const op = doc.paths[p][s.method.toLowerCase()];
  if (!op) return { ...s, body: undefined, error: `no ${s.method} for ${p}` };
  const resp = op.responses[String(s.status)];
  if (!resp) return { ...s, body: undefined, error: `status ${s.status} not documented for ${s.method} ${p}` };
  let r = resp;
  if (r.$ref) r = doc.components.responses[r.$ref.split("/").pop()];
  const type = (s.type || "").split(";")[0];
  if (!r.content) return { ...s, body: undefined, error: null };
  if (!r.content[type]) return { ...s, body: undefined, error: `content type ${type} not documented` };
  const ref = r === resp
    ? `openapi#/paths/${pointer(p)}/${s.method.toLowerCase()}/responses/${s.status}/content/${pointer(type)}/schema`
    : `openapi#/components/responses/${resp.$ref.split("/").pop()}/content/${pointer(type)}/schema`;
  const validate = ajv.compile({ $ref: ref });
  const ok = type === "application/json" ? validate(JSON.parse(s.body)) : true;
  return { method: s.method, path: s.path, status: s.status,
           error: ok ? null : ajv.errorsText(validate.errors) };
});

console.log(JSON.stringify({ document: res.valid ? null : res.errors, samples: out }));
