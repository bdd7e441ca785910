// Validates every object in rendered Helm output (multi-document YAML) against Kubernetes schemas.
//
//   node validate.mjs rendered.yaml [more.yaml ...]     (or "-" for stdin)
//
// 1. Schema check: each object is loaded into its `kubernetes-models` class (built-in kinds),
//    `@kubernetes-models/istio` (security.istio.io) or `@kubernetes-models/prometheus-operator`
//    (monitoring.coreos.com) and `.validate()`d: types, enums, required fields, formats.
// 2. Unknown-field check for built-in kinds: the generated validators accept unknown fields (the
//    OpenAPI schemas have no additionalProperties: false), which would hide template typos such as
//    `matchLabelKey:`. We read the field lists from the package's .d.ts interfaces and walk the object,
//    like `kubectl --validate=strict` would. CRD kinds use inline types there and get only check 1.
// Exit status: 0 when every object passes, 1 otherwise.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function modulePathFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group.endsWith(".istio.io")) return `@kubernetes-models/istio/${group}/${version}/${kind}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

// ---- .d.ts field index (alias name -> {field -> type string}) for built-in kinds ----
function packageDir(name) {
  return path.join(here, "node_modules", ...name.split("/"));
}
function* walkDts(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "_schemas" && entry.name !== "node_modules") yield* walkDts(p);
    } else if (entry.name.endsWith(".d.ts")) yield p;
  }
}
function buildIndex() {
  const index = new Map();
  for (const pkg of ["kubernetes-models", "@kubernetes-models/apimachinery"]) {
    for (const file of walkDts(packageDir(pkg))) {
      const text = fs.readFileSync(file, "utf8");
      const alias = /export type \{ (\w+) as (\w+),/.exec(text);
      if (!alias) continue;
      const start = text.indexOf(`export interface ${alias[1]}`);
      if (start < 0) continue;
      const header = text.slice(start, text.indexOf("{", start));
      const end = text.indexOf("\n}", start);
      const fields = {};
      for (const m of text.slice(start, end).matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) fields[m[1]] = m[2];
      if (/extends TypeMeta/.test(header)) fields.apiVersion = fields.kind = "string";
      index.set(alias[2], fields);
    }
  }
  return index;
}

function unknownFields(value, type, where, index, out) {
  if (value === null || value === undefined) return;
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, arr[1], `${where}[${i}]`, index, out));
    return;
  }
  const fields = index.get(type);
  if (!fields || typeof value !== "object" || Array.isArray(value)) return; // primitives, maps, unions
  for (const [k, v] of Object.entries(value)) {
    if (!(k in fields)) out.push(`${where}.${k}: unknown field (not in ${type})`);
    else unknownFields(v, fields[k], `${where}.${k}`, index, out);
  }
}

// ---- main ----
const inputs = process.argv.slice(2);
if (inputs.length === 0) {
  console.error("usage: node validate.mjs FILE.yaml|- ...");
  process.exit(2);
}
let index = null;
let passed = 0;
let failed = 0;
for (const input of inputs) {
  const text = fs.readFileSync(input === "-" ? 0 : input, "utf8");
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) {
      console.log(`FAIL ${input}: YAML error: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    const label = `${obj.kind}/${obj.metadata?.name} (${obj.apiVersion})`;
    if (!obj.apiVersion || !obj.kind) {
      console.log(`FAIL ${input}: an object without apiVersion/kind`);
      failed++;
      continue;
    }
    const modPath = modulePathFor(obj.apiVersion, obj.kind);
    let Model;
    try {
      Model = (await import(modPath))[obj.kind];
    } catch {
      Model = undefined;
    }
    if (!Model) {
      console.log(`FAIL ${label}: no schema for this kind (looked for ${modPath})`);
      failed++;
      continue;
    }
    const problems = [];
    try {
      new Model(obj).validate();
    } catch (e) {
      problems.push(String(e.message ?? e));
    }
    if (modPath.startsWith("kubernetes-models/")) {
      index ??= buildIndex();
      const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["core", obj.apiVersion];
      const groupPart = group === "core" ? "Core" : group.replace(/\.k8s\.io$/, "").split(".").map((s) => s[0].toUpperCase() + s.slice(1)).join("");
      const alias = `IIoK8sApi${groupPart}${version[0].toUpperCase()}${version.slice(1)}${obj.kind}`;
      if (index.has(alias)) unknownFields(obj, alias, obj.kind, index, problems);
      else problems.push(`no field list for ${alias} (unknown-field check impossible)`);
    }
    if (problems.length) {
      console.log(`FAIL ${label}:\n  ${problems.join("\n  ")}`);
      failed++;
    } else {
      console.log(`ok   ${label}`);
      passed++;
    }
  }
}
console.log(`validate: ${passed} objects valid, ${failed} invalid`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
