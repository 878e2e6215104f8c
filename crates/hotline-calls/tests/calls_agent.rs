//! The agent side (JO2, issue 5) through the core's ACD: a caller presses 0, joins the queue
//! (`GrpcQueue`), hears the hold announcement with the position, the agent's softphone (a
//! sipp that registered with digest authentication, then answers as a UAS) is rung by our
//! UAC, answers, the legs are bridged, and the caller's hang-up ends the agent's leg (BYE)
//! and the call in the core's queue log.

mod common;

use std::time::Duration;

use common::sipp::{self, free_port};
use common::{AGENT_ID, Hotline, SOFTPHONE_PASSWORD, authed, database_urls, temp_dir};
use hotline_calls::dialer::Caller;
use hotline_ivr::FlowOutcome;
use hotline_proto::v1 as pb;
use hotline_proto::v1::agent_service_client::AgentServiceClient;
use hotline_proto::v1::queue_service_client::QueueServiceClient;

const REGISTER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
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

const NO_ANSWER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
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
      Contact: <sip:j1@[local_ip]:[local_port]>
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

const ANSWER: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
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
      Contact: <sip:j1@[local_ip]:[local_port]>
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
      Contact: <sip:j1@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
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
"#;

async fn sipp_cmd(
    dir: &std::path::Path,
    name: &str,
    xml: &str,
    args: &[&str],
) -> tokio::process::Child {
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
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp")
}

/// Agent j1 in the core (logged in, not ready yet) and its softphone: a sipp UAS running
/// `scenario` on one port, registered (digest) by another sipp.
async fn agent_with_softphone(
    h: &Hotline,
    dir: &std::path::Path,
    scenario: &str,
) -> (
    AgentServiceClient<tonic::transport::Channel>,
    String,
    tokio::process::Child,
) {
    // The agent: in the core (logged in, available) ...
    let mut agents = AgentServiceClient::new(h.grpc.clone());
    agents
        .create_agent(authed(
            &h.admin,
            pb::CreateAgentRequest {
                agent_id: AGENT_ID.into(),
                name: "王小明".into(),
                role: "junior".into(),
                password: "junior-pw-1".into(),
            },
        ))
        .await
        .unwrap();
    let token = agents
        .login(pb::LoginRequest {
            agent_id: AGENT_ID.into(),
            password: "junior-pw-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    agents
        .set_presence(authed(
            &token,
            pb::SetPresenceRequest {
                presence: "not_ready".into(),
            },
        ))
        .await
        .unwrap();
    // ... and its softphone: a sipp UAS on one port, registered (digest) by another sipp.
    let uas_port = free_port().to_string();
    let uas = sipp_cmd(
        dir,
        "agent-answer.xml",
        scenario,
        &[
            "-p",
            &uas_port,
            "-mp",
            &free_port().to_string(),
            "-rtp_echo",
        ],
    )
    .await;
    let reg = sipp_cmd(
        dir,
        "agent-register.xml",
        &REGISTER.replace("UAS_PORT", &uas_port),
        &[
            &h.sip.to_string(),
            "-s",
            AGENT_ID,
            "-au",
            AGENT_ID,
            "-ap",
            SOFTPHONE_PASSWORD,
            "-p",
            &free_port().to_string(),
        ],
    )
    .await;
    let reg = reg.wait_with_output().await.unwrap();
    assert!(
        reg.status.success(),
        "REGISTER: {}",
        sipp::describe(&reg, dir)
    );

    (agents, token, uas)
}

/// Polls the core's queue list until the call is in `state` (at most 20 s).
async fn wait_state(
    queue: &mut QueueServiceClient<tonic::transport::Channel>,
    token: &str,
    call_id: &str,
    state: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = queue
            .list_queue(authed(token, pb::ListQueueRequest {}))
            .await
            .unwrap()
            .into_inner();
        if list.entries.iter().any(|e| {
            e.call_id == call_id
                && e.state == state
                && (state == "waiting" || e.agent_id == AGENT_ID)
        }) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {state}: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn jo2_caller_queued_rung_agent_answers_bridged_and_hangup_ends_both() {
    if !sipp::available() {
        eprintln!("sipp (sip-tester) not installed: skipped");
        return;
    }
    let dir = temp_dir("agent");
    for url in database_urls(&dir).await {
        let mut h = Hotline::start_with(&url, &dir, true, Duration::from_secs(15)).await;
        let (mut agents, token, uas) = agent_with_softphone(&h, &dir, ANSWER).await;

        // A caller asks for an agent.
        let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
        c.press("0").await.unwrap();
        // It waits (the agent is not ready yet) ...
        let mut queue = QueueServiceClient::new(h.grpc.clone());
        wait_state(&mut queue, &h.admin, c.call_id(), "waiting").await;
        // ... until the agent becomes available: the offer rings the softphone, which
        // answers; connected in the core's queue (ReportOffer accepted).
        agents
            .set_presence(authed(
                &token,
                pb::SetPresenceRequest {
                    presence: "available".into(),
                },
            ))
            .await
            .unwrap();
        wait_state(&mut queue, &h.admin, c.call_id(), "connected").await;
        // The caller talks to the agent (sipp echoes), then hangs up.
        c.speak(Duration::from_millis(500)).await.unwrap();
        c.hang_up().await.unwrap();
        c.close().await;
        let s = h.next_call().await;
        assert_eq!(s.outcome, Ok(FlowOutcome::CallerHungUp));
        let played = s.played.join(" ");
        assert!(
            played.contains("transfer_agent please_hold queue_position digit_1 queue_position_end"),
            "the waiting caller hears the position: {played}"
        );
        // The agent's softphone got our BYE and ended cleanly.
        let uas = tokio::time::timeout(Duration::from_secs(20), uas.wait_with_output())
            .await
            .expect("agent sipp ends")
            .unwrap();
        assert!(
            uas.status.success(),
            "agent: {}",
            sipp::describe(&uas, &dir)
        );
        let m = queue
            .get_queue_metrics(authed(&h.admin, pb::GetQueueMetricsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((m.entered, m.answered, m.abandoned), (1, 1, 0), "{m:?}");
        h.stop().await;
    }
}

#[tokio::test]
async fn jo2_an_unanswered_ring_is_cancelled_when_the_core_withdraws_the_offer() {
    if !sipp::available() {
        eprintln!("sipp (sip-tester) not installed: skipped");
        return;
    }
    let dir = temp_dir("agent-no-answer");
    let url = database_urls(&dir).await.remove(0);
    // The ACD's ring limit shortened to 2 s (the 15 s rule itself is the core's, tested there).
    let mut h = Hotline::start_with(&url, &dir, true, Duration::from_secs(2)).await;
    let (mut agents, token, uas) = agent_with_softphone(&h, &dir, NO_ANSWER).await;
    let mut c = Caller::dial(h.sip, "13800138000").await.unwrap();
    c.press("0").await.unwrap();
    let mut queue = QueueServiceClient::new(h.grpc.clone());
    wait_state(&mut queue, &h.admin, c.call_id(), "waiting").await;
    agents
        .set_presence(authed(
            &token,
            pb::SetPresenceRequest {
                presence: "available".into(),
            },
        ))
        .await
        .unwrap();
    // The softphone rings, nobody answers; at the limit the core sends CancelOffer and our
    // UAC sends CANCEL: the softphone's scenario (INVITE, 180, CANCEL, 200, 487, ACK) ends.
    let uas = tokio::time::timeout(Duration::from_secs(20), uas.wait_with_output())
        .await
        .expect("agent sipp ends")
        .unwrap();
    assert!(
        uas.status.success(),
        "agent: {}",
        sipp::describe(&uas, &dir)
    );
    // The no-answer is counted against the agent.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = queue
            .get_queue_metrics(authed(&h.admin, pb::GetQueueMetricsRequest::default()))
            .await
            .unwrap()
            .into_inner();
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
