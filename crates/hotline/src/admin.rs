//! `hotline admin`: create an agent directly in the store (bootstrap the first admin), and
//! other administration run beside the database: restamp branches, import the customer
//! directory.

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
    /// `None` only with a subcommand: clap skips the required flags then
    /// (`subcommand_negates_reqs`), and a plain `NewAgent` would fail to extract them.
    #[command(flatten)]
    new: Option<NewAgent>,
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
    /// Import the customer directory (JO8) from a CSV (UTF-8, with or without BOM, or GBK) or
    /// XLSX file: idempotent by customer code; refused rows are listed with their line and
    /// reason. Columns: 客户编码, 客户名称, 电话号码 (required), 类别, 分公司, 联系人, 备注.
    ImportCustomers {
        /// The directory file.
        file: std::path::PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub(crate) async fn admin(a: AdminArgs) -> anyhow::Result<()> {
    match &a.cmd {
        Some(AdminCmd::RestampBranches { store }) => return crate::report::restamp(store).await,
        Some(AdminCmd::ImportCustomers { file, store }) => {
            return import_customers(file, store).await;
        }
        None => {}
    }
    let Some(new) = &a.new else {
        anyhow::bail!("give --agent-id, --role and --password, or a subcommand (see --help)");
    };
    let file = config::load(a.store.config.as_deref())?;
    let url = config::database_url(&a.store, &file)?;
    let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url)).await?;
    let auth = Auth::new(store.clone(), Arc::new(SystemClock));
    let name = if new.name.is_empty() {
        new.agent_id.clone()
    } else {
        new.name.clone()
    };
    let res = auth
        .create_agent(None, &new.agent_id, &name, &new.role, &new.password)
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

/// `hotline admin import-customers FILE`: through the desk's import (the same as the gRPC
/// path will use), as the `admin-cli` actor in the audit rows.
async fn import_customers(path: &std::path::Path, args: &StoreArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let file = config::load(args.config.as_deref())?;
    let url = config::database_url(args, &file)?;
    let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url)).await?;
    let desk = hotline_core::desk::Desk::new(
        store.clone(),
        file.rules.clone().unwrap_or_default(),
        Arc::new(SystemClock),
    );
    let who = hotline_core::auth::Principal {
        agent_id: "admin-cli".into(),
        role: hotline_domain::Role::Admin,
    };
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let res = desk.import_customers(&who, &name, &bytes).await;
    store.close().await;
    let r = res?;
    println!(
        "客户目录导入 {name} ({}): 新建 created {}, 更新 updated {}, 未变 unchanged {}, 拒绝 refused {}",
        r.encoding,
        r.created,
        r.updated,
        r.unchanged,
        r.refused.len()
    );
    for row in &r.refused {
        println!(
            "  第 {} 行 line {} [{}]: {}",
            row.line, row.line, row.code, row.reason
        );
    }
    Ok(())
}
