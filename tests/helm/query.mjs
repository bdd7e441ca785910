// Evaluates a JavaScript expression over rendered Helm output, for run.sh's assertions.
//
//   node query.mjs rendered.yaml 'kind("Deployment").spec.replicas'
//
// In scope: docs (every object), kind(K[, name]) (the one object of kind K, or of kind K named name;
// throws if not exactly one), kinds(K) (all of kind K), config() (the parsed config.json of the ConfigMap).
// Prints strings as they are and anything else as JSON; exits 1 if the expression throws.
import fs from "node:fs";
import { parseAllDocuments } from "yaml";

const [file, expr] = process.argv.slice(2);
const docs = parseAllDocuments(fs.readFileSync(file === "-" ? 0 : file, "utf8"))
  .map((d) => d.toJS())
  .filter((o) => o && typeof o === "object");
const kinds = (k) => docs.filter((o) => o.kind === k);
const kind = (k, name) => {
  const all = kinds(k).filter((o) => name === undefined || o.metadata?.name === name);
  if (all.length !== 1) throw new Error(`expected exactly one ${k}${name === undefined ? "" : ` named ${name}`}, found ${all.length}`);
  return all[0];
};
const config = () => JSON.parse(kind("ConfigMap").data["config.json"]);
try {
  const value = new Function("docs", "kind", "kinds", "config", `return (${expr});`)(docs, kind, kinds, config);
  console.log(typeof value === "string" ? value : JSON.stringify(value));
} catch (e) {
  console.error(`query failed: ${expr}: ${e.message}`);
  process.exit(1);
}
