//! Client plumbing for the gRPC commands: the connection flags (`Conn`), `connect`, the bearer
//! token on every request (`connect_authed`: the `hotline_proto::auth::BearerToken`
//! interceptor) and printing helpers shared by the commands.

use anyhow::{Context, bail};
use clap::Args;
use hotline_proto::auth::BearerToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[derive(Args, Debug)]
pub(crate) struct Conn {
    /// The core's gRPC address.
    #[arg(
        long,
        env = "HOTLINE_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub(crate) server: String,
    /// Bearer token from `hotline login`.
    #[arg(long, env = "HOTLINE_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
}

pub(crate) async fn connect(server: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(server.to_string())
        .context("--server")?
        .connect()
        .await
        .with_context(|| format!("cannot reach the core at {server}; is `hotline serve` running?"))
}

/// The bearer token from `--token` / `HOTLINE_TOKEN`, checked once.
pub(crate) fn bearer(conn: &Conn) -> anyhow::Result<BearerToken> {
    let Some(token) = &conn.token else {
        bail!("no token: run `hotline login` and export HOTLINE_TOKEN");
    };
    BearerToken::new(token).context("token")
}

/// A channel to the core that sends the bearer token with every request.
pub(crate) type AuthedChannel = InterceptedService<Channel, BearerToken>;

/// Connects to `--server`, then attaches the token ([`bearer`]) to every request.
pub(crate) async fn connect_authed(conn: &Conn) -> anyhow::Result<AuthedChannel> {
    let channel = connect(&conn.server).await?;
    Ok(InterceptedService::new(channel, bearer(conn)?))
}

/// A protobuf timestamp as China Standard Time (UTC+8), e.g. `2026-11-30 21:33`.
pub(crate) fn beijing_time(t: Option<&prost_types::Timestamp>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    match time::OffsetDateTime::from_unix_timestamp(t.seconds) {
        Ok(dt) => {
            let dt = dt.to_offset(offset);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute()
            )
        }
        Err(_) => t.seconds.to_string(),
    }
}

/// What `demo` and `agi-demo` print at the end: the newest ticket on `number`, read from the
/// core with `token`, or how to see it when no token was given.
pub(crate) async fn print_reported_ticket(
    server: &str,
    token: Option<&str>,
    number: &str,
) -> anyhow::Result<()> {
    use hotline_proto::v1 as pb;
    use hotline_proto::v1::ticket_service_client::TicketServiceClient;
    let Some(token) = token else {
        println!(
            "设置 HOTLINE_TOKEN（hotline login）即可显示工单 set HOTLINE_TOKEN to show the ticket:\n  hotline ticket list --number {number}"
        );
        return Ok(());
    };
    let ch = connect(server).await?;
    let req = tonic::Request::new(pb::ListTicketsRequest {
        page_size: 1,
        faulty_number: number.to_string(),
        ..Default::default()
    });
    let req = BearerToken::new(token)
        .context("HOTLINE_TOKEN is not valid header text")?
        .authorize(req);
    let list = TicketServiceClient::new(ch)
        .list_tickets(req)
        .await?
        .into_inner();
    let Some(t) = list.tickets.first() else {
        bail!("no ticket on {number} in the core");
    };
    println!(
        "新工单 new ticket {}: 号码 {}  {} ({})  渠道 {}  来电 {}  状态 {}",
        t.id,
        t.faulty_number,
        t.fault_type_label,
        t.fault_type,
        t.channel,
        t.contact_number,
        t.status_label
    );
    Ok(())
}

/// A time given on the command line: RFC 3339, or `YYYY-MM-DD HH:MM` in Beijing time.
pub(crate) fn parse_time(s: &str) -> anyhow::Result<prost_types::Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let dt = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(dt) => dt,
        Err(_) => {
            let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
            let p = time::PrimitiveDateTime::parse(s, &f).with_context(|| {
                format!("time {s:?}: use RFC 3339 or YYYY-MM-DD HH:MM (Beijing time)")
            })?;
            p.assume_offset(time::macros::offset!(+8))
        }
    };
    Ok(prost_types::Timestamp {
        seconds: dt.unix_timestamp(),
        nanos: 0,
    })
}
