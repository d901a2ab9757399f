#!/usr/bin/env node
// Renders a kustomization of deploy/kubernetes offline, validates every
// object against the Kubernetes API schemas (the kubernetes-models
// packages), runs the sidecar consistency checks, and writes each afterhook
// config found in a mounted ConfigMap to OUT_DIR so that the caller can run
// `afterhook --check-config` on it.
//
//   node tests/deploy/check-manifests.js KUSTOMIZATION_DIR OUT_DIR
//
// Prints one JSON report on stdout:
//   { "objects": [{ "kind", "name", "schemaErrors": [..] }],
//     "checks":  [{ "name", "subject", "ok", "detail" }],
//     "configs": [{ "subject", "configMap", "key", "file", "requiredEnv": [..] }] }
// and exits 0; exits 2 with a message on stderr when the kustomization
// cannot be rendered or the node packages are missing.
"use strict";

const fs = require("fs");
const path = require("path");

function fatal(message) {
  process.stderr.write(`check-manifests: ${message}\n`);
  process.exit(2);
}

for (const pkg of ["yaml", "kubernetes-models"]) {
  try {
    require.resolve(pkg);
  } catch (error) {
    fatal(`the node package '${pkg}' is missing: run \`npm ci --prefix tests/deploy\` once`);
  }
}

const { render } = require("./kustomization");
const { checkSidecars } = require("./sidecar-checks");

// The kubernetes-models class for an apiVersion and kind, e.g. "apps/v1"
// Deployment -> kubernetes-models/apps/v1/Deployment; null when it has none.
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^[A-Za-z0-9]+$/.test(kind || "")) {
    return null;
  }
  try {
    const module = require(`kubernetes-models/${apiVersion}/${kind}`);
    return module[kind] || null;
  } catch (error) {
    return null;
  }
}

function schemaErrors(object) {
  const Model = modelFor(object.apiVersion, object.kind);
  if (!Model) {
    return [`no Kubernetes API schema for apiVersion ${object.apiVersion} kind ${object.kind}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    if (Array.isArray(error.errors)) {
      return error.errors.map((e) => `${e.instancePath || "/"} ${e.message}`);
    }
    return [String(error.message || error)];
  }
}

function main() {
  const [dir, outDir] = process.argv.slice(2);
  if (!dir || !outDir) {
    fatal("usage: check-manifests.js KUSTOMIZATION_DIR OUT_DIR");
  }
  let objects;
  try {
    objects = render(dir);
  } catch (error) {
    fatal(`cannot render ${dir}: ${error.message}`);
  }
  const report = { objects: [], checks: [], configs: [] };
  for (const object of objects) {
    const name = object.metadata ? object.metadata.name : undefined;
    report.objects.push({ kind: object.kind, name, schemaErrors: schemaErrors(object) });
  }
  const { results, configs } = checkSidecars(objects);
  report.checks = results;
  fs.mkdirSync(outDir, { recursive: true });
  configs.forEach((config, index) => {
    const file = path.join(outDir, `${index}-${config.configMap}-${config.key}`);
    fs.writeFileSync(file, config.text);
    report.configs.push({ subject: config.subject, configMap: config.configMap, key: config.key, file,
                          requiredEnv: config.requiredEnv });
  });
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
}

main();
