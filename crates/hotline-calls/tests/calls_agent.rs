//! The agent side (JO2, issue 5) through the core's ACD: a caller presses 0, joins the queue
//! (`GrpcQueue`), hears the hold announcement with the position, the agent's softphone (a
//! sipp that registered with digest authentication, then answers as a UAS) is rung by our
//! UAC, answers, the legs are bridged, and the caller's hang-up ends the agent's leg (BYE)
//! and the call in the core's queue log. `jo2_real_15_s_rule_*` runs the rule at its real
//! limit (15 s) with two agents; the other tests shorten it or do not reach it.

mod common;

use std::time::Duration;

use common::agents::{
    self, Agent, AgentAudio, NO_ANSWER, finished, metrics, received_at, softphone, wait_log,
    wait_state,
};
use common::{AGENT_ID, Hotline, Options, SOFTPHONE_PASSWORD, database_urls, temp_dir};
use hotline_calls::dialer::Caller;
use hotline_ivr::FlowOutcome;
use hotline_proto::v1 as pb;
use hotline_proto::v1::queue_service_client::QueueServiceClient;

#[tokio::test]
async fn jo2_caller_queued_rung_agent_answers_bridged_and_hangup_ends_both() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("agent");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start_with(&url, &dir, true, Duration::from_secs(15)).await;
        let mut j1 = Agent::create(&h, AGENT_ID, "junior").await;
        let uas = softphone(
            &h,
            &dir,
            AGENT_ID,
            &agents::answer(AGENT_ID, AgentAudio::Echo),
            true,
        )
        .await;

        // A caller asks for an agent.
        let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
        c.press("0").await.unwrap();
        // It waits (the agent is not ready yet) ...
        wait_state(&h, c.call_id(), "waiting", None, Duration::from_secs(20)).await;
        // ... until the agent becomes available: the offer rings the softphone, which
        // answers; connected in the core's queue (ReportOffer accepted).
        j1.set_presence("available").await;
        wait_state(
            &h,
            c.call_id(),
            "connected",
            Some(AGENT_ID),
            Duration::from_secs(20),
        )
        .await;
        // The caller talks to the agent (sipp echoes), then hangs up.
        c.speak(Duration::from_millis(500)).await.unwrap();
        c.hang_up().await.unwrap();
        let call_id = c.call_id().to_owned();
        c.close().await;
        let s = h.next_call().await;
        assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
        let played = s.played.join(" ");
        assert!(
            played.contains("transfer_agent please_hold queue_position digit_1 queue_position_end"),
            "the waiting caller hears the position: {played}"
        );
        // The agent's softphone got our BYE and ended cleanly.
        finished(uas, &dir, "agent").await;
        wait_log(
            &h,
            &call_id,
            "COMPLETECALLER",
            Some(AGENT_ID),
            Duration::from_secs(10),
        )
        .await;
        let m = metrics(&h).await;
        assert_eq!((m.entered, m.answered, m.abandoned), (1, 1, 0), "{m:?}");
        h.stop().await;
    }
}

#[tokio::test]
async fn jo2_an_unanswered_ring_is_cancelled_when_the_core_withdraws_the_offer() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("agent-no-answer");
    let url = database_urls(&dir).await.remove(0);
    // The ACD's ring limit shortened to 2 s (the real 15 s: `jo2_real_15_s_rule_*`).
    let mut h = Hotline::start_with(&url, &dir, true, Duration::from_secs(2)).await;
    let mut j1 = Agent::create(&h, AGENT_ID, "junior").await;
    let uas = softphone(&h, &dir, AGENT_ID, NO_ANSWER, true).await;
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("0").await.unwrap();
    wait_state(&h, c.call_id(), "waiting", None, Duration::from_secs(20)).await;
    j1.set_presence("available").await;
    // The softphone rings, nobody answers; at the limit the core sends CancelOffer and our
    // UAC sends CANCEL: the softphone's scenario (INVITE, 180, CANCEL, 200, 487, ACK) ends.
    finished(uas, &dir, "agent").await;
    // The no-answer is counted against the agent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = metrics(&h).await;
        if m.no_answers
            .iter()
            .any(|n| n.agent_id == AGENT_ID && n.no_answers >= 1)
        {
            assert_eq!(m.answered, 0);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no no-answer counted: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The caller gives up.
    c.hang_up().await.unwrap();
    c.close().await;
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    h.stop().await;
}

/// JO2 at the real limit: two agents' softphones registered (each with its own digest
/// credentials), both available, j1 the longer idle. A caller presses 0; j1's softphone rings
/// and is never answered; at 15 s the core withdraws the offer and our UAC CANCELs it (j1's
/// softphone sees the CANCEL at least 15 s after its INVITE); j2's softphone is rung at once,
/// answers, and the caller is bridged to j2. The core's log and metrics say the same: one
/// RINGNOANSWER for j1 with a ring time of at least 15 s, CONNECT to j2, one answered call.
#[tokio::test]
async fn jo2_real_15_s_rule_over_sip_unanswered_j1_cancelled_then_j2_answers() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("agent-jo2-15s");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start_opts(
        &url,
        &dir,
        Options {
            acd: true,
            // The rule itself, not shortened.
            answer_timeout: Duration::from_secs(15),
            softphones: vec![
                ("j1".into(), SOFTPHONE_PASSWORD.into()),
                ("j2".into(), "softphone-pw-2".into()),
            ],
            ..Options::default()
        },
    )
    .await;
    let mut j1 = Agent::create(&h, "j1", "junior").await;
    let mut j2 = Agent::create(&h, "j2", "junior").await;
    let j1_phone = softphone(&h, &dir, "j1", NO_ANSWER, false).await;
    let j2_phone = softphone(
        &h,
        &dir,
        "j2",
        &agents::answer("j2", AgentAudio::Echo),
        true,
    )
    .await;
    // j1 becomes available first: the longest idle, offered first.
    j1.set_presence("available").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    j2.set_presence("available").await;

    let started = std::time::Instant::now();
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("0").await.unwrap();
    let call_id = c.call_id().to_owned();
    wait_state(&h, &call_id, "offered", Some("j1"), Duration::from_secs(10)).await;
    // Nobody at j1 answers; 15 s later the call is j2's.
    wait_state(
        &h,
        &call_id,
        "connected",
        Some("j2"),
        Duration::from_secs(30),
    )
    .await;
    let to_j2 = started.elapsed();

    // j1's softphone: INVITE, 180, CANCEL, 200, 487, ACK, and its scenario ended cleanly.
    finished(j1_phone, &dir, "j1's softphone").await;
    let j1_invite = received_at(&dir, "j1", "INVITE");
    let j1_cancel = received_at(&dir, "j1", "CANCEL");
    let j2_invite = received_at(&dir, "j2", "INVITE");
    let rang = j1_cancel - j1_invite;
    eprintln!(
        "j1 rang {rang:.3} s (INVITE → CANCEL at the softphone); j2 rung {:.3} s after j1's CANCEL; caller connected to j2 {to_j2:?} after dialling",
        j2_invite - j1_cancel
    );
    assert!(
        rang >= 15.0,
        "j1's softphone was CANCELled after only {rang:.3} s"
    );
    assert!(rang < 20.0, "j1's softphone rang {rang:.3} s");
    // "At once": j2's INVITE follows j1's CANCEL (generous bound: a loaded 2-core machine).
    assert!(
        j2_invite >= j1_cancel - 0.5 && j2_invite - j1_cancel < 5.0,
        "j2 rung {:.3} s after j1's CANCEL",
        j2_invite - j1_cancel
    );

    // The core's own record: RINGNOANSWER for j1 (ring time, ms, in data1), CONNECT to j2.
    let rna = wait_log(
        &h,
        &call_id,
        "RINGNOANSWER",
        Some("j1"),
        Duration::from_secs(10),
    )
    .await;
    let ring_ms: u64 = rna.data[0].parse().expect("ring time in ms");
    assert!(
        (15_000..20_000).contains(&ring_ms),
        "RINGNOANSWER ring time {ring_ms} ms: {rna:?}"
    );
    let connect = wait_log(&h, &call_id, "CONNECT", Some("j2"), Duration::from_secs(10)).await;
    let hold_s: u64 = connect.data[0].parse().expect("hold time in s");
    assert!(
        (15..25).contains(&hold_s),
        "CONNECT hold time {hold_s} s: {connect:?}"
    );
    assert!(
        !agents::queue_log(&h)
            .await
            .iter()
            .any(|r| r.event == "CONNECT" && r.agent == "j1"),
        "j1 never connected"
    );
    let m = metrics(&h).await;
    assert_eq!((m.entered, m.answered, m.abandoned), (1, 1, 0), "{m:?}");
    let j1_misses: Vec<_> = m
        .no_answers
        .iter()
        .map(|n| (n.agent_id.as_str(), n.no_answers))
        .collect();
    assert_eq!(j1_misses, vec![("j1", 1)], "{m:?}");

    // Caller and j2 talk (j2's softphone echoes), then the caller hangs up: j2 gets our BYE.
    c.speak(Duration::from_millis(500)).await.unwrap();
    c.hang_up().await.unwrap();
    c.close().await;
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    finished(j2_phone, &dir, "j2's softphone").await;
    wait_log(
        &h,
        &call_id,
        "COMPLETECALLER",
        Some("j2"),
        Duration::from_secs(10),
    )
    .await;
    h.stop().await;
}

/// Fraction of a window's energy at `hz` (Goertzel; 1.0 for a pure tone at `hz`).
fn tone_fraction(x: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &v in x {
        let v = f64::from(v);
        energy += v * v;
        let s0 = v + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        2.0 * power / (x.len() as f64 * energy)
    }
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// Quality inspection (QA1): with `qa_recording_dir` set, a bridged call is recorded into
/// the spool as `<dir>/<call-id>.wav`, 8 kHz mono 16-bit, both parties mixed: the caller's
/// 440 Hz tone (our dialer) and the agent's speech (sipp playing its G.711 A-law sample,
/// transcoded to the caller's PCMU by the bridge); after the call it is uploaded to the core
/// (linked to the Call-ID and the agent) and leaves the spool. The recording's length is the
/// bridged time.
#[tokio::test]
async fn qa1_recording_of_a_bridged_call_mixes_caller_and_agent_and_reaches_the_core() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("agent-qa");
    let qa = dir.join("qa");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start_opts(
        &url,
        &dir,
        Options {
            acd: true,
            qa_recording_dir: Some(qa.clone()),
            ..Options::default()
        },
    )
    .await;
    assert!(qa.is_dir(), "the call server creates the QA directory");
    let mut j1 = Agent::create(&h, AGENT_ID, "junior").await;
    let uas = softphone(
        &h,
        &dir,
        AGENT_ID,
        &agents::answer(AGENT_ID, AgentAudio::Speech),
        false,
    )
    .await;
    j1.set_presence("available").await;

    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("0").await.unwrap();
    let call_id = c.call_id().to_owned();
    wait_state(
        &h,
        &call_id,
        "connected",
        Some(AGENT_ID),
        Duration::from_secs(20),
    )
    .await;
    let bridged_at = std::time::Instant::now();
    // The caller speaks 2 s, then listens 1.5 s (the agent's speech alone), then hangs up.
    c.speak(Duration::from_secs(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bridged = bridged_at.elapsed().as_secs_f64();
    c.hang_up().await.unwrap();
    c.close().await;
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    finished(uas, &dir, "agent").await;

    // the recording reaches the core, then leaves the spool
    let store = &h.core.as_ref().unwrap().core.desk.store;
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let rec = loop {
        if let Some(r) = store.recording_by_call(&call_id).await.unwrap() {
            break r;
        }
        assert!(
            std::time::Instant::now() < until,
            "the recording of {call_id} never reached the core"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rec.agent_id, AGENT_ID);
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(&qa).unwrap().flatten().next().is_some() {
        assert!(
            std::time::Instant::now() < until,
            "the spool still holds {:?}",
            std::fs::read_dir(&qa)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = h.admin.clone();
    let mut qa_client =
        hotline_proto::v1::quality_service_client::QualityServiceClient::new(h.grpc.clone());
    let mut req = tonic::Request::new(pb::PlayRecordingRequest {
        id: rec.id,
        sample_id: 0,
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut stream = qa_client.play_recording(req).await.unwrap().into_inner();
    let mut bytes = Vec::new();
    while let Some(c) = stream.message().await.unwrap() {
        bytes.extend_from_slice(&c.data);
    }
    assert_eq!(bytes.len() as i64, rec.size);
    let wav = dir.join("played.wav");
    std::fs::write(&wav, &bytes).unwrap();
    let mut r = hound::WavReader::open(&wav).expect("a playable WAV");
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8000, 16),
        "{spec:?}"
    );
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let len = samples.len() as f64 / 8000.0;
    assert!(
        (len - bridged).abs() < 1.0,
        "recording {len:.2} s for a call bridged {bridged:.2} s"
    );
    // Not silence, and both parties in it: the caller's tone dominates some window of the
    // first 2 s; the last second (the caller silent) still carries the agent's speech, which
    // is not the tone.
    assert!(rms(&samples) > 500.0, "recording RMS {:.0}", rms(&samples));
    let windows: Vec<&[i16]> = samples.chunks(1280).collect();
    let best_tone = windows
        .iter()
        .take(16)
        .map(|w| tone_fraction(w, 440.0))
        .fold(0.0, f64::max);
    assert!(
        best_tone > 0.5,
        "caller's 440 Hz tone not found: {best_tone:.2}"
    );
    let tail = &samples[samples.len().saturating_sub(8000)..];
    eprintln!(
        "recording {len:.2} s, bridged {bridged:.2} s; RMS {:.0}, best 440 Hz share {best_tone:.2}, tail RMS {:.0}, tail 440 Hz share {:.2}",
        rms(&samples),
        rms(tail),
        tone_fraction(tail, 440.0)
    );
    assert!(
        rms(tail) > 200.0,
        "the agent's speech is missing: tail RMS {:.0}",
        rms(tail)
    );
    assert!(
        tone_fraction(tail, 440.0) < 0.5,
        "the tail is the caller's tone, not the agent"
    );
    h.stop().await;
}

/// JO8: a big customer's report made in the IVR is escalated by the core, and the caller is
/// offered to a senior agent, not to the junior who has been idle longer. (The customer class
/// comes from the test's directory in front of the IVR's backend: see `common::directory`
/// for why the real IVR path cannot tell a big customer yet.)
#[tokio::test]
async fn jo8_big_customer_from_the_ivr_goes_to_the_senior_not_the_longer_idle_junior() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    const BIG: &str = "01088886666";
    let dir = temp_dir("agent-jo8");
    let url = database_urls(&dir).await.remove(0);
    let mut h = Hotline::start_opts(
        &url,
        &dir,
        Options {
            acd: true,
            softphones: vec![
                ("j1".into(), SOFTPHONE_PASSWORD.into()),
                ("s1".into(), "softphone-pw-s1".into()),
            ],
            big_customers: vec![BIG.into()],
            ..Options::default()
        },
    )
    .await;
    let mut j1 = Agent::create(&h, "j1", "junior").await;
    let mut s1 = Agent::create(&h, "s1", "senior").await;
    // j1's softphone would ring unanswered if it were offered the call; it must not be.
    let j1_phone = softphone(&h, &dir, "j1", NO_ANSWER, false).await;
    let s1_phone = softphone(
        &h,
        &dir,
        "s1",
        &agents::answer("s1", AgentAudio::Echo),
        true,
    )
    .await;
    j1.set_presence("available").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    s1.set_presence("available").await;

    // The caller reports a fault on the big customer's line.
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("1").await.unwrap();
    c.press(&format!("{BIG}#")).await.unwrap();
    c.press("1").await.unwrap(); // the number is right
    c.press("1").await.unwrap(); // no dial tone
    let call_id = c.call_id().to_owned();
    wait_state(
        &h,
        &call_id,
        "connected",
        Some("s1"),
        Duration::from_secs(30),
    )
    .await;
    let entries = QueueServiceClient::new(h.grpc.clone())
        .list_queue(common::authed(&h.admin, pb::ListQueueRequest {}))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let e = entries.iter().find(|e| e.call_id == call_id).unwrap();
    assert!(e.senior, "queued as a senior call: {e:?}");
    let tickets = h.tickets_on(BIG).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    let t = &tickets[0];
    assert_eq!(
        (
            t.status.as_str(),
            t.channel.as_str(),
            t.contact_number.as_str()
        ),
        ("escalated", "ivr", "13800138000")
    );
    assert_eq!(t.customer.as_ref().map(|c| c.class.as_str()), Some("big"));

    c.speak(Duration::from_millis(300)).await.unwrap();
    c.hang_up().await.unwrap();
    c.close().await;
    let s = h.next_call().await;
    assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
    assert!(
        s.played.join(" ").contains("report_to_agent"),
        "the caller heard that an agent takes the report: {:?}",
        s.played
    );
    finished(s1_phone, &dir, "s1's softphone").await;
    wait_log(
        &h,
        &call_id,
        "COMPLETECALLER",
        Some("s1"),
        Duration::from_secs(10),
    )
    .await;
    let rows = agents::queue_log(&h).await;
    assert!(
        !rows.iter().any(|r| r.agent == "j1"),
        "j1 was never offered the call: {rows:#?}"
    );
    let j1_msgs = agents::messages(&agents::messages_file(&dir, "j1"));
    assert!(
        !j1_msgs.iter().any(|m| m.is_request("INVITE")),
        "j1's softphone rang: {j1_msgs:#?}"
    );
    drop(j1_phone);
    h.stop().await;
}

/// QA1: recordings an earlier run left in the spool (the core was down) are uploaded by the
/// start-up sweep and leave the spool; one the core refuses (not a WAV) stays, and a WAV
/// without its meta file is not touched. On SQLite and PostgreSQL.
#[tokio::test]
async fn qa1_spooled_recordings_are_uploaded_at_start_and_refused_ones_stay() {
    let dir = temp_dir("agent-qa-sweep");
    for url in database_urls(&dir).await {
        let h = Hotline::start_opts(&url, &dir, Options::default()).await;
        let spool = dir.join(format!("spool-{}", url.len()));
        std::fs::create_dir_all(&spool).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let good = spool.join("left-1.wav");
        let mut w = hound::WavWriter::create(&good, spec).unwrap();
        for i in 0..16_000 {
            w.write_sample(((i % 40) as i16 - 20) * 500).unwrap();
        }
        w.finalize().unwrap();
        let info = |call: &str| hotline_calls::qa_upload::RecordingInfo {
            call_id: call.into(),
            agent_id: AGENT_ID.into(),
            started_at_ms: 1_796_083_200_000,
        };
        info("left-1@127.0.0.1").write_beside(&good).unwrap();
        let bad = spool.join("left-2.wav");
        std::fs::write(&bad, b"RIFF but not a wave").unwrap();
        info("left-2@127.0.0.1").write_beside(&bad).unwrap();
        let orphan = spool.join("recording-now.wav");
        std::fs::write(&orphan, b"being written").unwrap();

        let queue = hotline_calls::GrpcQueue::connect_lazy(
            &h.grpc_uri,
            common::IVR_ID,
            common::IVR_PASSWORD,
        )
        .unwrap();
        assert_eq!(queue.sweep_recordings(&spool).await, (1, 1), "{url}");
        let store = &h.core.as_ref().unwrap().core.desk.store;
        let rec = store
            .recording_by_call("left-1@127.0.0.1")
            .await
            .unwrap()
            .expect("uploaded");
        assert_eq!((rec.agent_id.as_str(), rec.duration_ms), (AGENT_ID, 2000));
        assert!(
            store
                .recording_by_call("left-2@127.0.0.1")
                .await
                .unwrap()
                .is_none()
        );
        let mut left: Vec<_> = std::fs::read_dir(&spool)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["left-2.wav", "left-2.wav.meta", "recording-now.wav"],
            "{url}"
        );
        // a second sweep: the uploaded one is not sent again, the refused one still refused
        assert_eq!(queue.sweep_recordings(&spool).await, (0, 1));
        h.stop().await;
    }
}
