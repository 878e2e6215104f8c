//! Whole sessions over an in-memory duplex: header block in, the IVR's flow against a fake
//! core, script dispatch, the header deadline and server shutdown.

use std::time::Duration;

use hotline_ivr::testing::FakeBackend;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};

use super::*;
use crate::config::{PromptMap, ReadBack, RecordingPaths, Sound};
use crate::stats::Turnaround;

fn context(backend: Arc<FakeBackend>) -> Arc<AgiContext> {
    let sounds = hotline_ivr::prompts::USED.iter().map(|id| {
        (
            (*id).to_owned(),
            Sound {
                name: format!("hotline/{id}"),
                length: Duration::from_millis(500),
            },
        )
    });
    Arc::new(AgiContext {
        backend,
        ivr: Arc::new(IvrConfig::default()),
        queue: None,
        channel: ChannelSettings {
            prompts: Arc::new(PromptMap::from_entries(sounds)),
            command_timeout: Duration::from_secs(2),
            read_back: ReadBack::Prompts,
            recordings: RecordingPaths {
                local_dir: std::env::temp_dir(),
                asterisk_dir: std::env::temp_dir(),
            },
            record_format: "wav".into(),
            record_beep: false,
            recording_wait: Duration::from_millis(100),
            turnaround: Arc::new(Turnaround::default()),
        },
        language: "zh".into(),
        header_timeout: Duration::from_secs(3),
        seq: Default::default(),
    })
}

const HEADER: &str = "agi_network: yes\nagi_network_script: hotline\nagi_channel: PJSIP/t-1\n\
agi_language: zh\nagi_uniqueid: 1733.7\nagi_callerid: 13800138000\nagi_calleridname: unknown\n\n";

/// Plays Asterisk: answers each command, with `keys` for GET DATA by sound; returns the
/// commands read.
async fn asterisk(io: DuplexStream, header: &str, keys: &[(&str, &str)]) -> Vec<String> {
    let (r, mut w) = tokio::io::split(io);
    let mut r = BufReader::new(r);
    w.write_all(header.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut line = String::new();
    while r.read_line(&mut line).await.unwrap_or(0) > 0 {
        let cmd = line.trim_end().to_owned();
        line.clear();
        let reply = if let Some(rest) = cmd.strip_prefix("GET DATA ") {
            let file = rest.split(' ').next().unwrap_or("");
            match keys.iter().find(|(f, _)| *f == file) {
                Some((_, k)) => format!("200 result={k}\n"),
                None => "200 result= (timeout)\n".to_owned(),
            }
        } else if cmd.starts_with("STREAM FILE") {
            "200 result=0 endpos=4000\n".to_owned()
        } else {
            "200 result=1\n".to_owned()
        };
        let hangup = cmd == "HANGUP";
        seen.push(cmd);
        if w.write_all(reply.as_bytes()).await.is_err() || hangup {
            break;
        }
    }
    seen
}

#[tokio::test]
async fn a_fault_report_over_a_whole_session_reaches_the_core() {
    let backend = Arc::new(FakeBackend::new());
    let ctx = context(backend.clone());
    let (ours, theirs) = tokio::io::duplex(16 * 1024);
    let peer = tokio::spawn(async move {
        asterisk(
            theirs,
            HEADER,
            &[
                ("hotline/main_menu", "1"),
                ("hotline/enter_number", "01066554433"),
                ("hotline/confirm_number", "1"),
                ("hotline/fault_type_menu", "5"),
            ],
        )
        .await
    });
    run_session(ours, "test".into(), ctx, CancellationToken::new()).await;
    let seen = peer.await.unwrap();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("ANSWER"),
        "agi_language zh: no switch"
    );
    assert_eq!(seen.last().map(String::as_str), Some("HANGUP"));
    let reports = backend.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].faulty_number, "01066554433");
    assert_eq!(reports[0].caller_id, "13800138000");
    assert_eq!(reports[0].call_id, "1733.7");
    assert_eq!(reports[0].fault_type, hotline_ivr::FaultType::Drops);
}

#[tokio::test]
async fn an_unknown_script_is_told_and_hung_up() {
    let ctx = context(Arc::new(FakeBackend::new()));
    let (ours, theirs) = tokio::io::duplex(4096);
    let header = HEADER.replace(
        "agi_network_script: hotline",
        "agi_network_script: billing?x=1",
    );
    let peer = tokio::spawn(async move { asterisk(theirs, &header, &[]).await });
    run_session(ours, "test".into(), ctx, CancellationToken::new()).await;
    let seen = peer.await.unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].starts_with("VERBOSE \"hotline: unknown script \\\"billing\\\""),
        "{seen:?}"
    );
    assert_eq!(seen[1], "HANGUP");
}

#[tokio::test(start_paused = true)]
async fn a_header_that_never_ends_times_out() {
    let ctx = context(Arc::new(FakeBackend::new()));
    let (ours, mut theirs) = tokio::io::duplex(4096);
    theirs
        .write_all(b"agi_network: yes\nagi_channel: x\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    run_session(ours, "test".into(), ctx, CancellationToken::new()).await;
    assert_eq!(started.elapsed().as_secs(), 3, "the header deadline");
    let mut rest = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut rest).await;
    assert!(
        rest.is_empty(),
        "nothing is sent to a peer without a header"
    );
}

#[tokio::test]
async fn shutdown_mid_call_hangs_up_the_caller() {
    let ctx = context(Arc::new(FakeBackend::new()));
    let (ours, theirs) = tokio::io::duplex(4096);
    let token = CancellationToken::new();
    // Asterisk that never answers the first prompt: the session waits until shutdown.
    let peer = tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(theirs);
        let mut r = BufReader::new(r);
        w.write_all(HEADER.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut line = String::new();
        while r.read_line(&mut line).await.unwrap_or(0) > 0 {
            let cmd = line.trim_end().to_owned();
            line.clear();
            if cmd == "ANSWER" || cmd == "HANGUP" {
                w.write_all(b"200 result=0\n").await.unwrap();
            }
            let hangup = cmd == "HANGUP";
            seen.push(cmd);
            if hangup {
                break;
            }
        }
        seen
    });
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        t.cancel();
    });
    tokio::time::timeout(
        Duration::from_secs(5),
        run_session(ours, "test".into(), ctx, token),
    )
    .await
    .expect("the session ends on shutdown");
    let seen = peer.await.unwrap();
    assert_eq!(seen.last().map(String::as_str), Some("HANGUP"), "{seen:?}");
}
