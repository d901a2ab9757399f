// Strategic merge patch, the subset kustomize applies to the Kubernetes
// objects in deploy/kubernetes: maps merge key by key, and each list is
// either merged item by item on its merge key (as the Kubernetes API types
// declare with patchMergeKey) or replaced whole. A list at a path this table
// does not know, and any `$patch`/`$setElementOrder` directive, is an error,
// so that the rendering never silently differs from kustomize's.
"use strict";

// Paths are keys joined by "." with "[]" for list items, from the object's
// root. A list with a merge key merges item by item; a list in `replaced`
// is replaced whole; any other list is refused.
const POD_SPEC_PREFIXES = ["spec.template.spec", "spec"];  // Deployment-like, Pod

const CONTAINER_LISTS = ["containers", "initContainers"];
const CONTAINER_MERGE_KEYS = {
  env: "name",
  ports: "containerPort",
  volumeMounts: "mountPath",
};
const CONTAINER_REPLACED = ["args", "command", "securityContext.capabilities.drop", "securityContext.capabilities.add",
                            "lifecycle.preStop.exec.command", "lifecycle.postStart.exec.command"];

function mergeKeyTable() {
  const keys = {};
  const replaced = new Set();
  keys["spec.ports"] = "port";  // Service
  for (const prefix of POD_SPEC_PREFIXES) {
    keys[`${prefix}.volumes`] = "name";
    keys[`${prefix}.imagePullSecrets`] = "name";
    for (const list of CONTAINER_LISTS) {
      keys[`${prefix}.${list}`] = "name";
      for (const [field, key] of Object.entries(CONTAINER_MERGE_KEYS)) {
        keys[`${prefix}.${list}[].${field}`] = key;
      }
      for (const field of CONTAINER_REPLACED) {
        replaced.add(`${prefix}.${list}[].${field}`);
      }
    }
  }
  return { keys, replaced };
}

const TABLE = mergeKeyTable();

function isMap(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function join(path, key) {
  return path === "" ? key : `${path}.${key}`;
}

// Returns `target` with `patch` merged in; neither argument is modified.
function strategicMerge(target, patch, path = "") {
  if (!isMap(patch)) {
    return structuredClone(patch);
  }
  const result = isMap(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) {
      throw new Error(`${join(path, key)}: patch directives are not supported by this renderer`);
    }
    const here = join(path, key);
    if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(result[key], value, here);
    } else if (isMap(value)) {
      result[key] = strategicMerge(result[key], value, here);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function mergeList(target, patch, path) {
  const mergeKey = TABLE.keys[path];
  if (mergeKey === undefined) {
    if (TABLE.replaced.has(path)) {
      return structuredClone(patch);
    }
    throw new Error(`${path}: a list this renderer has no merge strategy for`);
  }
  const result = Array.isArray(target) ? structuredClone(target) : [];
  for (const item of patch) {
    if (!isMap(item) || item[mergeKey] === undefined) {
      throw new Error(`${path}: every item of a patch list needs its merge key '${mergeKey}'`);
    }
    const index = result.findIndex((existing) => isMap(existing) && existing[mergeKey] === item[mergeKey]);
    if (index === -1) {
      result.push(strategicMerge({}, item, `${path}[]`));
    } else {
      result[index] = strategicMerge(result[index], item, `${path}[]`);
    }
  }
  return result;
}

module.exports = { strategicMerge };
