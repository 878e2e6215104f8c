//! Interop with baresip 1.0 (headless) as an agent softphone: it REGISTERs with digest auth to
//! our registrar, then our UAC rings it (auto-answer), gets the 200, ACKs, and hangs up.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{AppMode, OUR_SDP, free_port, start};
use hotline_sip::digest::Algorithm;
use hotline_sip::endpoint::{EndReason, Event, OutgoingCall};

const BARESIP: &str = "/usr/bin/baresip";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_and_answers_our_call() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Baresip) {
        return;
    }
    let ours = start(AppMode::Answer, |cfg| {
        cfg.registrar.credentials = Some([("alice".to_string(), "secret".to_string())].into());
        // baresip 1.0 (libre) fails the whole REGISTER with ENOSYS when any challenge uses
        // SHA-256, whatever the order: offer MD5 only to it.
        cfg.registrar.algorithms = vec![Algorithm::Md5];
    })
    .await;
    let dir = std::env::temp_dir().join(format!("baresip-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let sip_port = hotline_testkit::baresip_sip_port();
    let wav = dir.join("silence.wav");
    write_silence_wav(&wav);
    std::fs::write(
        dir.join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nmodule_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule account.so\n\
             audio_source aufile,{wav}\naudio_player aufile,/dev/null\naudio_alert aufile,/dev/null\n\
             rtp_ports 30000-30100\n",
            wav = wav.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("accounts"),
        format!(
            "<sip:alice@{addr}>;auth_pass=secret;regint=60;answermode=auto;audio_codecs=pcmu,pcma\n",
            addr = ours.addr
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(BARESIP)
        .args(["-f", &dir.display().to_string(), "-t", "25"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn baresip");

    let mut contact = None;
    for _ in 0..100 {
        if let Some(c) = ours
            .handle
            .bindings("alice")
            .await
            .unwrap()
            .into_iter()
            .next()
        {
            contact = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(contact) = contact else {
        let _ = child.start_kill();
        let out = child.wait_with_output().await.unwrap();
        panic!(
            "baresip did not register: {:?}\n{}\n{}",
            ours.events(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let call = ours
        .handle
        .invite(OutgoingCall {
            target: contact.uri.clone(),
            dest: contact.source,
            transport: contact.transport,
            from: format!("sip:hotline@{}", ours.addr),
            to: format!("sip:alice@{}", ours.addr),
            sdp: Bytes::from_static(OUR_SDP),
            ring_timeout: Some(Duration::from_secs(15)),
            auth: None,
        })
        .await
        .unwrap();
    let mut answered = false;
    for _ in 0..100 {
        if ours.count(|e| matches!(e, Event::Answered { .. })) > 0 {
            answered = true;
            break;
        }
        if ours.count(|e| matches!(e, Event::Failed { .. } | Event::TimedOut { .. })) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !answered {
        let _ = child.start_kill();
        let out = child.wait_with_output().await.unwrap();
        panic!(
            "baresip did not answer: {:?}\n{}",
            ours.events(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let sdp = ours.events().into_iter().find_map(|e| match e {
        Event::Answered { sdp, .. } => sdp,
        _ => None,
    });
    assert!(
        sdp.is_some_and(|s| s.windows(8).any(|w| w == b"m=audio ")),
        "answer carries SDP"
    );
    ours.handle.hangup(&call).await.unwrap();
    let mut ended = false;
    for _ in 0..50 {
        if ours.count(|e| {
            *e == Event::CallEnded {
                call: call.clone(),
                reason: EndReason::LocalBye,
            }
        }) > 0
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ended, "{:?}", ours.events());
    ours.stop().await;
}

/// One second of 8 kHz mono 16-bit silence.
fn write_silence_wav(path: &std::path::Path) {
    let samples = 8000u32;
    let data_len = samples * 2;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.resize(w.len() + data_len as usize, 0);
    std::fs::write(path, w).unwrap();
}
