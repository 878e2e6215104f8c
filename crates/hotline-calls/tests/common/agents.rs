//! Agents for the ACD tests: the agent in the core (created, logged in, presence) and its
//! softphone, a sipp UAS on one port registered (digest, the credentials the call server was
//! started with) by another sipp. The UAS scenarios: ring and never answer (then CANCEL),
//! or answer (echoing the caller's RTP, or playing sipp's G.711 A-law sample) until our BYE.
//! The UAS logs every SIP message with its time (`-trace_msg`), read by [`messages`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hotline_domain::Timestamp;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::queue_service_client::QueueServiceClient;
use hotline_store::QueueLogRow;
use tonic::transport::Channel;

use super::sipp::{self, free_port};
use super::{Hotline, authed};

/// REGISTER with digest (sipp's `[authentication]` from `-au`/`-ap`), Contact = the UAS.
pub const REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent softphone registers">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]r[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[service]@127.0.0.1:UAS_PORT>
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=[pid]r[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[service]@127.0.0.1:UAS_PORT>
      [authentication]
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#;

/// Rings (180) and never answers; takes the CANCEL (200, 487, ACK).
pub const NO_ANSWER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent softphone rings and is never answered">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:AGENT@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$invite_cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"#;

/// What an answering softphone sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAudio {
    /// PCMU; with sipp's `-rtp_echo` it sends back what it hears.
    Echo,
    /// PCMA: sipp's `g711a.pcap` sample (about 6 s of speech), started right after the ACK.
    Speech,
}

/// sipp's G.711 A-law speech sample.
pub const G711A_PCAP: &str = "/usr/share/sip-tester/g711a.pcap";

/// Rings 0.5 s, answers, waits for our BYE.
pub fn answer(agent: &str, audio: AgentAudio) -> String {
    let (codec, play) = match audio {
        AgentAudio::Echo => ("0 101\n      a=rtpmap:0 PCMU/8000", String::new()),
        AgentAudio::Speech => (
            "8 101\n      a=rtpmap:8 PCMA/8000",
            format!("  <nop><action><exec play_pcap_audio=\"{G711A_PCAP}\"/></action></nop>\n"),
        ),
    };
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="agent softphone answers">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{agent}@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{agent}@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP {codec}
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
{play}  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>
"#
    )
}

/// sipp with a scenario written to `dir/name`, one call, 50 s timeout.
pub fn sipp_cmd(dir: &Path, name: &str, xml: &str, args: &[&str]) -> tokio::process::Child {
    let file = dir.join(name);
    std::fs::write(&file, xml).unwrap();
    tokio::process::Command::new(sipp::SIPP)
        .args(["-sf", &file.to_string_lossy(), "-m", "1"])
        .args([
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-timeout",
            "50s",
            "-timeout_error",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp")
}

/// An agent in the core, signed in.
pub struct Agent {
    pub id: String,
    pub client: AgentServiceClient<Channel>,
    pub token: String,
}

impl Agent {
    /// Creates `id` with `role` (junior | senior), logs in and sets it not ready.
    pub async fn create(h: &Hotline, id: &str, role: &str) -> Agent {
        let mut client = AgentServiceClient::new(h.grpc.clone());
        let password = format!("{id}-desk-pw-1");
        client
            .create_agent(authed(
                &h.admin,
                pb::CreateAgentRequest {
                    agent_id: id.into(),
                    name: format!("坐席 {id}"),
                    role: role.into(),
                    password: password.clone(),
                },
            ))
            .await
            .unwrap();
        let token = client
            .login(pb::LoginRequest {
                agent_id: id.into(),
                password,
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        let mut a = Agent {
            id: id.into(),
            client,
            token,
        };
        a.set_presence("not_ready").await;
        a
    }

    /// available | not_ready | logged_out.
    pub async fn set_presence(&mut self, presence: &str) {
        self.client
            .set_presence(authed(
                &self.token,
                pb::SetPresenceRequest {
                    presence: presence.into(),
                },
            ))
            .await
            .unwrap();
    }
}

/// Where agent `id`'s softphone logs its SIP messages.
pub fn messages_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-messages.log"))
}

/// Agent `id`'s softphone: a sipp UAS running `scenario` (its media port echoing with
/// `-rtp_echo` when `echo`), registered with the password the call server knows for `id`.
/// Returns the UAS (it ends when its scenario does).
pub async fn softphone(
    h: &Hotline,
    dir: &Path,
    id: &str,
    scenario: &str,
    echo: bool,
) -> tokio::process::Child {
    let password = h
        .softphones
        .iter()
        .find(|(u, _)| u == id)
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| panic!("no softphone credentials for {id} in the harness"));
    let uas_port = free_port().to_string();
    let media_port = hotline_testkit::sipp_media_port().to_string();
    let log = messages_file(dir, id);
    let mut args = vec![
        "-p",
        &uas_port,
        "-mp",
        &media_port,
        "-trace_msg",
        "-message_file",
        log.to_str().unwrap(),
    ];
    if echo {
        args.push("-rtp_echo");
    }
    let uas = sipp_cmd(
        dir,
        &format!("{id}-uas.xml"),
        &scenario.replace("AGENT", id),
        &args,
    );
    let sip = h.sip.to_string();
    let reg = sipp_cmd(
        dir,
        &format!("{id}-register.xml"),
        &REGISTER.replace("UAS_PORT", &uas_port),
        &[
            &sip,
            "-s",
            id,
            "-au",
            id,
            "-ap",
            &password,
            "-p",
            &free_port().to_string(),
        ],
    );
    let reg = reg.wait_with_output().await.unwrap();
    assert!(
        reg.status.success(),
        "REGISTER of {id}: {}",
        sipp::describe(&reg, dir)
    );
    uas
}

/// Waits (at most 20 s) for a sipp to end and asserts it ended well.
pub async fn finished(uas: tokio::process::Child, dir: &Path, what: &str) {
    let out = tokio::time::timeout(Duration::from_secs(20), uas.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: sipp did not end"))
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        sipp::describe(&out, dir)
    );
}

/// One SIP message in a sipp message log.
#[derive(Debug, Clone)]
pub struct Message {
    /// Wall-clock seconds since the Unix epoch (sipp's local time stamp, UTC here).
    pub at: f64,
    pub received: bool,
    /// The request or status line.
    pub first_line: String,
}

impl Message {
    pub fn is_request(&self, method: &str) -> bool {
        self.first_line.starts_with(&format!("{method} "))
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The messages of a sipp `-trace_msg` log: blocks opening with
/// `----...---- YYYY-MM-DD HH:MM:SS.ffffff`, then `UDP message received|sent ...`, a blank
/// line and the message.
pub fn messages(path: &Path) -> Vec<Message> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(stamp) = line
            .strip_prefix("-----")
            .map(|s| s.trim_start_matches('-').trim())
        else {
            continue;
        };
        let Some((date, time)) = stamp.split_once([' ', '\t']) else {
            continue;
        };
        let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
        let t: Vec<f64> = time
            .trim()
            .split(':')
            .filter_map(|x| x.parse().ok())
            .collect();
        if d.len() != 3 || t.len() != 3 {
            continue;
        }
        let at = days_from_civil(d[0], d[1], d[2]) as f64 * 86_400.0
            + t[0] * 3600.0
            + t[1] * 60.0
            + t[2];
        let dir_line = lines.next().unwrap_or_default();
        let first_line = lines
            .by_ref()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned();
        out.push(Message {
            at,
            received: dir_line.contains("received"),
            first_line,
        });
    }
    out
}

/// The time agent `id`'s softphone received the first `method` request.
pub fn received_at(dir: &Path, id: &str, method: &str) -> f64 {
    let all = messages(&messages_file(dir, id));
    all.iter()
        .find(|m| m.received && m.is_request(method))
        .unwrap_or_else(|| panic!("{id}'s softphone got no {method}: {all:#?}"))
        .at
}

/// Polls the core's queue list until the call is in `state` (with `agent`, if given; at
/// most `within`).
pub async fn wait_state(
    h: &Hotline,
    call_id: &str,
    state: &str,
    agent: Option<&str>,
    within: Duration,
) {
    let mut queue = QueueServiceClient::new(h.grpc.clone());
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let list = queue
            .list_queue(authed(&h.admin, pb::ListQueueRequest {}))
            .await
            .unwrap()
            .into_inner();
        if list.entries.iter().any(|e| {
            e.call_id == call_id && e.state == state && agent.is_none_or(|a| e.agent_id == a)
        }) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {state} (agent {agent:?}): {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The core's queue metrics (last 24 h).
pub async fn metrics(h: &Hotline) -> pb::QueueMetrics {
    QueueServiceClient::new(h.grpc.clone())
        .get_queue_metrics(authed(&h.admin, pb::GetQueueMetricsRequest::default()))
        .await
        .unwrap()
        .into_inner()
}

/// The core's stored queue log.
pub async fn queue_log(h: &Hotline) -> Vec<QueueLogRow> {
    h.core
        .as_ref()
        .expect("core running")
        .desk
        .store
        .queue_log_since(Timestamp(0), 10_000)
        .await
        .unwrap()
}

/// Waits (at most `within`) until the stored queue log has a row `event` for `call_id`
/// (and `agent`, if given); returns it.
pub async fn wait_log(
    h: &Hotline,
    call_id: &str,
    event: &str,
    agent: Option<&str>,
    within: Duration,
) -> QueueLogRow {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = queue_log(h).await;
        if let Some(r) = rows.iter().find(|r| {
            r.call_id == call_id && r.event == event && agent.is_none_or(|a| r.agent == a)
        }) {
            return r.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {event} for {call_id} (agent {agent:?}) in the queue log: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
