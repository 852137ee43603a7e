// Checks Kubernetes manifests against the JSON schemas of the Kubernetes API that the
// kubernetes-models package ships (types, required fields, enums, formats). It does not flag
// unknown (misspelt) fields, and it is no substitute for a dry run against a real cluster
// (kubectl apply --dry-run=server -k deploy/k8s).
//
//   cd deploy/k8s/validate && npm install && node validate.mjs ../*.yaml
import fs from "node:fs";
import * as yaml from "js-yaml";

const modules = {
  "v1": await import("kubernetes-models/v1"),
  "apps/v1": await import("kubernetes-models/apps/v1"),
  "autoscaling/v2": await import("kubernetes-models/autoscaling/v2"),
  "policy/v1": await import("kubernetes-models/policy/v1"),
};

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    if (!doc) {
      continue;
    }
    const model = modules[doc.apiVersion]?.[doc.kind];
    if (!model) {
      console.log(`SKIP ${file}: ${doc.apiVersion} ${doc.kind} (no schema here)`);
      continue;
    }
    try {
      new model(doc).validate();
      passed++;
      console.log(`OK   ${file}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${file}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name}: ${e.message}`);
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
