//! `tessera demo [--listen ADDR]`: prepares a demo data dir and serves it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::setup;

/// The demo keeps its own data dir (`<data dir>/demo`) so it never mixes with real data.
pub fn run(mut config: Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    config.data_dir = config.data_dir.join("demo");
    if let Some(listen) = listen {
        config.listen = listen;
    }
    super::prepare(&mut config)?;
    if config.demo_emit_interval.is_none() {
        config.demo_emit_interval = Some(Duration::from_secs(60));
    }
    if !setup::is_initialised(&config)? {
        setup::initialise(&config)?;
    }
    let (store, _vault) = setup::open(&config)?;
    let token = setup::create_platform_token(&store, "demo visitor")?;
    let admin_password = super::ensure_admin_user(&store)?;
    drop(store);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        config.listen = addr;
        let public = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        config.public_url = Some(public.clone());
        // One block on stdout: what to open and how to get in.
        let token = token.expose();
        let block = [
            "tessera demo is running".to_owned(),
            String::new(),
            format!("  admin UI    {public}/"),
            format!("  sign in     {} / {}", super::ADMIN_EMAIL, admin_password.expose()),
            format!("  API token   {token}   (a platform token, new on every start)"),
            format!("  sandbox     {public}/sandbox"),
            format!("  try         curl -H 'authorization: Bearer {token}' {public}/api/v1/status"),
            format!("  data        {}", config.data_dir.display()),
        ];
        println!("{}\n", block.join("\n"));
        eprintln!("tessera: listening on http://{addr} (public URL {public})");
        crate::run(config, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}
