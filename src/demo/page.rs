//! `GET /sandbox`: the demo's landing page, self-contained (no outside assets).

use axum::response::Html;

pub async fn landing() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tessera demo — sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
code,pre{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow:auto}
section{border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}button{padding:.4rem .9rem}
input{padding:.3rem;width:26rem;max-width:100%}
</style></head><body>
<h1>tessera demo</h1>
<p>Everything here runs inside this one binary, offline. <b>Sandbox Inc.</b> is a pretend provider
served under <code>/sandbox</code>: an OAuth 2.0 authorization server (code + PKCE), an API, a
webhook emitter, and an inbox for tessera's outbound webhooks. The tenant <code>demo</code> has a
<code>sandbox</code> connection already; paste the platform token <code>tessera demo</code> printed.</p>

<section><h2>1. Connect with OAuth</h2>
<p><input id="token" placeholder="tsr_… (platform token printed at start)"></p>
<button onclick="connect()">Connect Sandbox</button> <span id="connect-result"></span>
<p>This asks tessera for an authorization URL (<code>POST /api/v1/tenants/demo/connections/sandbox/authorize</code>),
then opens the sandbox's consent page; approving sends you back through <code>/oauth/callback</code>.</p></section>

<section id="emitted"><h2>2. Receive a signed webhook</h2>
<form method="post" action="/sandbox/emit">
<input type="hidden" name="tenant" value="demo">
<input name="email" placeholder="buyer email (optional)">
<button>Send a purchase webhook</button></form>
<p>The sandbox signs <code>order.completed</code> with the connection's webhook secret
(<code>X-Sandbox-Signature: sha256=…</code>) and posts it to <code>/webhooks/sandbox/demo</code>.
tessera verifies it, stores it, and turns the buyer into a pending signup
(<code>GET /api/v1/tenants/demo/signups?status=pending</code>).</p></section>

<section><h2>3. Outbound deliveries</h2>
<p>Every event tessera emits for <code>demo</code> is delivered, Standard-Webhooks-signed, to
<code>/sandbox/inbox</code>, which checks the signature. Latest:</p>
<pre id="inbox">loading…</pre></section>

<p>API description: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> ·
status: <code>GET /api/v1/status</code> · admin UI: <a href="/">/</a></p>
<script>
async function connect(){
  const token=document.getElementById('token').value.trim();
  const out=document.getElementById('connect-result');
  const r=await fetch('/api/v1/tenants/demo/connections/sandbox/authorize',{method:'POST',
    headers:{'authorization':'Bearer '+token,'content-type':'application/json'},
    body:JSON.stringify({return_to:location.origin+'/sandbox'})});
  const body=await r.json().catch(()=>({}));
  if(r.ok&&body.authorization_url){location.href=body.authorization_url}else{out.textContent=r.status+' '+(body.detail||'')}
}
async function refresh(){
  const r=await fetch('/sandbox/inbox');const body=await r.json();
  const lines=body.items.slice(0,10).map(i=>`${i.received_at} ${i.event_type||'?'} signature ${i.signature_valid===null?'unchecked':(i.signature_valid?'valid':'INVALID')}`);
  const sent=body.emitted.slice(0,5).map(e=>`sent ${e.event.type} → ${e.status||e.error}`);
  document.getElementById('inbox').textContent=(lines.concat(sent).join('\n'))||'nothing yet';
}
refresh();setInterval(refresh,3000);
</script></body></html>"#;
