// The parts of an afterhook config that its Kubernetes manifests must agree
// with: the listen, admin and upstream addresses, the drain timeout, the
// workers setting, the environment variables it reads, and the hook
// settings that hold secrets. Defaults are afterhook's (config/config.h).
// The afterhook binary's --check-config remains the judge of validity; this
// reads only what the manifest checks need.
"use strict";

const YAML = require("yaml");

const DEFAULTS = {
  listen: "0.0.0.0:8000",
  upstream: "127.0.0.1:8080",
  admin: "127.0.0.1:9901",
  drain: "20s",
};

// `${NAME}` or `${NAME:-default}`; `$${` is a literal and is skipped.
const ENV_REFERENCE = /(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g;

function envReferences(text) {
  const references = [];
  for (const match of text.matchAll(ENV_REFERENCE)) {
    if (match[1] === "$") {
      continue;
    }
    references.push({ name: match[2], fallback: match[3] === undefined ? null : match[4] });
  }
  return references;
}

// The text with each ${NAME:-default} replaced by its default; null when it
// uses a variable without a default (its value is known only at run time).
function withDefaults(text) {
  let known = true;
  const result = String(text).replace(ENV_REFERENCE, (whole, escape, name, hasDefault, fallback) => {
    if (escape === "$") {
      return whole.slice(1);
    }
    if (hasDefault === undefined) {
      known = false;
      return "";
    }
    return fallback;
  });
  return known ? result : null;
}

function parseAddress(text) {
  if (text === null) {
    return null;
  }
  const match = /^(?:http:\/\/)?(\[[^\]]+\]|[^:/]+):([0-9]{1,5})\/?$/.exec(text);
  if (!match) {
    return null;
  }
  return { host: match[1].replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function parseDurationSeconds(text) {
  const match = text === null ? null : /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text);
  if (!match) {
    return null;
  }
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
  return Number(match[1]) * unit;
}

function collectStrings(value, out) {
  if (typeof value === "string") {
    out.push(value);
  } else if (Array.isArray(value)) {
    value.forEach((item) => collectStrings(item, out));
  } else if (value !== null && typeof value === "object") {
    Object.values(value).forEach((item) => collectStrings(item, out));
  }
  return out;
}

function scalar(value, fallback) {
  return withDefaults(value === undefined || value === null ? fallback : String(value));
}

// Values that must never be written into a ConfigMap: webhook URLs (they
// carry tokens, as Slack's do) and signing secrets.
function secretSettings(hooks) {
  const settings = [];
  (Array.isArray(hooks) ? hooks : []).forEach((hook, index) => {
    const webhook = hook && hook.webhook;
    if (!webhook) {
      return;
    }
    const name = hook.name || `hooks[${index}]`;
    if (webhook.url !== undefined) {
      settings.push({ where: `${name}.webhook.url`, raw: String(webhook.url) });
    }
    const sign = webhook.sign;
    if (sign !== undefined) {
      const secret = typeof sign === "object" && sign !== null ? sign.secret : sign;
      settings.push({ where: `${name}.webhook.sign.secret`, raw: String(secret) });
    }
  });
  return settings;
}

function parseAfterhookConfig(text) {
  const config = YAML.parse(text, { uniqueKeys: true }) || {};
  const admin = config.admin || {};
  const timeouts = config.timeouts || {};
  const references = collectStrings(config, []).flatMap(envReferences);
  return {
    listen: parseAddress(scalar(config.listen, DEFAULTS.listen)),
    upstream: parseAddress(scalar(config.upstream, DEFAULTS.upstream)),
    admin: parseAddress(scalar(admin.listen, DEFAULTS.admin)),
    drainSeconds: parseDurationSeconds(scalar(timeouts.drain, DEFAULTS.drain)),
    workers: config.workers === undefined ? "auto" : String(config.workers),
    requiredEnv: [...new Set(references.filter((r) => r.fallback === null).map((r) => r.name))],
    env: [...new Set(references.map((r) => r.name))],
    secretSettings: secretSettings(config.hooks),
  };
}

module.exports = { parseAfterhookConfig, envReferences };
