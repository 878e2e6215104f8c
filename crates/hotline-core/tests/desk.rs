//! The desk's operations called directly, without gRPC (on SQLite, and on PostgreSQL at
//! `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432)): a voicemail is claimed once and converted by its
//! claimer only; escalation needs a reason; a TE3 task is the data manager's and done once.

use hotline_core::auth::Principal;
use hotline_core::clock::ManualClock;
use hotline_core::desk::Desk;
use hotline_core::desk::voicemail::{Recording, TicketForm};
use hotline_core::error::CoreError;
use hotline_core::events::{DeskEvent, VoicemailAction};
use hotline_domain::rules::DeskRules;
use hotline_domain::task::TaskKind;
use hotline_domain::{Channel, Role, Timestamp};
use hotline_store::{Store, StoreOptions, VoicemailState};
use std::path::Path;
use std::sync::Arc;

const T0: i64 = 1_760_000_000_000;

fn who(id: &str, role: Role) -> Principal {
    Principal {
        agent_id: id.into(),
        role,
    }
}

fn write_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..800 {
        w.write_sample(((i as f32 * 0.05).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

async fn desks(dir: &Path) -> Vec<(String, Desk, ManualClock)> {
    let mut out = Vec::new();
    for url in hotline_testkit::database_urls(dir).await {
        let store = Store::open(StoreOptions::new(url.clone())).await.unwrap();
        let clock = ManualClock::new(Timestamp(T0));
        let desk = Desk::new(store, DeskRules::default(), Arc::new(clock.clone()));
        out.push((url, desk, clock));
    }
    out
}

fn recording(call_id: &str, file_name: &str) -> Recording {
    Recording {
        call_id: call_id.into(),
        caller_id: "13800138000".into(),
        number_entered: "01066554433".into(),
        file_name: file_name.into(),
        duration_ms: 100,
    }
}

#[tokio::test]
async fn voicemail_is_claimed_once_and_converted_by_its_claimer() {
    let scratch = hotline_testkit::ScratchDir::new("desk-vm");
    let dir = scratch.path();
    let vm_dir = dir.join("voicemail");
    std::fs::create_dir_all(&vm_dir).unwrap();
    write_wav(&vm_dir.join("a.wav"));
    let ivr = who("ivr", Role::System);
    let (x1, x2) = (
        who("x1", Role::RecordingExtractor),
        who("x2", Role::RecordingExtractor),
    );
    for (url, desk, clock) in desks(dir).await {
        let mut feed = desk.events.subscribe();
        let mailbox = desk.mailbox(&vm_dir);
        let v = mailbox
            .register(&ivr, recording("c1", "a.wav"))
            .await
            .unwrap();
        assert_eq!(v.state, VoicemailState::New, "{url}");
        assert_eq!(v.received_at, Timestamp(T0), "{url}");
        // the IVR's retry returns the first record
        let again = mailbox
            .register(&ivr, recording("c1", "a.wav"))
            .await
            .unwrap();
        assert_eq!(again.id, v.id, "{url}");

        clock.advance_ms(60_000);
        let claimed = mailbox.claim(&x1, v.id).await.unwrap();
        assert_eq!(claimed.state, VoicemailState::Claimed, "{url}");
        assert_eq!(claimed.claimed_by.as_deref(), Some("x1"), "{url}");
        let lost = mailbox.claim(&x2, v.id).await.unwrap_err();
        assert!(
            matches!(&lost, CoreError::NotReady(m) if m.contains("already claimed by x1")),
            "{url}: {lost:?}"
        );
        // only the claimer converts or replays it
        let form = TicketForm {
            fault_type: "no_dial_tone".into(),
            description: "无拨号音".into(),
            ..Default::default()
        };
        let not_mine = mailbox.convert(&x2, v.id, form.clone()).await.unwrap_err();
        assert!(
            matches!(&not_mine, CoreError::NotReady(m) if m.contains("not claimed by you")),
            "{url}: {not_mine:?}"
        );
        assert!(
            matches!(
                mailbox.open_recording(&x2, v.id).await,
                Err(CoreError::NotReady(_))
            ),
            "{url}"
        );
        mailbox.open_recording(&x1, v.id).await.unwrap();

        let (done, created) = mailbox.convert(&x1, v.id, form.clone()).await.unwrap();
        assert_eq!(done.state, VoicemailState::Converted, "{url}");
        assert_eq!(done.ticket_id, Some(created.ticket.id), "{url}");
        let t = &created.ticket;
        assert_eq!(t.channel, Channel::Voicemail, "{url}");
        assert_eq!(t.faulty_number.as_str(), "01066554433", "{url}");
        assert_eq!(
            t.contact_number.as_ref().map(|n| n.as_str()),
            Some("13800138000"),
            "{url}"
        );
        assert_eq!(
            t.received_at,
            Timestamp(T0),
            "received when the message was: {url}"
        );
        assert!(
            t.description.starts_with(&format!("[语音留言 {}]", v.id)),
            "{url}"
        );
        // converted once
        assert!(
            matches!(
                mailbox.convert(&x1, v.id, form).await,
                Err(CoreError::NotReady(_))
            ),
            "{url}"
        );
        assert_eq!(
            mailbox
                .list(Some(VoicemailState::Converted), 10)
                .await
                .unwrap()
                .len(),
            1,
            "{url}"
        );
        assert!(
            mailbox
                .list(Some(VoicemailState::New), 10)
                .await
                .unwrap()
                .is_empty(),
            "{url}"
        );

        let mut actions = Vec::new();
        while let Ok(e) = feed.try_recv() {
            if let DeskEvent::Voicemail { action, .. } = e {
                actions.push(action);
            }
        }
        assert_eq!(
            actions,
            [
                VoicemailAction::Created,
                VoicemailAction::Created,
                VoicemailAction::Claimed,
                VoicemailAction::Converted
            ],
            "{url}"
        );
    }
}

#[tokio::test]
async fn voicemail_escalation_needs_a_claim_and_a_reason() {
    let scratch = hotline_testkit::ScratchDir::new("desk-vm-esc");
    let dir = scratch.path();
    let vm_dir = dir.join("voicemail");
    std::fs::create_dir_all(&vm_dir).unwrap();
    write_wav(&vm_dir.join("b.wav"));
    std::fs::write(vm_dir.join("junk.wav"), b"not a wav").unwrap();
    let ivr = who("ivr", Role::System);
    let x1 = who("x1", Role::RecordingExtractor);
    for (url, desk, _clock) in desks(dir).await {
        let mailbox = desk.mailbox(&vm_dir);
        for bad in ["../b.wav", "b.mp3", "junk.wav"] {
            let e = mailbox
                .register(&ivr, recording("bad", bad))
                .await
                .unwrap_err();
            assert!(
                matches!(&e, CoreError::Invalid(v) if v.to_string().starts_with("file_name")),
                "{url} {bad}: {e:?}"
            );
        }
        let v = mailbox
            .register(&ivr, recording("c2", "b.wav"))
            .await
            .unwrap();
        assert!(
            matches!(
                mailbox.escalate(&x1, v.id, "需要高级话务员").await,
                Err(CoreError::NotReady(_))
            ),
            "escalating needs the claim: {url}"
        );
        mailbox.claim(&x1, v.id).await.unwrap();
        assert!(
            matches!(
                mailbox.escalate(&x1, v.id, "").await,
                Err(CoreError::Invalid(_))
            ),
            "{url}"
        );
        let up = mailbox.escalate(&x1, v.id, "需要高级话务员").await.unwrap();
        assert_eq!(up.state, VoicemailState::Escalated, "{url}");
        assert_eq!(up.note, "需要高级话务员", "{url}");
        assert_eq!(up.ticket_id, None, "{url}");
    }
}

#[tokio::test]
async fn te3_original_task_is_listed_for_the_data_manager_and_completed_once() {
    let scratch = hotline_testkit::ScratchDir::new("desk-tasks");
    let dir = scratch.path();
    let clerk = who("c1", Role::Junior);
    let dm = who("dm1", Role::DataManager);
    for (url, desk, _clock) in desks(dir).await {
        let created = desk
            .create_ticket(
                &clerk,
                hotline_domain::ticket::NewTicket {
                    faulty_number: "01066554433".into(),
                    fault_type: "no_dial_tone".into(),
                    description: "传真报障".into(),
                    channel: "fax".into(),
                    received_at: Some(Timestamp(T0)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mine = desk.list_tasks(&dm, None, false, 0, 100).await.unwrap();
        assert_eq!(mine.len(), 1, "{url}");
        assert_eq!(mine[0].kind, TaskKind::FileOriginal, "{url}");
        assert_eq!(mine[0].ticket_id, created.ticket.id, "{url}");
        // a junior neither sees nor completes originals
        assert!(
            matches!(
                desk.list_tasks(&clerk, Some(TaskKind::FileOriginal), false, 0, 100)
                    .await,
                Err(CoreError::Forbidden { .. })
            ),
            "{url}"
        );
        assert!(
            desk.list_tasks(&clerk, None, false, 0, 100)
                .await
                .unwrap()
                .is_empty(),
            "{url}"
        );
        assert!(
            matches!(
                desk.complete_task(&clerk, mine[0].id, String::new()).await,
                Err(CoreError::Forbidden { .. })
            ),
            "{url}"
        );
        let done = desk
            .complete_task(&dm, mine[0].id, "已归档".into())
            .await
            .unwrap();
        assert_eq!(done.done_at, Some(Timestamp(T0)), "{url}");
        assert_eq!(done.note, "已归档", "{url}");
        assert!(
            matches!(
                desk.complete_task(&dm, mine[0].id, String::new()).await,
                Err(CoreError::NotReady(m)) if m.contains("already done")
            ),
            "{url}"
        );
        assert!(
            desk.list_tasks(&dm, None, false, 0, 100)
                .await
                .unwrap()
                .is_empty(),
            "{url}"
        );
    }
}
