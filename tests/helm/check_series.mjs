// Checks that PromQL expressions use only series and labels the bridge exports, for run.sh (PrometheusRule and
// Grafana dashboard).
//
//   node check_series.mjs exprs.txt bridge/service/metrics.cc bridge/service/grpc_server_metrics.cc
//
// The series are read from the sources: a member initialized with prometheus::BuildX().Name("series"), and the
// label names that member is Add()ed with (inline in the builder, or in `member_.Add({{"label", ...}, ...})`
// anywhere in the same file). A histogram's _bucket, _sum and _count (and le) count as its own. In the
// expressions, every portrait_bridge_* and grpc_server_* name must be such a series, and every label matcher in
// its braces one of its labels (namespace and job, added by Prometheus, are allowed). Prints "N selectors, all
// known series and labels", or the problems.
import fs from "node:fs";

const [exprsFile, ...sources] = process.argv.slice(2);
const labels = new Map(); // series -> Set of label names
const histograms = new Set();
for (const file of sources) {
  const cc = fs.readFileSync(file, "utf8");
  // member_(prometheus::BuildX().Name("series") ... up to the next member: series -> member and inline labels.
  const defs = [...cc.matchAll(/(\w+_)\(prometheus::Build(\w+)\(\)\s*\.Name\("(\w+)"\)/g)];
  defs.forEach((d, i) => {
    const end = i + 1 < defs.length ? defs[i + 1].index : cc.indexOf("{\n", d.index);
    const body = cc.slice(d.index, end);
    const own = new Set([...body.matchAll(/\{"(\w+)",/g)].map((m) => m[1]));
    for (const m of cc.matchAll(new RegExp(`\\b${d[1]}\\.Add\\(\\s*\\{([^;]*)\\)`, "g"))) {
      for (const l of m[1].matchAll(/\{"(\w+)",/g)) own.add(l[1]);
    }
    labels.set(d[3], own);
    if (d[2] === "Histogram") histograms.add(d[3]);
  });
  // A metric built without a member (e.g. build_info): prometheus::BuildX().Name("series") ... .Add({...}).
  for (const m of cc.matchAll(/prometheus::Build(\w+)\(\)\s*\.Name\("(\w+)"\)[^;]*?\.Add\(\s*\{([^;]*)\}\)/g)) {
    if (!labels.has(m[2])) labels.set(m[2], new Set([...m[3].matchAll(/\{"(\w+)",/g)].map((l) => l[1])));
  }
}

const problems = [];
let n = 0;
const exprs = fs.readFileSync(exprsFile, "utf8");
for (const m of exprs.matchAll(/\b((?:portrait_bridge|grpc_server)_\w+)(\{[^}]*\})?/g)) {
  n++;
  let series = m[1];
  const extra = new Set(["namespace", "job"]);
  const base = series.replace(/_(bucket|sum|count)$/, "");
  if (base !== series && histograms.has(base)) {
    if (series.endsWith("_bucket")) extra.add("le");
    series = base;
  }
  if (!labels.has(series)) {
    problems.push(`${m[1]}: not a series of the bridge`);
    continue;
  }
  for (const l of (m[2] ?? "").matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)) {
    if (!extra.has(l[1]) && !labels.get(series).has(l[1])) problems.push(`${m[1]}: no label ${l[1]}`);
  }
}
console.log(problems.length ? problems.join("; ") : `${n} selectors, all known series and labels`);
