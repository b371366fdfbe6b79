// A real OAuth 2.0 authorization server (oidc-provider) for tessera's integration tests.
//
// Listens on 127.0.0.1:0 and prints one JSON line {"issuer","port"} on stdout.
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (required); ACCESS_TTL seconds
// (default 10). Interactions auto-log-in the account "test-user" and consent to what was
// asked, unless POST /test/deny-next was called (then the next one answers access_denied).
// Test-only endpoints: POST /test/deny-next, POST /test/revoke-refresh-tokens,
// GET /test/counts. The process exits when its stdin closes (the test went away).
import http from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.CLIENT_ID;
const clientSecret = process.env.CLIENT_SECRET;
const redirectUri = process.env.REDIRECT_URI;
const accessTtl = Number(process.env.ACCESS_TTL || '10');
if (!clientId || !clientSecret || !redirectUri) {
  console.error('CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required');
  process.exit(2);
}

// A plain in-memory adapter we can inspect (counts) and tamper with (revoke all).
const stores = new Map();
const counters = { revocations: 0, refreshGrants: 0, codeGrants: 0 };
class MapAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }
  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(id, { payload: { ...payload }, expiresAt });
  }
  async find(id) {
    const entry = this.store.get(id);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.payload;
  }
  async findByUid(uid) {
    for (const [id, entry] of this.store) if (entry.payload.uid === uid) return this.find(id);
    return undefined;
  }
  async findByUserCode(code) {
    for (const [id, entry] of this.store) if (entry.payload.userCode === code) return this.find(id);
    return undefined;
  }
  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    this.store.delete(id);
  }
  async revokeByGrantId(grantId) {
    for (const model of stores.values()) {
      for (const [id, entry] of model) if (entry.payload.grantId === grantId) model.delete(id);
    }
  }
}

function alive(model) {
  const store = stores.get(model);
  if (!store) return 0;
  let n = 0;
  for (const entry of store.values()) if (entry.expiresAt > Date.now() && !entry.payload.consumed) n += 1;
  return n;
}

let denyNext = false;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'api:read'],
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: accessTtl,
      AuthorizationCode: 60,
      RefreshToken: 3600,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      IdToken: 3600,
    },
    cookies: { keys: ['tessera-test-cookie-key'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Consent is given by the interaction below; this keeps the grant it created.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
  });
  provider.proxy = false;
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params?.grant_type;
    if (type === 'refresh_token') counters.refreshGrants += 1;
    if (type === 'authorization_code') counters.codeGrants += 1;
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    try {
      if (req.url === '/test/deny-next' && req.method === 'POST') {
        denyNext = true;
        return json(res, 200, { ok: true });
      }
      if (req.url === '/test/revoke-refresh-tokens' && req.method === 'POST') {
        const store = stores.get('RefreshToken');
        const n = store ? store.size : 0;
        if (store) store.clear();
        return json(res, 200, { revoked: n });
      }
      if (req.url === '/test/counts') {
        return json(res, 200, {
          refresh_tokens: alive('RefreshToken'),
          access_tokens: alive('AccessToken'),
          ...counters,
        });
      }
      if (req.url.startsWith('/token/revocation')) {
        res.on('finish', () => { if (res.statusCode === 200) counters.revocations += 1; });
      }
      if (req.url.startsWith('/interaction/')) {
        return await interact(provider, req, res);
      }
      return callback(req, res);
    } catch (err) {
      console.error(err);
      json(res, 500, { error: String(err) });
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

async function interact(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (denyNext) {
    denyNext = false;
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the test user declined',
    }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: 'test-user' } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
