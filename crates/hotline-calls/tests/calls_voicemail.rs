//! Voicemail through the call server (SF9, RE1): a caller's message is recorded, registered
//! in the core, claimed by an extractor, fetched as a playable WAV and converted into a
//! ticket; and a message is not lost when the call server dies mid-recording: the next
//! start repairs the WAV and registers it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{Hotline, authed, database_urls, temp_dir};
use hotline_calls::VoicemailFallback;
use hotline_calls::dialer::Caller;
use hotline_ivr::FlowOutcome;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::voicemail_service_client::VoicemailServiceClient;
use tokio_stream::StreamExt;

fn list_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

/// Polls `probe` every 20 ms until it gives a value (at most 20 s).
async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An extractor's token.
async fn extractor(h: &Hotline) -> String {
    let mut agents = AgentServiceClient::new(h.grpc.clone());
    agents
        .create_agent(authed(
            &h.admin,
            pb::CreateAgentRequest {
                agent_id: "rx1".into(),
                name: "录音提取员".into(),
                role: "recording_extractor".into(),
                password: "extractor-pw-1".into(),
            },
        ))
        .await
        .unwrap();
    agents
        .login(pb::LoginRequest {
            agent_id: "rx1".into(),
            password: "extractor-pw-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

async fn voicemail_of(h: &Hotline, token: &str, call_id: &str) -> pb::Voicemail {
    VoicemailServiceClient::new(h.grpc.clone())
        .list_voicemails(authed(token, pb::ListVoicemailsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .voicemails
        .into_iter()
        .find(|v| v.call_id == call_id)
        .unwrap_or_else(|| panic!("no voicemail for call {call_id}"))
}

/// Fetches a message's audio and parses it as a WAV; returns its samples.
async fn fetch_samples(h: &Hotline, token: &str, id: i64) -> Vec<i16> {
    let mut stream = VoicemailServiceClient::new(h.grpc.clone())
        .fetch_voicemail_audio(authed(token, pb::FetchVoicemailAudioRequest { id }))
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend(chunk.unwrap().data);
    }
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a valid WAV");
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (8000, 1, 16)
    );
    reader.into_samples::<i16>().map(|s| s.unwrap()).collect()
}

#[tokio::test]
async fn sf9_re1_voicemail_recorded_registered_claimed_fetched_converted() {
    let dir = temp_dir("voicemail");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start(&url, &dir).await;
        let mut c = Caller::dial(h.sip, "13900139000").await.unwrap();
        c.press("3").await.unwrap(); // leave a message
        // The marker is written before the first sample: the recording runs.
        until("recording starts", || {
            list_with(&h.vm_dir, ".wav.pending").pop()
        })
        .await;
        c.speak(Duration::from_millis(2500)).await.unwrap();
        c.press("#").await.unwrap(); // end of message
        c.wait_ended(Duration::from_secs(20)).await.unwrap();
        let call_id = c.call_id().to_owned();
        c.close().await;
        let s = h.next_call().await;
        assert_eq!(s.outcome, Ok(FlowOutcome::Done));
        assert!(
            s.played.ends_with(&["voicemail_saved".to_owned()]),
            "{:?}",
            s.played
        );
        assert!(
            list_with(&h.vm_dir, ".pending").is_empty(),
            "registered: no marker left"
        );

        let rx = extractor(&h).await;
        let vm = voicemail_of(&h, &rx, &call_id).await;
        assert_eq!(vm.caller_id, "13900139000");
        assert_eq!(vm.state, "new");
        assert!((2000..4000).contains(&vm.duration_ms), "{}", vm.duration_ms);
        let mut svc = VoicemailServiceClient::new(h.grpc.clone());
        let claimed = svc
            .claim_voicemail(authed(&rx, pb::ClaimVoicemailRequest { id: vm.id }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(claimed.claimed_by, "rx1");
        let samples = fetch_samples(&h, &rx, vm.id).await;
        let ms = samples.len() as i64 / 8;
        assert!(
            (vm.duration_ms - ms).abs() <= 40,
            "{ms} ms vs {}",
            vm.duration_ms
        );
        let loud = samples.iter().filter(|s| s.unsigned_abs() > 4000).count();
        assert!(
            loud > samples.len() / 4,
            "the caller's tone is in the message"
        );
        let converted = svc
            .convert_voicemail(authed(
                &rx,
                pb::ConvertVoicemailRequest {
                    id: vm.id,
                    ticket: Some(pb::CreateTicketRequest {
                        faulty_number: "01099887766".into(),
                        fault_type: "noise".into(),
                        contact_number: "13900139000".into(),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let t = converted.ticket.unwrap();
        assert_eq!(t.channel, "voicemail");
        assert_eq!(converted.voicemail.unwrap().ticket_id, t.id);
        h.stop().await;
    }
}

/// The WAV's data-chunk size field (a canonical 44-byte header, as the recorder writes).
fn data_size_field(wav: &Path) -> Option<u32> {
    let b = std::fs::read(wav).ok()?;
    (b.len() >= 44 && &b[36..40] == b"data")
        .then(|| u32::from_le_bytes(b[40..44].try_into().unwrap()))
}

#[tokio::test]
async fn sf9_message_survives_a_kill_mid_recording() {
    let dir = temp_dir("voicemail-kill");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start(&url, &dir).await;
        let mut c = Caller::dial(h.sip, "13500135000").await.unwrap();
        c.press("3").await.unwrap();
        let marker = until("recording starts", || {
            list_with(&h.vm_dir, ".wav.pending").pop()
        })
        .await;
        let wav = PathBuf::from(marker.to_string_lossy().trim_end_matches(".pending"));
        let call_id = c.call_id().to_owned();
        // Speak; once more than 1.5 s of audio is on disk, kill the call server (abort its
        // task: no flow code runs again, nothing is registered, no BYE is sent).
        let server = h.server.take().unwrap();
        let speak = c.speak(Duration::from_secs(6));
        let kill = async {
            until("1.5 s of audio on disk", || {
                let len = std::fs::metadata(&wav).ok()?.len();
                (len > 44 + 24_000).then_some(())
            })
            .await;
            server.abort();
            assert!(server.await.unwrap_err().is_cancelled());
        };
        let (spoke, ()) = tokio::join!(speak, kill);
        spoke.unwrap();
        drop(c);
        // The leg's task finalises the header as its socket closes; a process killed with
        // SIGKILL would not: put the header back to a stale state, as the last periodic
        // update might have left it.
        let final_size = until("the leg lets go of the file", || {
            let len = std::fs::metadata(&wav).ok()?.len();
            data_size_field(&wav).filter(|s| u64::from(*s) + 44 == len)
        })
        .await;
        assert!(final_size > 24_000);
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(&wav).unwrap();
            f.seek(SeekFrom::Start(4)).unwrap();
            f.write_all(&36u32.to_le_bytes()).unwrap();
            f.seek(SeekFrom::Start(40)).unwrap();
            f.write_all(&0u32.to_le_bytes()).unwrap();
        }
        assert!(marker.exists(), "the marker outlives the killed server");
        let rx = extractor(&h).await;
        let vms = VoicemailServiceClient::new(h.grpc.clone())
            .list_voicemails(authed(&rx, pb::ListVoicemailsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .voicemails;
        assert!(
            vms.iter().all(|v| v.call_id != call_id),
            "not registered yet"
        );

        // A new call server on the same directory: the sweep repairs and registers it.
        h.start_calls(Arc::new(VoicemailFallback)).await;
        assert_eq!(h.sweep.registered, vec![call_id.clone()]);
        assert!(!marker.exists());
        assert_eq!(data_size_field(&wav), Some(final_size), "header repaired");
        let vm = voicemail_of(&h, &rx, &call_id).await;
        assert_eq!(vm.caller_id, "13500135000");
        assert_eq!(vm.duration_ms, i64::from(final_size) / 16);
        VoicemailServiceClient::new(h.grpc.clone())
            .claim_voicemail(authed(&rx, pb::ClaimVoicemailRequest { id: vm.id }))
            .await
            .unwrap();
        let samples = fetch_samples(&h, &rx, vm.id).await;
        assert_eq!(samples.len() as u32, final_size / 2);

        // A second start finds nothing left to do.
        h.start_calls(Arc::new(VoicemailFallback)).await;
        assert!(h.sweep.registered.is_empty() && h.sweep.failed.is_empty());
        h.stop().await;
    }
}
