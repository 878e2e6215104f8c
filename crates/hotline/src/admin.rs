//! `hotline admin`: create an agent directly in the store (bootstrap the first admin).

use crate::agent::NewAgent;
use crate::config::{self, StoreArgs};
use clap::Args;
use hotline_core::SystemClock;
use hotline_core::auth::Auth;
use std::sync::Arc;

#[derive(Args, Debug)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub(crate) struct AdminArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    new: NewAgent,
    #[command(subcommand)]
    cmd: Option<AdminCmd>,
}

#[derive(clap::Subcommand, Debug)]
enum AdminCmd {
    /// Stamp every ticket again with the branch the config's `[branches]` map gives its
    /// number (after the map changed; SF11).
    RestampBranches {
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn admin(a: AdminArgs) -> anyhow::Result<()> {
    if let Some(AdminCmd::RestampBranches { store }) = &a.cmd {
        return crate::report::restamp(store).await;
    }
    let file = config::load(a.store.config.as_deref())?;
    let url = config::database_url(&a.store, &file)?;
    let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url)).await?;
    let auth = Auth::new(store.clone(), Arc::new(SystemClock));
    let name = if a.new.name.is_empty() {
        a.new.agent_id.clone()
    } else {
        a.new.name.clone()
    };
    let res = auth
        .create_agent(None, &a.new.agent_id, &name, &a.new.role, &a.new.password)
        .await;
    store.close().await;
    let rec = res?;
    println!(
        "已创建坐席 created agent {} ({})",
        rec.agent_id,
        rec.role.label_zh()
    );
    Ok(())
}
