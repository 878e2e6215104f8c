//! `hotline intake ...`: text intake over gRPC (TE1-TE4, DM5): add a document, import an
//! mbox file or a directory of `.eml` files (once per message), the inbox with the time left
//! of the two hours, enter a document as a ticket, pass it to a senior, walk-in reports,
//! file an original, search the archive, fetch an original (verified by the core).

use crate::client::{Conn, beijing_time, connect_authed, parse_time};
use anyhow::{Context, bail};
use clap::Subcommand;
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_service_client::IntakeServiceClient;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[intake]` of the config file; unset keys keep the defaults (50 MiB, keep forever).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeFile {
    /// Largest upload accepted, bytes.
    pub max_upload_bytes: Option<u64>,
    /// Archived originals are removed this many days after filing; 0 keeps them forever.
    pub retention_days: Option<u32>,
}

/// The core's intake settings: the document store under `data_dir/documents`.
pub fn core_config(
    data_dir: &Path,
    file: Option<&IntakeFile>,
) -> hotline_core::desk::intake::IntakeConfig {
    let mut c = hotline_core::desk::intake::IntakeConfig::under(data_dir);
    if let Some(f) = file {
        if let Some(n) = f.max_upload_bytes {
            c.max_upload_bytes = n;
        }
        if let Some(d) = f.retention_days {
            c.retention_days = d;
        }
    }
    c
}

#[derive(Subcommand, Debug)]
pub(crate) enum IntakeCmd {
    /// Register a document (scan, PDF, .eml, text) for the clerks' inbox.
    Add {
        file: PathBuf,
        /// letter | fax | email | other_department
        #[arg(long)]
        channel: String,
        /// When it arrived: RFC 3339 or `YYYY-MM-DD HH:MM` (Beijing time); default now.
        #[arg(long)]
        received_at: Option<String>,
        #[arg(long, default_value = "")]
        sender: String,
        #[arg(long, default_value = "")]
        subject: String,
    },
    /// Import an mbox file or a directory of .eml files; re-running is a no-op.
    Import { path: PathBuf },
    /// Documents waiting, oldest first, with the time left of their two hours.
    Inbox,
    /// Create the ticket from a document (received at the document's time).
    Enter {
        id: i64,
        #[arg(long)]
        number: String,
        #[arg(long, default_value = "no_dial_tone")]
        fault: String,
        #[arg(long, default_value = "ordinary")]
        class: String,
        #[arg(long, default_value = "")]
        contact: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        branch: String,
        /// Default: the document's subject and text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Pass a document the clerk cannot handle to the seniors (TE4).
    Pass {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// A walk-in customer's report, entered now (TE2).
    WalkIn {
        #[arg(long)]
        number: String,
        #[arg(long, default_value = "no_dial_tone")]
        fault: String,
        #[arg(long, default_value = "")]
        contact: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// File an entered original (data manager).
    File { id: i64 },
    /// Search the archive.
    Archive {
        #[arg(long, default_value_t = 0)]
        ticket: i64,
        #[arg(long, default_value = "")]
        number: String,
        #[arg(long, default_value = "")]
        channel: String,
        /// received at or after (RFC 3339 or `YYYY-MM-DD HH:MM` Beijing time)
        #[arg(long)]
        from: Option<String>,
        /// received before
        #[arg(long)]
        to: Option<String>,
    },
    /// Fetch an original by document id or SHA-256 digest (checked by the core).
    Get {
        /// A document id, or the 64-hex digest of one.
        what: String,
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn print_doc(d: &pb::Document) {
    let left = if d.state == "unentered" || d.state == "passed_to_senior" {
        let m = d.entry_time_left_ms / 60_000;
        if m < 0 {
            format!("超时 {} 分钟", -m)
        } else {
            format!("剩余 {m} 分钟")
        }
    } else {
        String::new()
    };
    println!(
        "{:>6}  {}  {:<6} {:<8} {:<24} {}  {}  {}",
        d.id,
        beijing_time(d.received_at.as_ref()),
        d.channel_label,
        d.state_label,
        d.file_name,
        if d.ticket_id > 0 {
            format!("工单 {}", d.ticket_id)
        } else {
            String::new()
        },
        if d.subject.is_empty() {
            &d.sender
        } else {
            &d.subject
        },
        left
    );
}

const CHUNK: usize = 64 * 1024;

pub(crate) async fn intake(conn: Conn, cmd: IntakeCmd) -> anyhow::Result<()> {
    let mut c = IntakeServiceClient::new(connect_authed(&conn).await?);
    match cmd {
        IntakeCmd::Add {
            file,
            channel,
            received_at,
            sender,
            subject,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut parts = vec![pb::UploadChunk {
                meta: Some(pb::UploadMeta {
                    file_name: name,
                    channel,
                    received_at: received_at.as_deref().map(parse_time).transpose()?,
                    sender,
                    subject,
                }),
                data: Vec::new(),
            }];
            parts.extend(bytes.chunks(CHUNK).map(|c| pb::UploadChunk {
                meta: None,
                data: c.to_vec(),
            }));
            let r = c
                .upload_document(tokio_stream::iter(parts))
                .await?
                .into_inner();
            let d = r.document.unwrap_or_default();
            if r.duplicate {
                println!("already registered as document {} (same SHA-256)", d.id);
            } else {
                println!("document {} registered, sha256 {}", d.id, d.digest);
            }
            print_doc(&d);
        }
        IntakeCmd::Import { path } => {
            let raw = hotline_mail::raw_messages(&path)?;
            let mut parts = Vec::new();
            for m in raw {
                let pieces: Vec<&[u8]> = if m.bytes.is_empty() {
                    vec![&[][..]]
                } else {
                    m.bytes.chunks(CHUNK).collect()
                };
                let n = pieces.len();
                for (i, p) in pieces.into_iter().enumerate() {
                    parts.push(pb::MailChunk {
                        origin: m.origin.clone(),
                        data: p.to_vec(),
                        end_of_message: i + 1 == n,
                    });
                }
            }
            let r = c.import_mail(tokio_stream::iter(parts)).await?.into_inner();
            for f in &r.failures {
                eprintln!("failed: {}: {}", f.origin, f.reason);
            }
            println!(
                "imported {}, skipped {} (already imported), failed {}",
                r.imported, r.skipped, r.failed
            );
        }
        IntakeCmd::Inbox => {
            let r = c
                .list_inbox(pb::ListInboxRequest { page_size: 1000 })
                .await?
                .into_inner();
            if r.documents.is_empty() {
                println!("收件箱为空");
            }
            for d in &r.documents {
                print_doc(d);
            }
        }
        IntakeCmd::Enter {
            id,
            number,
            fault,
            class,
            contact,
            name,
            branch,
            description,
        } => {
            let r = c
                .enter_document(pb::EnterDocumentRequest {
                    id,
                    ticket: Some(pb::CreateTicketRequest {
                        faulty_number: number,
                        contact_number: contact,
                        customer_name: name,
                        customer_class: class,
                        branch,
                        fault_type: fault,
                        description,
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner();
            let t = r.ticket.unwrap_or_default();
            println!(
                "ticket {} created from document {id} (received {})",
                t.id,
                beijing_time(t.received_at.as_ref())
            );
        }
        IntakeCmd::Pass { id, reason } => {
            let d = c
                .pass_to_senior(pb::PassToSeniorRequest { id, reason })
                .await?
                .into_inner();
            print_doc(&d);
        }
        IntakeCmd::WalkIn {
            number,
            fault,
            contact,
            name,
            description,
        } => {
            let r = c
                .register_walk_in(pb::CreateTicketRequest {
                    faulty_number: number,
                    contact_number: contact,
                    customer_name: name,
                    fault_type: fault,
                    description,
                    ..Default::default()
                })
                .await?
                .into_inner();
            let t = r.ticket.unwrap_or_default();
            println!("walk-in ticket {} (channel {})", t.id, t.channel);
        }
        IntakeCmd::File { id } => {
            let d = c
                .archive_document(pb::ArchiveDocumentRequest { id })
                .await?
                .into_inner();
            print_doc(&d);
        }
        IntakeCmd::Archive {
            ticket,
            number,
            channel,
            from,
            to,
        } => {
            let r = c
                .search_archive(pb::SearchArchiveRequest {
                    ticket_id: ticket,
                    faulty_number: number,
                    channel,
                    received_from: from.as_deref().map(parse_time).transpose()?,
                    received_to: to.as_deref().map(parse_time).transpose()?,
                    state: String::new(),
                    page_size: 1000,
                })
                .await?
                .into_inner();
            for d in &r.documents {
                print_doc(d);
            }
        }
        IntakeCmd::Get { what, output } => {
            let req = match what.parse::<i64>() {
                Ok(id) => pb::DownloadDocumentRequest {
                    id,
                    digest: String::new(),
                },
                Err(_) if what.len() == 64 => pb::DownloadDocumentRequest {
                    id: 0,
                    digest: what.clone(),
                },
                Err(_) => bail!("{what:?}: give a document id or a 64-hex SHA-256 digest"),
            };
            let mut s = c.download_document(req).await?.into_inner();
            let mut bytes = Vec::new();
            while let Some(chunk) = s.message().await? {
                bytes.extend(chunk.data);
            }
            std::fs::write(&output, &bytes)
                .with_context(|| format!("writing {}", output.display()))?;
            println!("{} bytes written to {}", bytes.len(), output.display());
        }
    }
    Ok(())
}
