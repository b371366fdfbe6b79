// A webhook receiver for tessera's tests: verifies every delivery with the reference
// Standard Webhooks library (npm `standardwebhooks`) and records what it saw.
//
// Prints {"port": N} once listening on 127.0.0.1 (random port). Control routes:
//   POST /_control/configure {"path", "secrets": [...], "script": [{"status", "retry_after"?, "hang"?}], "default_status"?}
//   GET  /_control/log?path=/x   -> [{"path","webhook_id","timestamp","signature","body","verified":[bool per secret],"error","at_ms","status"}]
// Any other POST is a delivery: recorded, verified against each configured secret, answered
// with the next scripted response (or default_status, 200 unless set).
"use strict";

const http = require("http");
const { Webhook } = require("standardwebhooks");

const endpoints = new Map();

function endpoint(path) {
  if (!endpoints.has(path)) {
    endpoints.set(path, { secrets: [], script: [], defaultStatus: 200, log: [] });
  }
  return endpoints.get(path);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://receiver");
  const body = await readBody(req);
  if (url.pathname === "/_control/configure") {
    const conf = JSON.parse(body);
    const ep = endpoint(conf.path);
    if (conf.secrets) ep.secrets = conf.secrets;
    if (conf.script) ep.script = conf.script;
    if (conf.default_status) ep.defaultStatus = conf.default_status;
    res.writeHead(204).end();
    return;
  }
  if (url.pathname === "/_control/log") {
    const ep = endpoint(url.searchParams.get("path"));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(ep.log));
    return;
  }
  const ep = endpoint(url.pathname);
  const headers = {
    "webhook-id": req.headers["webhook-id"],
    "webhook-timestamp": req.headers["webhook-timestamp"],
    "webhook-signature": req.headers["webhook-signature"],
  };
  const errors = [];
  const verified = ep.secrets.map((secret) => {
    try {
      new Webhook(secret).verify(body, headers);
      return true;
    } catch (e) {
      errors.push(String(e.message || e));
      return false;
    }
  });
  const step = ep.script.length > 0 ? ep.script.shift() : { status: ep.defaultStatus };
  ep.log.push({
    path: url.pathname,
    method: req.method,
    content_type: req.headers["content-type"] || null,
    webhook_id: headers["webhook-id"] || null,
    timestamp: headers["webhook-timestamp"] || null,
    signature: headers["webhook-signature"] || null,
    body,
    verified,
    error: errors.join("; ") || null,
    at_ms: Date.now(),
    status: step.hang ? null : step.status,
  });
  if (step.hang) {
    return; // never answer: the sender is left waiting (a crash or timeout test)
  }
  const out = { "content-type": "text/plain" };
  if (step.retry_after) out["retry-after"] = String(step.retry_after);
  res.writeHead(step.status, out).end(step.body || "ok from receiver");
});

server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
