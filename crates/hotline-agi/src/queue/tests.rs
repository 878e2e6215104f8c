//! The agent queue against a fake core and a scripted Asterisk over a duplex: NOANSWER
//! withdrawn by the core's own 15-second rule is not reported again, BUSY is reported at once,
//! an answer through the hook connects and the agent's hang-up ends the call.

use std::sync::Mutex as StdMutex;

use async_trait::async_trait;
use hotline_ivr::testing::FakeBackend;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::channel::ChannelSettings;
use crate::config::{PromptMap, ReadBack, RecordingPaths, Sound};
use crate::core_queue::QueueError;
use crate::proto::Decoder;
use crate::stats::Turnaround;

/// The core: instructions pushed by the test; what the session reported.
#[derive(Default)]
struct FakeCore {
    tx: StdMutex<Option<mpsc::Sender<Instruction>>>,
    first: StdMutex<Vec<Instruction>>,
    reports: StdMutex<Vec<(String, bool)>>,
    ended: StdMutex<Vec<bool>>,
    /// After a FAILED report, offer this agent next.
    next_after_failed: StdMutex<Option<String>>,
}

fn offer(agent: &str) -> Instruction {
    Instruction::Offer {
        agent_id: agent.into(),
        sip_user: agent.into(),
        ring_timeout: Duration::from_secs(15),
    }
}

#[async_trait]
impl QueueCore for FakeCore {
    async fn join(&self, _req: JoinRequest) -> Result<mpsc::Receiver<Instruction>, QueueError> {
        let (tx, rx) = mpsc::channel(16);
        let first: Vec<Instruction> = self.first.lock().unwrap().drain(..).collect();
        for i in first {
            tx.try_send(i).unwrap();
        }
        *self.tx.lock().unwrap() = Some(tx);
        Ok(rx)
    }
    async fn report_offer(&self, _c: &str, agent: &str, answered: bool) -> Result<(), QueueError> {
        self.reports
            .lock()
            .unwrap()
            .push((agent.to_owned(), answered));
        if !answered && let Some(next) = self.next_after_failed.lock().unwrap().take() {
            let tx = self.tx.lock().unwrap().clone().unwrap();
            tx.try_send(offer(&next)).unwrap();
        }
        Ok(())
    }
    async fn end_call(&self, _c: &str, by_agent: bool) {
        self.ended.lock().unwrap().push(by_agent);
    }
    async fn faulty_number(&self, _t: i64) -> String {
        String::new()
    }
}

fn settings() -> ChannelSettings {
    let sounds = hotline_ivr::prompts::USED.iter().map(|id| {
        let s = Sound {
            name: format!("hotline/{id}"),
            length: Duration::from_millis(100),
        };
        ((*id).to_owned(), s)
    });
    ChannelSettings {
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
    }
}

fn queue(core: Arc<FakeCore>) -> Arc<AgiQueue> {
    Arc::new(AgiQueue {
        core,
        hooks: Arc::new(AnswerHooks::default()),
        settings: QueueSettings {
            dial: "PJSIP/{agent}".into(),
            dial_options: "gU(hotline-answered^{uniqueid})".into(),
            hold_interval: Duration::from_secs(30),
            max_call: Duration::from_secs(60),
        },
    })
}

fn channel(io: DuplexStream) -> AgiChannel<DuplexStream> {
    AgiChannel::new(
        io,
        Decoder::after_header(),
        "c1".into(),
        "13800138000".into(),
        settings(),
        CancellationToken::new(),
    )
}

/// What Asterisk does during one `Dial` before it returns.
enum During {
    /// The core acts while the phone rings (its 15-second timer).
    Core(Vec<Instruction>),
    /// The agent answers: the hook session runs, then the call is bridged until the agent
    /// hangs up.
    Answer(tokio::sync::oneshot::Sender<tokio::sync::oneshot::Sender<()>>),
}

/// Asterisk: each `EXEC Dial` gets the next status after its `During`; everything else
/// succeeds. Returns the commands.
async fn asterisk(
    io: DuplexStream,
    core: Arc<FakeCore>,
    dials: Vec<(&'static str, During)>,
) -> Vec<String> {
    let (r, mut w) = tokio::io::split(io);
    let mut r = BufReader::new(r);
    let mut seen = Vec::new();
    let mut dials = dials.into_iter();
    let mut status = String::new();
    let mut line = String::new();
    while r.read_line(&mut line).await.unwrap_or(0) > 0 {
        let cmd = line.trim_end().to_owned();
        line.clear();
        let reply = if cmd.starts_with("EXEC Dial") {
            let (st, during) = dials.next().expect("an expected Dial");
            status = st.to_owned();
            match during {
                During::Core(is) => {
                    let tx = core.tx.lock().unwrap().clone().unwrap();
                    for i in is {
                        tx.try_send(i).unwrap();
                    }
                }
                During::Answer(hook) => {
                    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                    hook.send(done_tx).unwrap();
                    done_rx.await.unwrap();
                }
            }
            "200 result=0\n".to_owned()
        } else if cmd == "GET VARIABLE DIALSTATUS" {
            format!("200 result=1 ({status})\n")
        } else {
            "200 result=0\n".to_owned()
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
async fn noanswer_withdrawn_by_the_core_is_not_reported_busy_is_and_the_hook_connects() {
    let core = Arc::new(FakeCore::default());
    // j1 rings out: meanwhile the core withdraws it (15 s rule) and offers j2; j2 is BUSY
    // (reported: the core offers j3 at once); j3 answers through the hook.
    *core.first.lock().unwrap() = vec![Instruction::Position(1), offer("j1")];
    *core.next_after_failed.lock().unwrap() = Some("j3".into());
    let q = queue(core.clone());
    let (ours, theirs) = tokio::io::duplex(16 * 1024);
    let (hook_tx, hook_rx) = tokio::sync::oneshot::channel();
    let withdraw = vec![
        Instruction::CancelOffer {
            agent_id: "j1".into(),
            no_answer: true,
        },
        offer("j2"),
    ];
    let peer = tokio::spawn(asterisk(
        theirs,
        core.clone(),
        vec![
            ("NOANSWER", During::Core(withdraw)),
            ("BUSY", During::Core(vec![])),
            ("ANSWER", During::Answer(hook_tx)),
        ],
    ));
    // the answer hook: a second session, on the agent's channel
    let hq = q.clone();
    let hook = tokio::spawn(async move {
        let done = hook_rx.await.unwrap();
        let (a, mut b) = tokio::io::duplex(4096);
        let mut hc = channel(a);
        hq.answered_hook(&mut hc, "c1").await;
        drop(hc);
        let mut v = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut b, &mut v).await;
        done.send(()).unwrap();
        String::from_utf8_lossy(&v).into_owned()
    });
    let mut ch = channel(ours);
    let backend = FakeBackend::new();
    let ivr = IvrConfig::default();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        q.take(&mut ch, &backend, &ivr, false, None),
    )
    .await
    .expect("the queue loop ends")
    .unwrap();
    assert_eq!(out, FlowOutcome::Done, "the agent hung up first");
    hotline_ivr::Channel::hangup(&mut ch).await.unwrap();
    drop(ch);
    let seen = peer.await.unwrap();
    let dials: Vec<&String> = seen.iter().filter(|c| c.starts_with("EXEC Dial")).collect();
    assert_eq!(dials.len(), 3, "{seen:?}");
    assert!(
        dials[0].starts_with("EXEC Dial PJSIP/j1,16,gU(hotline-answered^c1)"),
        "{}",
        dials[0]
    );
    assert!(dials[1].contains("PJSIP/j2,") && dials[2].contains("PJSIP/j3,"));
    assert_eq!(
        hook.await.unwrap(),
        "",
        "an accepted answer sets no GOSUB_RESULT"
    );
    assert_eq!(
        *core.reports.lock().unwrap(),
        vec![("j2".to_owned(), false), ("j3".to_owned(), true)],
        "NOANSWER of j1 was the core's own withdrawal: not reported again"
    );
    assert_eq!(
        *core.ended.lock().unwrap(),
        vec![true],
        "EndCall by the agent"
    );
}

#[tokio::test]
async fn a_hook_for_a_call_not_ringing_is_refused_with_continue() {
    let q = queue(Arc::new(FakeCore::default()));
    let (a, b) = tokio::io::duplex(4096);
    let peer = tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(b);
        let mut r = BufReader::new(r);
        let mut seen = Vec::new();
        let mut line = String::new();
        while r.read_line(&mut line).await.unwrap_or(0) > 0 {
            seen.push(line.trim_end().to_owned());
            line.clear();
            w.write_all(b"200 result=1\n").await.unwrap();
        }
        seen
    });
    let mut hc = channel(a);
    q.answered_hook(&mut hc, "nobody").await;
    drop(hc);
    let seen = peer.await.unwrap();
    assert_eq!(seen[0], "SET VARIABLE GOSUB_RESULT CONTINUE");
}
