//! Shared by the web desktop's tests: a core with the desktop on its HTTP listener, agents of
//! every desk role, a recorded voicemail.

#![allow(dead_code)]

use hotline_core::auth::Principal;
use hotline_core::desk::voicemail::Recording;
use hotline_domain::Role;
use hotline_testkit::{StartedCore, TestCore};

pub const PW: &str = "secret-pw-1";

/// Agents: j1 junior, s1 senior, x1 extractor, v1 surveyor, a1 admin (the supervisor).
pub fn desktop(core: TestCore) -> TestCore {
    core.with_config(|c| c.http_extension = Some(hotline_web::extension()))
        .with_named_agent("j1", "初级甲", Role::Junior, PW)
        .with_named_agent("s1", "高级乙", Role::Senior, PW)
        .with_named_agent("x1", "提取丙", Role::RecordingExtractor, PW)
        .with_named_agent("v1", "回访丁", Role::Surveyor, PW)
        .with_named_agent("t1", "录入戊", Role::TextEntry, PW)
        .with_named_agent("a1", "值班长", Role::Admin, PW)
}

pub fn base(core: &StartedCore) -> String {
    format!("http://{}", core.http_addr)
}

/// Writes a one-second 8 kHz WAV into the core's voicemail directory and registers it as the
/// IVR does; returns its id.
pub async fn voicemail(core: &StartedCore, call_id: &str) -> i64 {
    let file = format!("{call_id}.wav");
    let path = core.voicemail_dir.join(&file);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("wav");
    for i in 0..8000 {
        let s = ((i as f32) * 440.0 * std::f32::consts::TAU / 8000.0).sin();
        w.write_sample((s * 8000.0) as i16).expect("sample");
    }
    w.finalize().expect("wav written");
    let ivr = Principal {
        agent_id: "admin".into(),
        role: Role::Admin,
    };
    core.desk
        .mailbox(&core.voicemail_dir)
        .register(
            &ivr,
            Recording {
                call_id: call_id.into(),
                caller_id: "02166668888".into(),
                number_entered: "02155556666".into(),
                file_name: file,
                duration_ms: 1000,
            },
        )
        .await
        .expect("voicemail registered")
        .id
}
