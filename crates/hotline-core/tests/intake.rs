//! Text intake over gRPC against the real core, on SQLite and PostgreSQL (TE1-TE4, DM5):
//! a fax received at 09:00 entered at 10:30 is on time and one not entered by 11:30 alerts
//! (manual clock, the scheduler's tick); passing to a senior (TE4); walk-ins (TE2); filing
//! and the archive search (TE3, DM5); an mbox with GBK mail imported once; bad uploads
//! refused; a corrupted original detected on download; the retention rule with its audit row.

use hotline_core::clock::{Clock, ManualClock};
use hotline_core::convert::ts;
use hotline_core::desk::intake::IntakeConfig;
use hotline_docstore::{DocumentStore, FsStore};
use hotline_domain::time::{DAY_MS, MINUTE_MS};
use hotline_domain::{Role, Timestamp};
use hotline_proto::v1 as pb;
use hotline_proto::v1::intake_service_client::IntakeServiceClient;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::{StartedCore, TestCore, authed};
use std::path::Path;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

/// 2026-12-07 09:00 Beijing time.
const NINE: i64 = 1_796_605_200_000;
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

async fn start(
    tag: &str,
    clock: &ManualClock,
    f: impl Fn(&mut IntakeConfig) + Clone,
) -> Vec<StartedCore> {
    let mut out = Vec::new();
    for core in TestCore::backends(tag).await {
        let f = f.clone();
        out.push(
            core.with_clock(Arc::new(clock.clone()))
                .with_config(move |c| {
                    c.scheduler_max_sleep = std::time::Duration::from_millis(50);
                    f(&mut c.intake)
                })
                .with_agent("c1", Role::TextEntry, "c1-password")
                .with_agent("s1", Role::Senior, "s1-password")
                .with_agent("dm", Role::DataManager, "dm-password")
                .with_agent("j1", Role::Junior, "j1-password")
                .start()
                .await,
        );
    }
    out
}

fn chunks(
    name: &str,
    channel: &str,
    at: Option<i64>,
    bytes: &[u8],
    size: usize,
) -> Vec<pb::UploadChunk> {
    let mut out = vec![pb::UploadChunk {
        meta: Some(pb::UploadMeta {
            file_name: name.into(),
            channel: channel.into(),
            received_at: at.map(|t| ts(Timestamp(t))),
            sender: "城东营业厅".into(),
            subject: "转来障碍".into(),
        }),
        data: Vec::new(),
    }];
    for c in bytes.chunks(size.max(1)) {
        out.push(pb::UploadChunk {
            meta: None,
            data: c.to_vec(),
        });
    }
    out
}

async fn upload(
    c: &mut IntakeServiceClient<Channel>,
    token: &str,
    parts: Vec<pb::UploadChunk>,
) -> Result<pb::UploadDocumentResponse, tonic::Status> {
    c.upload_document(authed(token, tokio_stream::iter(parts)))
        .await
        .map(|r| r.into_inner())
}

async fn download(
    c: &mut IntakeServiceClient<Channel>,
    token: &str,
    id: i64,
) -> Result<Vec<u8>, tonic::Status> {
    let mut s = c
        .download_document(authed(
            token,
            pb::DownloadDocumentRequest {
                id,
                digest: String::new(),
            },
        ))
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend(c?.data);
    }
    Ok(out)
}

fn report(number: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        faulty_number: number.into(),
        fault_type: "no_dial_tone".into(),
        description: "传真称电话无音".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn te1_te4_a_fax_received_at_9_entered_at_10_30_is_on_time_and_one_not_entered_by_11_30_alerts()
 {
    let clock = ManualClock::new(Timestamp(NINE));
    for core in start("intake-te1", &clock, |_| {}).await {
        clock.set(Timestamp(NINE));
        let mut c = core.client(IntakeServiceClient::new);
        let mut tickets = core.client(TicketServiceClient::new);
        let [c1, s1, dm, j1] = ["c1", "s1", "dm", "j1"].map(|id| core.token(id).to_string());

        let a = upload(&mut c, &c1, chunks("fax-a.pdf", "fax", Some(NINE), PDF, 7))
            .await
            .unwrap();
        assert!(!a.duplicate);
        let a = a.document.unwrap();
        assert_eq!(
            (a.state.as_str(), a.channel.as_str(), a.media_type.as_str()),
            ("unentered", "fax", "application/pdf")
        );
        assert_eq!(a.size, PDF.len() as i64);
        assert_eq!(a.entry_time_left_ms, 120 * MINUTE_MS);
        // the same bytes again: the first document, nothing new
        let again = upload(
            &mut c,
            &c1,
            chunks("fax-a.pdf", "fax", Some(NINE), PDF, 1000),
        )
        .await
        .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.document.unwrap().id, a.id);
        let letter_b = "信函：号码 025-84560000 电话断线".as_bytes();
        let b = upload(
            &mut c,
            &c1,
            chunks("letter-b.txt", "letter", Some(NINE + 60_000), letter_b, 8),
        )
        .await
        .unwrap()
        .document
        .unwrap();
        let pdf_c = b"%PDF-1.4\n% another fax\n%%EOF\n";
        let cdoc = upload(
            &mut c,
            &c1,
            chunks("fax-c.pdf", "fax", Some(NINE + 120_000), pdf_c, 8),
        )
        .await
        .unwrap()
        .document
        .unwrap();

        // the inbox: oldest first, with the time left
        clock.set(Timestamp(NINE + 30 * MINUTE_MS));
        let inbox = c
            .list_inbox(authed(&c1, pb::ListInboxRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .documents;
        assert_eq!(
            inbox.iter().map(|d| d.id).collect::<Vec<_>>(),
            [a.id, b.id, cdoc.id]
        );
        assert_eq!(inbox[0].entry_time_left_ms, 90 * MINUTE_MS);
        // juniors have no intake inbox (matrix)
        let e = c
            .list_inbox(authed(&j1, pb::ListInboxRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);

        // TE4: the clerk passes C to a senior; the clerk can no longer enter it
        let e = c
            .pass_to_senior(authed(
                &c1,
                pb::PassToSeniorRequest {
                    id: cdoc.id,
                    reason: " ".into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("reason"), "{}", e.message());
        let passed = c
            .pass_to_senior(authed(
                &c1,
                pb::PassToSeniorRequest {
                    id: cdoc.id,
                    reason: "涉及大客户专线".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(passed.state, "passed_to_senior");
        let e = c
            .enter_document(authed(
                &c1,
                pb::EnterDocumentRequest {
                    id: cdoc.id,
                    ticket: Some(report("02583330000")),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
        let senior_inbox = c
            .list_inbox(authed(&s1, pb::ListInboxRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .documents;
        assert_eq!(
            senior_inbox.iter().map(|d| d.id).collect::<Vec<_>>(),
            [cdoc.id]
        );

        // 10:30: A is entered, received at 09:00, on time
        clock.set(Timestamp(NINE + 90 * MINUTE_MS));
        let entered = c
            .enter_document(authed(
                &c1,
                pb::EnterDocumentRequest {
                    id: a.id,
                    ticket: Some(report("02584561234")),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let t = entered.ticket.unwrap();
        assert_eq!(t.channel, "fax");
        assert_eq!(
            t.received_at,
            Some(ts(Timestamp(NINE))),
            "received_at is the document's"
        );
        let d = entered.document.unwrap();
        assert_eq!((d.state.as_str(), d.ticket_id), ("entered", t.id));
        let e = c
            .enter_document(authed(
                &c1,
                pb::EnterDocumentRequest {
                    id: a.id,
                    ticket: Some(report("02584561234")),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "entered once");
        // a bad ticket form gives the document back
        let e = c
            .enter_document(authed(
                &c1,
                pb::EnterDocumentRequest {
                    id: b.id,
                    ticket: Some(report("12")),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("faulty_number"), "{}", e.message());
        let b_now = c
            .get_document(authed(&c1, pb::GetDocumentRequest { id: b.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(b_now.state, "unentered");
        // the senior enters C
        let sc = c
            .enter_document(authed(
                &s1,
                pb::EnterDocumentRequest {
                    id: cdoc.id,
                    ticket: Some(report("02583330000")),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(sc.document.unwrap().state, "entered");

        // 10:40: B (received 09:01) is warned for TE1 and TE4; A and C are not
        clock.set(Timestamp(NINE + 100 * MINUTE_MS));
        hotline_core::scheduler::tick(&core.core.desk)
            .await
            .unwrap();
        let store = &core.core.desk.store;
        let b_alerts = store.document_alerts(b.id).await.unwrap();
        assert_eq!(
            b_alerts
                .iter()
                .map(|a| (a.deadline_kind.as_str(), a.level.as_str()))
                .collect::<Vec<_>>(),
            [("entry", "warning"), ("escalation", "warning")]
        );
        assert!(
            b_alerts[0].message.contains("TE1"),
            "{}",
            b_alerts[0].message
        );
        assert!(store.document_alerts(a.id).await.unwrap().is_empty());
        assert!(store.document_alerts(cdoc.id).await.unwrap().is_empty());
        // 11:30: B is overdue: both alerts, once
        clock.set(Timestamp(NINE + 150 * MINUTE_MS));
        hotline_core::scheduler::tick(&core.core.desk)
            .await
            .unwrap();
        hotline_core::scheduler::tick(&core.core.desk)
            .await
            .unwrap();
        let b_alerts = store.document_alerts(b.id).await.unwrap();
        let breaches: Vec<_> = b_alerts
            .iter()
            .filter(|a| a.level == hotline_domain::rules::DueLevel::Breach)
            .map(|a| a.deadline_kind.as_str())
            .collect();
        assert_eq!(breaches, ["entry", "escalation"]);
        assert!(
            store.document_alerts(a.id).await.unwrap().is_empty(),
            "A was entered on time"
        );
        // the alerts are in the ordinary alert list
        let all = tickets
            .list_alerts(authed(&s1, pb::ListAlertsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .alerts;
        assert!(
            all.iter()
                .any(|x| x.message.contains(&format!("文档 {}", b.id)) && x.level == "breach")
        );

        // TE3/DM5: the data manager files A; the ticket's file_original task is done
        let e = c
            .archive_document(authed(&c1, pb::ArchiveDocumentRequest { id: a.id }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let e = c
            .archive_document(authed(&dm, pb::ArchiveDocumentRequest { id: b.id }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "B is not entered");
        let filed = c
            .archive_document(authed(&dm, pb::ArchiveDocumentRequest { id: a.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (filed.state.as_str(), filed.archived_by.as_str()),
            ("archived", "dm")
        );
        let hist = store.history(t.id).await.unwrap();
        assert!(
            hist.iter()
                .any(|h| h.action.wire() == "task_done:file_original"),
            "{hist:?}"
        );
        let open = store
            .open_tasks(hotline_domain::task::TaskKind::FileOriginal, 100)
            .await
            .unwrap();
        assert!(open.iter().all(|x| x.ticket_id != t.id));

        // the archive: by ticket, number, channel, date range
        let search = |r: pb::SearchArchiveRequest| {
            let mut c = c.clone();
            let dm = dm.clone();
            async move {
                c.search_archive(authed(&dm, r)).await.map(|r| {
                    r.into_inner()
                        .documents
                        .iter()
                        .map(|d| d.id)
                        .collect::<Vec<_>>()
                })
            }
        };
        assert_eq!(
            search(pb::SearchArchiveRequest {
                ticket_id: t.id,
                ..Default::default()
            })
            .await
            .unwrap(),
            [a.id]
        );
        assert_eq!(
            search(pb::SearchArchiveRequest {
                faulty_number: "02584561234".into(),
                ..Default::default()
            })
            .await
            .unwrap(),
            [a.id]
        );
        assert_eq!(
            search(pb::SearchArchiveRequest {
                channel: "fax".into(),
                ..Default::default()
            })
            .await
            .unwrap(),
            [a.id, cdoc.id]
        );
        assert_eq!(
            search(pb::SearchArchiveRequest {
                channel: "fax".into(),
                state: "archived".into(),
                ..Default::default()
            })
            .await
            .unwrap(),
            [a.id]
        );
        assert_eq!(
            search(pb::SearchArchiveRequest {
                received_from: Some(ts(Timestamp(NINE + 60_000))),
                received_to: Some(ts(Timestamp(NINE + 180_000))),
                ..Default::default()
            })
            .await
            .unwrap(),
            [cdoc.id]
        );
        let e = search(pb::SearchArchiveRequest {
            channel: "pigeon".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(e.message().starts_with("channel"), "{}", e.message());

        // the original, verified; then corrupted on disk: detected, not served
        assert_eq!(download(&mut c, &dm, a.id).await.unwrap(), PDF);
        let docs = FsStore::open(&core.intake_dir).await.unwrap();
        let digest = hotline_docstore::Digest::parse(&a.digest).unwrap();
        std::fs::write(docs.path_of(&digest), b"%PDF-1.4\n tampered").unwrap();
        let e = download(&mut c, &dm, a.id).await.unwrap_err();
        assert_eq!(e.code(), Code::Internal);
        assert!(e.message().contains("damaged"), "{}", e.message());
        let e = download(&mut c, &j1, b.id).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);

        // TE2: a walk-in report, entered on the spot
        let w = c
            .register_walk_in(authed(&c1, report("02587776666")))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(w.channel, "walk_in");
        assert_eq!(w.received_at, Some(ts(clock.now())));
        let mut past = report("02587776666");
        past.received_at = Some(ts(Timestamp(NINE)));
        let e = c.register_walk_in(authed(&c1, past)).await.unwrap_err();
        assert!(e.message().starts_with("received_at"), "{}", e.message());
        core.shutdown().await;
    }
}

#[tokio::test]
async fn te1_bad_uploads_are_refused_naming_the_field_and_leave_nothing() {
    let clock = ManualClock::new(Timestamp(NINE));
    for core in start("intake-bad", &clock, |i| i.max_upload_bytes = 1024).await {
        // the scheduler keeps its daily and monthly reports in the same document store:
        // count the objects once they are there, and compare after the bad uploads
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while core
            .core
            .desk
            .store
            .scheduled_reports(None, 10)
            .await
            .unwrap()
            .len()
            < 2
        {
            assert!(
                std::time::Instant::now() < until,
                "scheduled reports at start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // objects are <root>/<2 hex>/<62 hex>
        let objects_at = |dir: &Path| -> usize {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name() != "tmp")
                .map(|e| std::fs::read_dir(e.path()).map_or(1, |d| d.count()))
                .sum()
        };
        let before = objects_at(&core.intake_dir);
        let mut c = core.client(IntakeServiceClient::new);
        let c1 = core.token("c1").to_string();
        let big = [b'x'; 1025];
        for (parts, field, says) in [
            (chunks("empty.pdf", "fax", None, b"", 1), "data", "0 bytes"),
            (chunks("big.txt", "letter", None, &big, 100), "data", "1024"),
            (
                chunks("letter.pdf", "letter", None, b"just text, not a PDF", 100),
                "file_name",
                ".pdf",
            ),
            (
                chunks("../../etc/passwd", "letter", None, b"root:x:0:0", 100),
                "file_name",
                "bare file name",
            ),
            (
                chunks("a.pdf", "pigeon", None, PDF, 100),
                "channel",
                "pigeon",
            ),
            (
                chunks("a.pdf", "fax", Some(NINE + DAY_MS), PDF, 100),
                "received_at",
                "future",
            ),
            (
                vec![pb::UploadChunk {
                    meta: None,
                    data: PDF.to_vec(),
                }],
                "meta",
                "first chunk",
            ),
        ] {
            let e = upload(&mut c, &c1, parts).await.unwrap_err();
            assert_eq!(e.code(), Code::InvalidArgument, "{field}: {}", e.message());
            assert!(
                e.message().starts_with(field) && e.message().contains(says),
                "{field}: {}",
                e.message()
            );
        }
        let inbox = c
            .list_inbox(authed(&c1, pb::ListInboxRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .documents;
        assert!(inbox.is_empty());
        let dir = core.intake_dir.clone();
        assert_eq!(
            std::fs::read_dir(dir.join("tmp")).unwrap().count(),
            0,
            "no temp file left"
        );
        assert_eq!(objects_at(&dir), before, "nothing stored");
        assert!(!Path::new("/etc/passwd.pdf").exists());
        core.shutdown().await;
    }
}

fn mail_chunks(path: &Path) -> Vec<pb::MailChunk> {
    let mut out = Vec::new();
    for m in hotline_mail::raw_messages(path).unwrap() {
        let parts: Vec<&[u8]> = m.bytes.chunks(100).collect();
        let n = parts.len();
        for (i, p) in parts.into_iter().enumerate() {
            out.push(pb::MailChunk {
                origin: m.origin.clone(),
                data: p.to_vec(),
                end_of_message: i + 1 == n,
            });
        }
    }
    out
}

#[tokio::test]
async fn te1_an_mbox_with_gbk_mail_imports_once_and_a_rerun_is_a_no_op() {
    let clock = ManualClock::new(Timestamp(NINE + 3 * 60 * MINUTE_MS));
    let mbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hotline-mail/tests/data/intake.mbox");
    for core in start("intake-mail", &clock, |_| {}).await {
        let mut c = core.client(IntakeServiceClient::new);
        let [c1, s1] = ["c1", "s1"].map(|id| core.token(id).to_string());
        let r = c
            .import_mail(authed(&c1, tokio_stream::iter(mail_chunks(&mbox))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((r.imported, r.skipped, r.failed), (6, 0, 1));
        assert_eq!(r.failures[0].origin, "intake.mbox#7");
        assert!(
            r.failures[0].reason.contains("broken MIME"),
            "{}",
            r.failures[0].reason
        );
        let gbk = c
            .get_document(authed(
                &c1,
                pb::GetDocumentRequest {
                    id: r.document_ids[0],
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(gbk.subject, "转来障碍：小区突然停电后电话无音");
        assert_eq!(gbk.sender, "城东营业厅 <chengdong@branch.example.cn>");
        assert!(gbk.body_text.contains("025-84561234"));
        assert_eq!(
            (gbk.channel.as_str(), gbk.media_type.as_str()),
            ("email", "message/rfc822")
        );
        assert_eq!(
            gbk.received_at,
            Some(ts(Timestamp(NINE))),
            "the Date header"
        );
        // the original is the raw message
        let raw = download(&mut c, &c1, gbk.id).await.unwrap();
        assert!(raw.starts_with(b"From: =?GBK?B?"));
        // the attachment is a document of its own, linked to its e-mail
        let inbox = c
            .list_inbox(authed(&c1, pb::ListInboxRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .documents;
        assert_eq!(inbox.len(), 6, "attachments are not inbox items");
        assert!(
            inbox
                .windows(2)
                .all(|w| w[0].received_at.as_ref().unwrap().seconds
                    <= w[1].received_at.as_ref().unwrap().seconds)
        );
        let multipart = inbox
            .iter()
            .find(|d| d.subject == "传真扫描件：断线申告")
            .unwrap();
        let store = &core.core.desk.store;
        let kids = store.document_children(multipart.id).await.unwrap();
        assert_eq!(kids.len(), 1);
        assert_eq!(
            (kids[0].file_name.as_str(), kids[0].media_type.as_str()),
            ("fax-0930.pdf", "application/pdf")
        );
        assert!(
            download(&mut c, &s1, kids[0].id)
                .await
                .unwrap()
                .starts_with(b"%PDF-1.4")
        );

        let again = c
            .import_mail(authed(&c1, tokio_stream::iter(mail_chunks(&mbox))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((again.imported, again.skipped, again.failed), (0, 6, 1));
        assert_eq!(&again.document_ids[..], &r.document_ids[..]);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hotline-mail/tests/data/eml");
        let from_dir = c
            .import_mail(authed(&c1, tokio_stream::iter(mail_chunks(&dir))))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (from_dir.imported, from_dir.skipped, from_dir.failed),
            (0, 6, 1),
            "the same messages as .eml files"
        );
        let inbox = c
            .list_inbox(authed(&c1, pb::ListInboxRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .documents;
        assert_eq!(inbox.len(), 6);
        core.shutdown().await;
    }
}

#[tokio::test]
async fn dm5_originals_are_removed_only_by_the_retention_rule_with_an_audit_row() {
    let clock = ManualClock::new(Timestamp(NINE));
    for core in start("intake-retention", &clock, |i| i.retention_days = 30).await {
        clock.set(Timestamp(NINE));
        let mut c = core.client(IntakeServiceClient::new);
        let [c1, dm] = ["c1", "dm"].map(|id| core.token(id).to_string());
        let d = upload(&mut c, &c1, chunks("fax.pdf", "fax", None, PDF, 100))
            .await
            .unwrap()
            .document
            .unwrap();
        c.enter_document(authed(
            &c1,
            pb::EnterDocumentRequest {
                id: d.id,
                ticket: Some(report("02584561234")),
            },
        ))
        .await
        .unwrap();
        c.archive_document(authed(&dm, pb::ArchiveDocumentRequest { id: d.id }))
            .await
            .unwrap();
        let cfg = IntakeConfig {
            documents_dir: core.intake_dir.clone(),
            retention_days: 30,
            max_upload_bytes: 1 << 20,
        };
        let docs = FsStore::open(&cfg.documents_dir).await.unwrap();
        let desk = &core.core.desk;
        clock.set(Timestamp(NINE + 29 * DAY_MS));
        assert_eq!(desk.intake(&docs, &cfg).retention_pass().await.unwrap(), 0);
        assert_eq!(desk.intake(&docs, &cfg).fetch(d.id).await.unwrap().1, PDF);
        clock.set(Timestamp(NINE + 31 * DAY_MS));
        assert_eq!(desk.intake(&docs, &cfg).retention_pass().await.unwrap(), 1);
        assert_eq!(
            desk.intake(&docs, &cfg).retention_pass().await.unwrap(),
            0,
            "once"
        );
        // a month on, the sessions have expired: read through the desk
        let e = desk.intake(&docs, &cfg).fetch(d.id).await.unwrap_err();
        assert!(
            matches!(e, hotline_core::error::CoreError::NotFound(_)),
            "{e:?}"
        );
        assert!(e.to_string().contains("retention"), "{e}");
        let got = desk.intake(&docs, &cfg).get(d.id).await.unwrap();
        assert!(
            got.purged_at.is_some() && got.state.as_str() == "archived",
            "metadata kept"
        );
        let hist = desk.store.document_history(d.id).await.unwrap();
        assert_eq!(
            hist.iter().map(|h| h.action.as_str()).collect::<Vec<_>>(),
            ["registered", "entered", "archived", "retention_purged"]
        );
        assert!(
            !docs
                .contains(&hotline_docstore::Digest::parse(&d.digest).unwrap())
                .await
                .unwrap()
        );
        core.shutdown().await;
    }
}
