// Renders a kustomization offline, for the subset deploy/kubernetes uses:
// `resources` (YAML files, or directories holding a kustomization),
// `configMapGenerator` with `files` and `options.disableNameSuffixHash: true`,
// and `patches` given by `path` that are strategic-merge patches (the target
// is the object of the patch's apiVersion, kind and name). Any other field or
// option is an error rather than something rendered differently from
// `kubectl kustomize`.
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");
const { strategicMerge } = require("./strategic-merge");

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const KNOWN_FIELDS = new Set(["apiVersion", "kind", "resources", "configMapGenerator", "patches"]);

function readYamlDocuments(file) {
  const text = fs.readFileSync(file, "utf8");
  const documents = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const objects = [];
  for (const document of documents) {
    if (document.errors.length > 0) {
      throw new Error(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
    }
    const value = document.toJS();
    if (value !== null && value !== undefined) {
      objects.push(value);
    }
  }
  return objects;
}

function kustomizationFile(dir) {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) {
      return file;
    }
  }
  throw new Error(`${dir}: no kustomization.yaml`);
}

function identity(object) {
  const name = object && object.metadata ? object.metadata.name : undefined;
  return `${object.apiVersion} ${object.kind} ${name}`;
}

function generateConfigMap(dir, generator) {
  const where = `${dir}: configMapGenerator ${generator.name}`;
  for (const key of Object.keys(generator)) {
    if (!["name", "files", "options"].includes(key)) {
      throw new Error(`${where}: '${key}' is not supported by this renderer`);
    }
  }
  const options = generator.options || {};
  if (options.disableNameSuffixHash !== true || Object.keys(options).length !== 1) {
    throw new Error(`${where}: only options.disableNameSuffixHash: true is supported (a hashed name would restart pods on every config change)`);
  }
  const data = {};
  for (const entry of generator.files || []) {
    const [key, file] = entry.includes("=") ? entry.split("=", 2) : [path.basename(entry), entry];
    data[key] = fs.readFileSync(path.join(dir, file), "utf8");
  }
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: generator.name }, data };
}

function applyPatch(dir, objects, patchEntry) {
  if (Object.keys(patchEntry).some((key) => key !== "path")) {
    throw new Error(`${dir}: only patches given by 'path' (strategic merge) are supported`);
  }
  const file = path.join(dir, patchEntry.path);
  for (const patch of readYamlDocuments(file)) {
    const index = objects.findIndex((object) => identity(object) === identity(patch));
    if (index === -1) {
      throw new Error(`${file}: no ${identity(patch)} to patch`);
    }
    objects[index] = strategicMerge(objects[index], patch);
  }
}

// Returns the rendered objects of the kustomization in `dir`, in the order
// their resources were listed.
function render(dir) {
  const file = kustomizationFile(dir);
  const [kustomization] = readYamlDocuments(file);
  for (const key of Object.keys(kustomization)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new Error(`${file}: '${key}' is not supported by this renderer`);
    }
  }
  const objects = [];
  for (const resource of kustomization.resources || []) {
    const where = path.join(dir, resource);
    const rendered = fs.statSync(where).isDirectory() ? render(where) : readYamlDocuments(where);
    objects.push(...rendered);
  }
  for (const generator of kustomization.configMapGenerator || []) {
    objects.push(generateConfigMap(dir, generator));
  }
  for (const patchEntry of kustomization.patches || []) {
    applyPatch(dir, objects, patchEntry);
  }
  const seen = new Set();
  for (const object of objects) {
    if (seen.has(identity(object))) {
      throw new Error(`${dir}: ${identity(object)} appears twice`);
    }
    seen.add(identity(object));
  }
  return objects;
}

module.exports = { render, readYamlDocuments };
