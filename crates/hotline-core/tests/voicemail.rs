//! RE1/SF9 over gRPC: the IVR registers a message; two extractors race to claim it and one
//! wins; the winner replays the WAV, converts it into a voicemail-channel ticket; another
//! message is escalated to a senior; bad input is refused and changes nothing.

use hotline_domain::Role;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::voicemail_service_client::VoicemailServiceClient;
use hotline_testkit::{TestCore, authed};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;

/// A short valid 8 kHz WAV.
fn write_wav(path: &std::path::Path, seconds: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(8000.0 * seconds) as usize {
        w.write_sample(((i as f32 * 0.05).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

#[tokio::test]
async fn re1_voicemail_is_claimed_once_replayed_and_converted_or_escalated() {
    let core = TestCore::sqlite()
        .with_config(|cfg| cfg.scheduler_max_sleep = Duration::from_millis(200))
        .with_agent("ivr", Role::System, "ivr-password")
        .with_agent("r1", Role::RecordingExtractor, "r1-password")
        .with_agent("r2", Role::RecordingExtractor, "r2-password")
        .with_agent("s1", Role::Senior, "s1-password")
        .start()
        .await;
    let vm_dir = core.voicemail_dir.clone();
    let mut agents = core.client(AgentServiceClient::new);
    let mut vm = core.client(VoicemailServiceClient::new);
    let [ivr, r1, r2, s1] = ["ivr", "r1", "r2", "s1"].map(|id| core.token(id).to_string());

    write_wav(&vm_dir.join("call-1.wav"), 3.0);
    let create = |call: &str, file: &str| pb::CreateVoicemailRequest {
        call_id: call.into(),
        caller_id: "13800138000".into(),
        number_entered: "01066554433".into(),
        file_name: file.into(),
        duration_ms: 3000,
    };
    let m = vm
        .create_voicemail(authed(&ivr, create("call-1", "call-1.wav")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (m.state.as_str(), m.state_label.as_str()),
        ("new", "新留言")
    );
    let again = vm
        .create_voicemail(authed(&ivr, create("call-1", "call-1.wav")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, m.id, "idempotent by call id");

    // bad input: path traversal, missing file, not the IVR
    for (file, field) in [("../vm.db", "file_name"), ("nope.wav", "file_name")] {
        let e = vm
            .create_voicemail(authed(&ivr, create("call-x", file)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{file}");
        assert!(e.message().starts_with(field), "{}", e.message());
    }
    let e = vm
        .create_voicemail(authed(&r1, create("call-y", "call-1.wav")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // two extractors race: exactly one claim wins
    let (mut vm_a, mut vm_b) = (vm.clone(), vm.clone());
    let (a, b) = tokio::join!(
        vm_a.claim_voicemail(authed(&r1, pb::ClaimVoicemailRequest { id: m.id })),
        vm_b.claim_voicemail(authed(&r2, pb::ClaimVoicemailRequest { id: m.id }))
    );
    assert_eq!(
        a.is_ok() as u8 + b.is_ok() as u8,
        1,
        "one claim wins: {a:?} / {b:?}"
    );
    let (winner, loser, lost) = match (a, b) {
        (Ok(_), Err(e)) => (&r1, &r2, e),
        (Err(e), Ok(_)) => (&r2, &r1, e),
        other => panic!("exactly one claim must win: {other:?}"),
    };
    assert_eq!(lost.code(), Code::FailedPrecondition);

    // the loser may neither replay nor convert; the winner replays the exact WAV
    let e = vm
        .fetch_voicemail_audio(authed(loser, pb::FetchVoicemailAudioRequest { id: m.id }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let mut stream = vm
        .fetch_voicemail_audio(authed(winner, pb::FetchVoicemailAudioRequest { id: m.id }))
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend(chunk.unwrap().data);
    }
    assert_eq!(bytes, std::fs::read(vm_dir.join("call-1.wav")).unwrap());
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);

    let convert = pb::ConvertVoicemailRequest {
        id: m.id,
        ticket: Some(pb::CreateTicketRequest {
            fault_type: "no_dial_tone".into(),
            description: "留言称电话无音".into(),
            ..Default::default()
        }),
    };
    let e = vm
        .convert_voicemail(authed(loser, convert.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let done = vm
        .convert_voicemail(authed(winner, convert.clone()))
        .await
        .unwrap()
        .into_inner();
    let t = done.ticket.unwrap();
    assert_eq!(
        (
            t.channel.as_str(),
            t.faulty_number.as_str(),
            t.contact_number.as_str()
        ),
        ("voicemail", "01066554433", "13800138000")
    );
    assert!(t.description.contains("语音留言"));
    let v = done.voicemail.unwrap();
    assert_eq!((v.state.as_str(), v.ticket_id), ("converted", t.id));
    let e = vm
        .convert_voicemail(authed(winner, convert))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "converted once");

    // a second message the extractor cannot handle goes to a senior, who sees it on the feed
    write_wav(&vm_dir.join("call-2.wav"), 2.5);
    let m2 = vm
        .create_voicemail(authed(&ivr, create("call-2", "call-2.wav")))
        .await
        .unwrap()
        .into_inner();
    let mut feed = agents
        .stream_events(authed(&s1, pb::StreamEventsRequest {}))
        .await
        .unwrap()
        .into_inner();
    vm.claim_voicemail(authed(&r1, pb::ClaimVoicemailRequest { id: m2.id }))
        .await
        .unwrap();
    let e = vm
        .escalate_voicemail(authed(
            &r1,
            pb::EscalateVoicemailRequest {
                id: m2.id,
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let esc = vm
        .escalate_voicemail(authed(
            &r1,
            pb::EscalateVoicemailRequest {
                id: m2.id,
                reason: "听不清号码".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(esc.state, "escalated");
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = feed.next().await {
            if let Some(pb::event::Kind::VoicemailChanged(v)) = ev.unwrap().kind
                && v.action == "escalated"
            {
                return v;
            }
        }
        panic!("feed ended");
    })
    .await
    .expect("escalation on the senior's feed");
    assert_eq!(seen.voicemail.unwrap().id, m2.id);
    let listed = vm
        .list_voicemails(authed(
            &s1,
            pb::ListVoicemailsRequest {
                state: "escalated".into(),
                page_size: 10,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.voicemails.len(), 1);
    core.shutdown().await;
}
