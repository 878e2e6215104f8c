//! `hotline login` and `hotline agent`: log in for a bearer token, create an agent over gRPC.

use crate::client::{Conn, connect, connect_authed};
use clap::Args;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;

#[derive(Args, Debug)]
pub(crate) struct NewAgent {
    #[arg(long)]
    pub(crate) agent_id: String,
    #[arg(long, default_value = "")]
    pub(crate) name: String,
    /// junior | senior | text_entry | recording_extractor | surveyor | data_manager | qa | admin | system
    #[arg(long)]
    pub(crate) role: String,
    #[arg(long, env = "HOTLINE_NEW_PASSWORD", hide_env_values = true)]
    pub(crate) password: String,
}

#[derive(Args, Debug)]
pub(crate) struct LoginArgs {
    #[arg(long, env = "HOTLINE_SERVER", default_value = "http://127.0.0.1:50051")]
    server: String,
    #[arg(long)]
    agent_id: String,
    #[arg(long, env = "HOTLINE_PASSWORD", hide_env_values = true)]
    password: String,
}

/// Logs in and prints the bearer token.
pub(crate) async fn login(a: LoginArgs) -> anyhow::Result<()> {
    let mut c = AgentServiceClient::new(connect(&a.server).await?);
    let r = c
        .login(pb::LoginRequest {
            agent_id: a.agent_id,
            password: a.password,
        })
        .await?
        .into_inner();
    println!("{}", r.token);
    Ok(())
}

/// Creates an agent over gRPC (admin token).
pub(crate) async fn create(conn: Conn, new: NewAgent) -> anyhow::Result<()> {
    let mut c = AgentServiceClient::new(connect_authed(&conn).await?);
    let a = c
        .create_agent(pb::CreateAgentRequest {
            agent_id: new.agent_id,
            name: new.name,
            role: new.role,
            password: new.password,
        })
        .await?
        .into_inner();
    println!("已创建坐席 created agent {} ({})", a.agent_id, a.role_label);
    Ok(())
}
