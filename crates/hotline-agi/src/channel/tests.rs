//! The channel against a scripted Asterisk over an in-memory duplex stream: each step is the
//! exact command line expected and the reply bytes Asterisk would write.

use super::*;
use crate::config::Sound;
use crate::proto::Decoder;
use hotline_ivr::prompts::id;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MENU: CollectSpec = CollectSpec {
    max_digits: 1,
    first_digit_timeout: Duration::from_secs(5),
    inter_digit_timeout: Duration::from_secs(3),
    terminators: String::new(),
};

fn number_spec() -> CollectSpec {
    CollectSpec {
        max_digits: 21,
        first_digit_timeout: Duration::from_secs(5),
        inter_digit_timeout: Duration::from_secs(3),
        terminators: "#".into(),
    }
}

fn settings(dir: &Path) -> ChannelSettings {
    let sounds = [
        id::WELCOME,
        id::MAIN_MENU,
        id::ENTER_NUMBER,
        id::SERVICE_ERROR,
        id::GOODBYE,
        id::DIGITS[0],
        id::DIGITS[1],
    ]
    .into_iter()
    .map(|i| {
        (
            i.to_owned(),
            Sound {
                name: format!("hotline/{i}"),
                length: Duration::from_secs(2),
            },
        )
    });
    ChannelSettings {
        prompts: Arc::new(PromptMap::from_entries(sounds)),
        command_timeout: Duration::from_secs(2),
        read_back: ReadBack::Prompts,
        recordings: RecordingPaths {
            local_dir: dir.to_owned(),
            asterisk_dir: "/var/spool/asterisk/hotline".into(),
        },
        record_format: "wav".into(),
        record_beep: false,
        recording_wait: Duration::from_millis(300),
        turnaround: Arc::new(Turnaround::default()),
    }
}

/// What the scripted Asterisk does after reading a command.
enum Step {
    /// Expect this line, write this reply (may hold several lines, or a HANGUP line).
    Reply(&'static str, &'static str),
    /// Expect this line, run this, then reply.
    Act(&'static str, Box<dyn FnOnce() + Send>, &'static str),
    /// Expect this line, then close the socket.
    Close(&'static str),
    /// Expect this line and never answer.
    Silent(&'static str),
}

type Peer = tokio::task::JoinHandle<Vec<String>>;

/// A channel over a duplex whose far end plays `steps`; the peer task returns the lines it
/// read, and fails on the first one that differs from the script.
fn scripted(dir: &Path, steps: Vec<Step>) -> (AgiChannel<tokio::io::DuplexStream>, Peer) {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let peer = tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(theirs);
        let mut r = BufReader::new(r);
        let mut seen = Vec::new();
        for step in steps {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            let line = line.trim_end_matches('\n').to_owned();
            seen.push(line.clone());
            let (want, reply) = match step {
                Step::Reply(want, reply) => (want, Some(reply)),
                Step::Act(want, act, reply) => {
                    act();
                    (want, Some(reply))
                }
                Step::Close(want) => (want, None),
                Step::Silent(want) => {
                    assert_eq!(line, want);
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return seen;
                }
            };
            assert_eq!(line, want, "command");
            match reply {
                Some(text) => w.write_all(text.as_bytes()).await.unwrap(),
                None => return seen,
            }
        }
        // The channel's end: whatever it still sends is collected.
        let mut rest = String::new();
        while r.read_line(&mut rest).await.unwrap_or(0) > 0 {
            seen.push(rest.trim_end().to_owned());
            rest.clear();
        }
        seen
    });
    let ch = AgiChannel::new(
        ours,
        Decoder::after_header(),
        "1733497200.42".into(),
        "13800138000".into(),
        settings(dir),
        CancellationToken::new(),
    );
    (ch, peer)
}

/// A scratch directory, removed when the test ends.
struct TmpDir(std::path::PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmp(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("hotline-agi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

#[tokio::test]
async fn menu_prompt_is_held_back_and_played_by_get_data() {
    let dir = tmp("menu");
    let (mut ch, peer) = scripted(
        &dir,
        vec![
            Step::Reply("ANSWER", "200 result=0\n"),
            Step::Reply(
                "STREAM FILE hotline/welcome 0123456789*#",
                "200 result=0 endpos=16000\n",
            ),
            Step::Reply("GET DATA hotline/main_menu 5000 1", "200 result=1\n"),
            Step::Reply("HANGUP", "200 result=1\n"),
        ],
    );
    ch.answer().await.unwrap();
    ch.answer().await.unwrap();
    assert_eq!(
        ch.play(&[id::WELCOME], true).await.unwrap(),
        PlayOutcome::Completed
    );
    assert_eq!(
        ch.play(&[id::MAIN_MENU], true).await.unwrap(),
        PlayOutcome::Completed
    );
    let got = ch.collect_digits(&MENU).await.unwrap();
    assert_eq!(
        got,
        Collected {
            digits: "1".into(),
            end: CollectEnd::MaxDigits
        }
    );
    ch.hangup().await.unwrap();
    ch.hangup().await.unwrap();
    drop(ch);
    assert_eq!(
        peer.await.unwrap().len(),
        4,
        "ANSWER and HANGUP went once each"
    );
}

#[tokio::test]
async fn a_key_during_a_prompt_barges_in_and_is_collected_first() {
    let dir = tmp("barge");
    let (mut ch, peer) = scripted(
        &dir,
        vec![
            // '2' is ASCII 50
            Step::Reply(
                "STREAM FILE hotline/welcome 0123456789*#",
                "200 result=50 endpos=3200\n",
            ),
        ],
    );
    let out = ch.play(&[id::WELCOME, id::MAIN_MENU], true).await.unwrap();
    assert_eq!(out, PlayOutcome::Interrupted('2'));
    let got = ch.collect_digits(&MENU).await.unwrap();
    assert_eq!(got.digits, "2", "from type-ahead, no command sent");
    drop(ch);
    assert_eq!(peer.await.unwrap().len(), 1);
}

#[tokio::test]
async fn numbers_keep_leading_zeros_and_timeouts_and_hash_alone_are_told_apart() {
    let dir = tmp("number");
    let (mut ch, _peer) = scripted(
        &dir,
        vec![
            Step::Reply(
                "GET DATA hotline/enter_number 5000 21",
                "200 result=01066554433\n",
            ),
            Step::Reply(
                "GET DATA hotline/enter_number 5000 21",
                "200 result= (timeout)\n",
            ),
            Step::Reply("GET DATA hotline/enter_number 5000 21", "200 result=\n"),
            Step::Reply(
                "GET DATA hotline/enter_number 5000 21",
                "200 result=057 (timeout)\n",
            ),
        ],
    );
    let ask = async |ch: &mut AgiChannel<_>| {
        ch.play(&[id::ENTER_NUMBER], true).await.unwrap();
        ch.collect_digits(&number_spec()).await.unwrap()
    };
    let c = ask(&mut ch).await;
    assert_eq!(
        (c.digits.as_str(), c.end),
        ("01066554433", CollectEnd::Terminator('#'))
    );
    let c = ask(&mut ch).await;
    assert_eq!((c.digits.as_str(), c.end), ("", CollectEnd::Timeout));
    let c = ask(&mut ch).await;
    assert_eq!(
        (c.digits.as_str(), c.end),
        ("", CollectEnd::Terminator('#')),
        "# alone = the caller's number"
    );
    let c = ask(&mut ch).await;
    assert_eq!((c.digits.as_str(), c.end), ("057", CollectEnd::Timeout));
}

#[tokio::test]
async fn without_a_held_prompt_keys_come_from_wait_for_digit() {
    let dir = tmp("wait");
    let (mut ch, _peer) = scripted(
        &dir,
        vec![
            Step::Reply("WAIT FOR DIGIT 5000", "200 result=48\n"),
            Step::Reply("WAIT FOR DIGIT 3000", "200 result=55\n"),
            Step::Reply("WAIT FOR DIGIT 3000", "200 result=35\n"),
            Step::Reply("WAIT FOR DIGIT 5000", "200 result=0\n"),
        ],
    );
    let c = ch.collect_digits(&number_spec()).await.unwrap();
    assert_eq!(
        (c.digits.as_str(), c.end),
        ("07", CollectEnd::Terminator('#'))
    );
    let c = ch.collect_digits(&MENU).await.unwrap();
    assert_eq!((c.digits.as_str(), c.end), ("", CollectEnd::Timeout));
}

#[tokio::test]
async fn read_back_with_say_digits_is_one_command() {
    let dir = tmp("say");
    let (ours, theirs) = tokio::io::duplex(4096);
    let mut s = settings(&dir);
    s.read_back = ReadBack::SayDigits;
    let mut ch = AgiChannel::new(
        ours,
        Decoder::after_header(),
        "c".into(),
        "".into(),
        s,
        CancellationToken::new(),
    );
    let peer = tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(theirs);
        let mut r = BufReader::new(r);
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        w.write_all(b"200 result=0\n").await.unwrap();
        line
    });
    ch.play(&[id::DIGITS[0], id::DIGITS[1], id::DIGITS[0]], false)
        .await
        .unwrap();
    assert_eq!(peer.await.unwrap(), "SAY DIGITS 010 \"\"\n");
}

#[tokio::test]
async fn a_hangup_line_ends_the_flow_and_only_cleanup_commands_follow() {
    let dir = tmp("sighup");
    let (mut ch, peer) = scripted(
        &dir,
        vec![
            Step::Reply(
                "STREAM FILE hotline/goodbye \"\"",
                "HANGUP\n200 result=-1 endpos=400\n",
            ),
            Step::Reply(
                "HANGUP",
                "511 Command Not Permitted on a dead channel or intercept routine\n",
            ),
        ],
    );
    assert_eq!(
        ch.play(&[id::GOODBYE], false).await,
        Err(ChannelError::Hangup)
    );
    assert_eq!(
        ch.play(&[id::GOODBYE], false).await,
        Err(ChannelError::Hangup)
    );
    assert_eq!(ch.collect_digits(&MENU).await, Err(ChannelError::Hangup));
    ch.hangup().await.unwrap();
    assert_eq!(ch.end_reason(), Some("caller hung up"));
    drop(ch);
    assert_eq!(
        peer.await.unwrap(),
        vec!["STREAM FILE hotline/goodbye \"\"", "HANGUP"]
    );
}

#[tokio::test]
async fn dead_channel_511_and_socket_close_are_hangups() {
    let dir = tmp("511");
    let (mut ch, _peer) = scripted(
        &dir,
        vec![Step::Reply(
            "WAIT FOR DIGIT 5000",
            "511 Command Not Permitted on a dead channel\n",
        )],
    );
    assert_eq!(ch.collect_digits(&MENU).await, Err(ChannelError::Hangup));
    let (mut ch, _peer) = scripted(&dir, vec![Step::Close("ANSWER")]);
    assert_eq!(ch.answer().await, Err(ChannelError::Hangup));
    assert_eq!(ch.end_reason(), Some("peer closed the connection"));
}

#[tokio::test]
async fn usage_block_and_unknown_command_are_failures_not_hangups() {
    let dir = tmp("520");
    let (mut ch, _peer) = scripted(
        &dir,
        vec![
            Step::Reply(
                "STREAM FILE hotline/goodbye \"\"",
                "520-Invalid command syntax.  Proper usage follows:\nUsage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n520 End of proper usage.\n",
            ),
            Step::Reply("ANSWER", "510 Invalid or unknown command\n"),
        ],
    );
    match ch.play(&[id::GOODBYE], false).await {
        Err(ChannelError::Failed(m)) => {
            assert!(m.contains("520") && m.contains("Usage: STREAM FILE"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    match ch.answer().await {
        Err(ChannelError::Failed(m)) => assert!(m.contains("510"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn garbage_reply_ends_the_session_with_the_reason() {
    let dir = tmp("garbage");
    let (mut ch, _peer) = scripted(&dir, vec![Step::Reply("ANSWER", "OK then\n")]);
    match ch.answer().await {
        Err(ChannelError::Failed(m)) => assert!(m.contains("not `NNN"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(ch.end_reason().unwrap().contains("OK then"));
    assert_eq!(
        ch.play(&[id::GOODBYE], false).await,
        Err(ChannelError::Hangup),
        "nothing more is sent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_answering_times_out() {
    let dir = tmp("silent");
    let (mut ch, _peer) = scripted(&dir, vec![Step::Silent("STREAM FILE hotline/welcome \"\"")]);
    let started = Instant::now();
    match ch.play(&[id::WELCOME], false).await {
        Err(ChannelError::Failed(m)) => assert!(m.contains("no reply to STREAM FILE"), "{m}"),
        other => panic!("{other:?}"),
    }
    // the prompt's 2 s plus the 2 s command timeout
    assert_eq!(started.elapsed().as_secs(), 4);
}

fn write_wav(path: &Path, samples: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..samples {
        w.write_sample(((i % 50) as i16 - 25) * 100).unwrap();
    }
    w.finalize().unwrap();
}

fn vm_spec() -> RecordSpec {
    RecordSpec {
        max_duration: Duration::from_secs(120),
        silence_end: Some(Duration::from_secs(5)),
        end_keys: "#".into(),
        min_duration: Duration::from_secs(2),
        number_entered: String::new(),
    }
}

#[tokio::test]
async fn record_file_in_the_shared_directory_is_checked_and_saved() {
    let dir = tmp("record");
    let wav = dir.join("1733497200.42.wav");
    let w = wav.clone();
    let (mut ch, _peer) = scripted(
        &dir,
        vec![Step::Act(
            "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 s=5",
            Box::new(move || write_wav(&w, 3 * 8000)),
            "200 result=35 (dtmf) endpos=24000\n",
        )],
    );
    let out = ch.record(&wav, &vm_spec()).await.unwrap();
    assert_eq!(
        out,
        RecordOutcome::Saved {
            path: wav.clone(),
            duration: Duration::from_secs(3),
            end: RecordEnd::Key('#')
        }
    );
}

#[tokio::test]
async fn short_recordings_are_discarded_and_a_hangup_keeps_the_message() {
    let dir = tmp("record-short");
    let wav = dir.join("1733497200.42.wav");
    let (w1, w2) = (wav.clone(), wav.clone());
    let (mut ch, _peer) = scripted(
        &dir,
        vec![
            Step::Act(
                "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 s=5",
                Box::new(move || write_wav(&w1, 8000)),
                "200 result=0 (timeout) endpos=8000\n",
            ),
            Step::Act(
                "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 s=5",
                Box::new(move || write_wav(&w2, 5 * 8000)),
                "HANGUP\n200 result=-1 (hangup) endpos=40000\n",
            ),
        ],
    );
    let out = ch.record(&wav, &vm_spec()).await.unwrap();
    assert_eq!(
        out,
        RecordOutcome::Discarded {
            duration: Duration::from_secs(1),
            end: RecordEnd::Silence
        }
    );
    assert!(!wav.exists(), "a discarded message leaves no file");
    let out = ch.record(&wav, &vm_spec()).await.unwrap();
    assert!(
        matches!(
            out,
            RecordOutcome::Saved {
                end: RecordEnd::Hangup,
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(
        ch.play(&[id::GOODBYE], false).await,
        Err(ChannelError::Hangup)
    );
}

#[tokio::test]
async fn empty_or_truncated_recordings_are_refused_and_the_caller_is_told() {
    let dir = tmp("record-bad");
    let wav = dir.join("1733497200.42.wav");
    let (w1, w2) = (wav.clone(), wav.clone());
    let (mut ch, peer) = scripted(
        &dir,
        vec![
            Step::Act(
                "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 s=5",
                Box::new(move || std::fs::write(&w1, b"").unwrap()),
                "200 result=0 (timeout) endpos=960000\n",
            ),
            Step::Reply(
                "STREAM FILE hotline/service_error \"\"",
                "200 result=0 endpos=100\n",
            ),
            Step::Act(
                "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 s=5",
                Box::new(move || {
                    write_wav(&w2, 4 * 8000);
                    let f = std::fs::OpenOptions::new().write(true).open(&w2).unwrap();
                    f.set_len(44 + 1000).unwrap();
                }),
                "200 result=0 (timeout) endpos=32000\n",
            ),
            Step::Reply(
                "STREAM FILE hotline/service_error \"\"",
                "200 result=0 endpos=100\n",
            ),
        ],
    );
    match ch.record(&wav, &vm_spec()).await {
        Err(ChannelError::Record { reason, .. }) => {
            assert!(reason.contains("empty (0 bytes)"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match ch.record(&wav, &vm_spec()).await {
        Err(ChannelError::Record { reason, .. }) => {
            assert!(reason.contains("truncated"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    drop(ch);
    let seen = peer.await.unwrap();
    assert_eq!(
        seen.iter().filter(|l| l.contains("service_error")).count(),
        2,
        "{seen:?}"
    );
}

#[tokio::test]
async fn turnaround_is_measured_from_reply_to_next_command() {
    let dir = tmp("turn");
    let (mut ch, _peer) = scripted(
        &dir,
        vec![
            Step::Reply("ANSWER", "200 result=0\n"),
            Step::Reply("WAIT FOR DIGIT 5000", "200 result=49\n"),
        ],
    );
    let t = ch.settings.turnaround.clone();
    ch.answer().await.unwrap();
    ch.collect_digits(&MENU).await.unwrap();
    assert_eq!(
        t.summary().count,
        1,
        "one gap: ANSWER's reply → WAIT FOR DIGIT"
    );
}
