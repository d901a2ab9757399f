// Consistency checks between rendered Kubernetes objects and the afterhook
// config they carry: for every Deployment with an afterhook sidecar, that
// the sidecar, its ports, probes, config mount, environment, shutdown timing,
// security context and resources agree with each other and with the config.
// Each check yields { name, subject, ok, detail }; the names are fixed so
// that the C++ test can require every one of them.
"use strict";

const path = require("path");
const { parseAfterhookConfig } = require("./afterhook-config");

const SIDECAR_NAME = "afterhook";
const IMAGE_UID = 65532;  // the user of deploy/Dockerfile's runtime stage
const DEFAULT_GRACE_SECONDS = 30;
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", ""]);
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

const CHECK_NAMES = [
  "afterhook is a native sidecar",
  "selector matches the pod labels",
  "config is mounted as a directory",
  "listen port is the sidecar's container port",
  "upstream is on loopback",
  "Service targets afterhook",
  "probes use the admin port",
  "config environment is set",
  "secrets come from a Secret",
  "grace period covers preStop and drain",
  "containers are restricted",
  "afterhook has resources",
  "workers are explicit",
];

function quantityValue(text) {
  const match = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(text));
  if (!match) {
    return null;
  }
  const factor = { m: 0.001, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (match[2] ? factor[match[2]] : 1);
}

// The port number a Service's targetPort resolves to on this pod, as the
// EndpointSlice controller does it: a number is itself; a name is looked up
// in the app containers first, then in the sidecars (restartable init
// containers).
function resolveServicePort(targetPort, podSpec) {
  if (typeof targetPort === "number") {
    return targetPort;
  }
  const sidecars = (podSpec.initContainers || []).filter((c) => c.restartPolicy === "Always");
  for (const container of [...(podSpec.containers || []), ...sidecars]) {
    const port = (container.ports || []).find((p) => p.name === targetPort);
    if (port) {
      return port.containerPort;
    }
  }
  return null;
}

// A probe's port as the kubelet resolves it: a name refers to the probed
// container's own ports.
function resolveProbePort(port, container) {
  if (typeof port === "number") {
    return port;
  }
  const named = (container.ports || []).find((p) => p.name === port);
  return named ? named.containerPort : null;
}

function preStopSleepSeconds(container) {
  const preStop = container.lifecycle && container.lifecycle.preStop;
  if (!preStop) {
    return null;
  }
  if (preStop.sleep && Number.isInteger(preStop.sleep.seconds)) {
    return preStop.sleep.seconds;
  }
  const command = preStop.exec && preStop.exec.command;
  if (Array.isArray(command) && command.length === 2 && /(^|\/)sleep$/.test(command[0])) {
    return Number(command[1]);
  }
  return null;
}

class SidecarChecks {
  constructor(objects, deployment) {
    this.objects = objects;
    this.deployment = deployment;
    this.subject = `Deployment ${deployment.metadata.name}`;
    this.podSpec = deployment.spec.template.spec;
    this.labels = deployment.spec.template.metadata.labels || {};
    this.sidecar = (this.podSpec.initContainers || []).find((c) => c.name === SIDECAR_NAME);
    this.results = [];
    this.configFile = null;
    this.config = null;
  }

  record(name, ok, detail) {
    this.results.push({ name, subject: this.subject, ok: Boolean(ok), detail });
  }

  run() {
    this.checkNativeSidecar();
    this.checkSelector();
    if (!this.sidecar) {
      return this.results;
    }
    this.loadConfig();
    if (!this.config) {
      return this.results;
    }
    this.checkListen();
    this.checkUpstream();
    this.checkServices();
    this.checkProbes();
    this.checkEnvironment();
    this.checkSecrets();
    this.checkGracePeriod();
    this.checkSecurityContexts();
    this.checkResources();
    this.checkWorkers();
    return this.results;
  }

  checkNativeSidecar() {
    const inMain = (this.podSpec.containers || []).some((c) => c.name === SIDECAR_NAME);
    const ok = this.sidecar && this.sidecar.restartPolicy === "Always" && !inMain;
    this.record(CHECK_NAMES[0], ok,
                !this.sidecar ? `no initContainer named ${SIDECAR_NAME}`
                : inMain ? `${SIDECAR_NAME} is also an app container`
                : `initContainer ${SIDECAR_NAME} has restartPolicy ${this.sidecar.restartPolicy}`);
  }

  checkSelector() {
    const matchLabels = (this.deployment.spec.selector || {}).matchLabels || {};
    const missing = Object.entries(matchLabels).filter(([key, value]) => this.labels[key] !== value);
    const ok = Object.keys(matchLabels).length > 0 && missing.length === 0;
    this.record(CHECK_NAMES[1], ok, ok ? "selector.matchLabels are on the pod template"
                                       : `selector labels not on the pod template: ${JSON.stringify(missing)}`);
  }

  // Finds the config file that `--config` names in the mounted ConfigMap.
  loadConfig() {
    const args = this.sidecar.args || [];
    const flag = args.indexOf("--config");
    const configPath = flag >= 0 ? args[flag + 1] : null;
    const fail = (detail) => this.record(CHECK_NAMES[2], false, detail);
    if (!configPath) {
      return fail("the sidecar's args have no --config FILE");
    }
    const directory = path.posix.dirname(configPath);
    const file = path.posix.basename(configPath);
    const mount = (this.sidecar.volumeMounts || []).find((m) => m.mountPath === directory);
    if (!mount) {
      return fail(`no volume mounted at ${directory}, the directory of --config ${configPath}`);
    }
    if (mount.subPath || mount.subPathExpr) {
      return fail(`${directory} is a subPath mount: the kubelet never updates those, so reloads would not happen`);
    }
    const volume = (this.podSpec.volumes || []).find((v) => v.name === mount.name);
    if (!volume || !volume.configMap) {
      return fail(`volume ${mount.name} is not a ConfigMap volume`);
    }
    let key = file;
    if (volume.configMap.items) {
      const item = volume.configMap.items.find((i) => i.path === file);
      if (!item) {
        return fail(`ConfigMap volume ${mount.name} does not project ${file}`);
      }
      key = item.key;
    }
    const configMap = this.objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === volume.configMap.name);
    if (!configMap || !configMap.data || typeof configMap.data[key] !== "string") {
      return fail(`ConfigMap ${volume.configMap.name} with key ${key} is not among the rendered objects`);
    }
    this.configFile = { configMap: configMap.metadata.name, key, text: configMap.data[key] };
    try {
      this.config = parseAfterhookConfig(configMap.data[key]);
    } catch (error) {
      return fail(`ConfigMap ${configMap.metadata.name} key ${key} is not YAML: ${error.message}`);
    }
    this.record(CHECK_NAMES[2], mount.readOnly === true,
                `ConfigMap ${configMap.metadata.name} mounted read-only at ${directory} (readOnly: ${mount.readOnly})`);
  }

  checkListen() {
    const { listen } = this.config;
    const ports = (this.sidecar.ports || []).map((p) => p.containerPort);
    const ok = listen && WILDCARD_HOSTS.has(listen.host) && ports.includes(listen.port);
    this.record(CHECK_NAMES[3], ok, listen ? `listen ${listen.host}:${listen.port}; sidecar ports ${ports.join(",")}`
                                           : "the config's listen address is not fixed");
  }

  checkUpstream() {
    const { upstream } = this.config;
    this.record(CHECK_NAMES[4], upstream && LOOPBACK_HOSTS.has(upstream.host),
                upstream ? `upstream ${upstream.host}:${upstream.port}` : "the config's upstream is not fixed");
  }

  checkServices() {
    const services = this.objects.filter((o) => o.kind === "Service" && o.spec && o.spec.selector &&
        Object.entries(o.spec.selector).every(([key, value]) => this.labels[key] === value));
    if (services.length === 0) {
      this.record(CHECK_NAMES[5], false, "no Service selects this pod");
      return;
    }
    for (const service of services) {
      for (const port of service.spec.ports || []) {
        const target = port.targetPort === undefined ? port.port : port.targetPort;
        const resolved = resolveServicePort(target, this.podSpec);
        const listenPort = this.config.listen ? this.config.listen.port : null;
        this.record(CHECK_NAMES[5], resolved !== null && resolved === listenPort,
                    `Service ${service.metadata.name} port ${port.port} targetPort ${target} resolves to ${resolved}, ` +
                    `afterhook listens on ${listenPort}`);
      }
    }
  }

  checkProbes() {
    const { admin } = this.config;
    const expected = { startupProbe: "/readyz", readinessProbe: "/readyz", livenessProbe: "/livez" };
    for (const [probeName, probePath] of Object.entries(expected)) {
      const probe = this.sidecar[probeName];
      const httpGet = probe && probe.httpGet;
      const port = httpGet ? resolveProbePort(httpGet.port, this.sidecar) : null;
      const ok = httpGet && admin && WILDCARD_HOSTS.has(admin.host) && port === admin.port && httpGet.path === probePath;
      this.record(CHECK_NAMES[6], ok,
                  httpGet ? `${probeName} GET ${httpGet.path} on port ${port}; admin.listen ${admin && admin.host}:${admin && admin.port}; expected ${probePath}`
                          : `no httpGet ${probeName}`);
    }
  }

  envEntry(name) {
    return (this.sidecar.env || []).find((e) => e.name === name);
  }

  checkEnvironment() {
    const missing = this.config.requiredEnv.filter((name) => {
      const entry = this.envEntry(name);
      return !entry || (entry.value === undefined && entry.valueFrom === undefined);
    });
    this.record(CHECK_NAMES[7], missing.length === 0,
                missing.length === 0 ? `set: ${this.config.requiredEnv.join(", ") || "(none needed)"}`
                                     : `used by the config without a default but not in the sidecar's env: ${missing.join(", ")}`);
  }

  checkSecrets() {
    const settings = this.config.secretSettings;
    if (settings.length === 0) {
      this.record(CHECK_NAMES[8], true, "the config holds no webhook URL or signing secret");
      return;
    }
    for (const setting of settings) {
      const match = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(setting.raw.trim());
      const entry = match ? this.envEntry(match[1]) : null;
      const fromSecret = entry && entry.valueFrom && entry.valueFrom.secretKeyRef &&
                         entry.valueFrom.secretKeyRef.name && entry.valueFrom.secretKeyRef.key;
      this.record(CHECK_NAMES[8], Boolean(fromSecret),
                  !match ? `${setting.where} is written into the ConfigMap instead of \${VAR} from a Secret`
                  : fromSecret ? `${setting.where} = \${${match[1]}} from Secret ${entry.valueFrom.secretKeyRef.name}`
                  : `${setting.where} = \${${match[1]}}, which does not come from a secretKeyRef`);
    }
  }

  checkGracePeriod() {
    const grace = this.podSpec.terminationGracePeriodSeconds === undefined ? DEFAULT_GRACE_SECONDS
                                                                          : this.podSpec.terminationGracePeriodSeconds;
    const sleeps = (this.podSpec.containers || []).map((c) => ({ name: c.name, seconds: preStopSleepSeconds(c) }));
    const withoutSleep = sleeps.filter((s) => s.seconds === null).map((s) => s.name);
    const longest = Math.max(0, ...sleeps.map((s) => s.seconds || 0));
    const drain = this.config.drainSeconds;
    const ok = withoutSleep.length === 0 && drain !== null && grace > longest + drain;
    this.record(CHECK_NAMES[9], ok,
                withoutSleep.length > 0 ? `app containers without a preStop sleep: ${withoutSleep.join(", ")}`
                : `terminationGracePeriodSeconds ${grace} vs preStop sleep ${longest}s + drain ${drain}s`);
  }

  checkSecurityContexts() {
    const pod = this.podSpec.securityContext || {};
    const containers = [...(this.podSpec.initContainers || []), ...(this.podSpec.containers || [])];
    for (const container of containers) {
      const context = container.securityContext || {};
      const problems = [];
      const runAsNonRoot = context.runAsNonRoot !== undefined ? context.runAsNonRoot : pod.runAsNonRoot;
      const seccomp = (context.seccompProfile || pod.seccompProfile || {}).type;
      const user = context.runAsUser !== undefined ? context.runAsUser : pod.runAsUser;
      if (runAsNonRoot !== true) problems.push("runAsNonRoot is not true");
      if (user === 0) problems.push("runAsUser is 0");
      if (container.name === SIDECAR_NAME && user !== IMAGE_UID) problems.push(`runAsUser is not the image's ${IMAGE_UID}`);
      if (context.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem is not true");
      if (context.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation is not false");
      if (!((context.capabilities || {}).drop || []).includes("ALL")) problems.push("capabilities do not drop ALL");
      if ((context.capabilities || {}).add) problems.push("capabilities are added");
      if (context.privileged) problems.push("privileged");
      if (seccomp !== "RuntimeDefault") problems.push(`seccompProfile is ${seccomp}`);
      this.record(CHECK_NAMES[10], problems.length === 0,
                  `container ${container.name}: ${problems.length === 0 ? "restricted" : problems.join("; ")}`);
    }
  }

  checkResources() {
    const resources = this.sidecar.resources || {};
    const requests = resources.requests || {};
    const limits = resources.limits || {};
    const memoryRequest = quantityValue(requests.memory);
    const memoryLimit = quantityValue(limits.memory);
    const ok = quantityValue(requests.cpu) > 0 && memoryRequest > 0 && memoryLimit >= memoryRequest;
    this.record(CHECK_NAMES[11], ok,
                `requests cpu ${requests.cpu} memory ${requests.memory}; limits memory ${limits.memory}`);
  }

  checkWorkers() {
    const { workers } = this.config;
    this.record(CHECK_NAMES[12], /^[0-9]+$/.test(workers),
                `workers: ${workers} (auto would count the node's CPUs, not the pod's share)`);
  }
}

// Runs every check on every Deployment; a render without a Deployment that
// carries the sidecar fails the first check.
function checkSidecars(objects) {
  const deployments = objects.filter((o) => o.kind === "Deployment");
  const results = [];
  const configs = [];
  for (const deployment of deployments) {
    const checks = new SidecarChecks(objects, deployment);
    results.push(...checks.run());
    if (checks.configFile) {
      configs.push({ subject: checks.subject, ...checks.configFile,
                     requiredEnv: checks.config ? checks.config.requiredEnv : [] });
    }
  }
  if (deployments.length === 0) {
    results.push({ name: CHECK_NAMES[0], subject: "(render)", ok: false, detail: "no Deployment rendered" });
  }
  return { results, configs };
}

module.exports = { checkSidecars, CHECK_NAMES };
