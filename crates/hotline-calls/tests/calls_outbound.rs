//! Automated outbound survey calls (issue 16 part 5) over the real SIP path: the call server's
//! campaign claims a cleared ticket's callback from the core, calls the customer through a
//! trunk, and sipp (Debian `sip-tester`) plays the trunk and the customer's phone as a UAS:
//! it challenges the INVITE with digest authentication (401, checked by sipp's `verifyauth`),
//! answers, sends RFC 4733 keys, and takes our BYE. On SQLite and PostgreSQL:
//! - key 1 is recorded as 满意 with channel `ivr-outbound`;
//! - a customer who never answers is cancelled at the ring timeout and recorded as an
//!   unreached attempt, retried later by the rules (not called again the same day);
//! - a trunk that refuses every call (403) backs the campaign off (no spinning) and raises
//!   the `outbound` alert once.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::sipp::{KeyPcaps, SIPP, describe, free_port};
use common::{Hotline, Options, authed, database_urls, temp_dir};
use hotline_calls::outbound::OutboundConfig;
use hotline_domain::rules::AlertKind;
use hotline_proto::v1 as pb;

const TRUNK_USER: &str = "hotline-trunk";
const TRUNK_PASSWORD: &str = "trunk-secret-1";

/// Our BYE ends the call.
const THEIR_BYE: &str = r#"  <recv request="BYE" timeout="20000"/>
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
"#;

/// What [`CUSTOMER_HANGS_UP`] needs of our INVITE: where to send the BYE, whom it is to.
const CAPTURE_DIALOG: &str = r#"      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="remote_contact"/>
      <ereg regexp="[^ ].*" search_in="hdr" header="From:" check_it="true" assign_to="remote_from"/>
"#;

/// The customer hangs up after 2 s.
const CUSTOMER_HANGS_UP: &str = r#"  <pause milliseconds="2000"/>
  <send retrans="500">
    <![CDATA[

      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:customer@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      Call-ID: [call_id]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"#;

/// 401 with a digest challenge, then (credentials verified, else 403) 200 with PCMU and
/// telephone-event, the keys after `key_delay`, then `ending`.
fn answering_scenario(keys: &Path, key_delay: Duration, capture: &str, ending: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="trunk and customer who answers">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="trunk.example", nonce="5e1f2a9c0b7d", algorithm=MD5, qop="auth"
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authvalid" username="{TRUNK_USER}" password="{TRUNK_PASSWORD}"/>
{capture}    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send next="bad">
    <![CDATA[

      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <label id="good"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=customer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv request="ACK"/>
  <pause milliseconds="{delay}"/>
  <nop><action><exec play_pcap_audio="{keys}"/></action></nop>
{ending}  <label id="bad"/>
</scenario>
"#,
        delay = key_delay.as_millis(),
        keys = keys.display(),
    )
}

/// Rings and never answers: our CANCEL gets 200, the INVITE 487.
const NEVER_ANSWERS: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="customer who never answers">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="CANCEL" timeout="30000"/>
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
      CSeq: [cseq] INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"#;

/// The trunk refuses every call.
const TRUNK_REFUSES: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="trunk that refuses">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
"#;

/// A sipp UAS on `port` running `xml` for up to `calls` calls; killed when dropped.
fn trunk(dir: &Path, port: u16, xml: &str, calls: u32) -> tokio::process::Child {
    let file = dir.join(format!("uas-{port}.xml"));
    std::fs::write(&file, xml).unwrap();
    let media = hotline_testkit::sipp_media_port().to_string();
    tokio::process::Command::new(SIPP)
        .args(["-sf", &file.to_string_lossy()])
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &media])
        .args(["-m", &calls.to_string(), "-nostdin", "-trace_err"])
        .args(["-timeout", "60s", "-timeout_error"])
        .args([
            "-error_file",
            &dir.join(format!("sipp-{port}-errors.log"))
                .to_string_lossy(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run sipp")
}

fn outbound_config(port: u16) -> OutboundConfig {
    let mut c = OutboundConfig::new(format!("127.0.0.1:{port}").parse().unwrap());
    c.domain = Some("trunk.example".into());
    c.auth = Some(hotline_sip::endpoint::UacAuth {
        username: TRUNK_USER.into(),
        password: TRUNK_PASSWORD.into(),
    });
    c.max_concurrent = 4;
    c.ring_timeout = Duration::from_secs(2);
    c.idle_poll = Duration::from_millis(200);
    c.max_backoff = Duration::from_secs(1);
    c
}

/// A dispatched and cleared (回单) ticket whose customer is on `contact`.
async fn cleared(h: &Hotline, number: &str, contact: &str) -> i64 {
    let mut t = h.tickets();
    let ticket = t
        .create_ticket(authed(
            &h.admin,
            pb::CreateTicketRequest {
                faulty_number: number.into(),
                contact_number: contact.into(),
                customer_name: "王五".into(),
                branch: "东城".into(),
                fault_type: "noise".into(),
                channel: "phone".into(),
                description: "电话有杂音".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("create")
        .into_inner()
        .ticket
        .expect("ticket");
    t.dispatch_ticket(authed(
        &h.admin,
        pb::DispatchTicketRequest {
            id: ticket.id,
            note: "派修".into(),
        },
    ))
    .await
    .expect("dispatch");
    t.clear_ticket(authed(
        &h.admin,
        pb::ClearTicketRequest {
            id: ticket.id,
            note: "已修复".into(),
        },
    ))
    .await
    .expect("clear");
    ticket.id
}

async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < until,
            "{what} did not happen within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sipp_done(child: tokio::process::Child, dir: &Path, what: &str) {
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what}: sipp did not finish"))
        .expect("sipp output");
    assert!(out.status.success(), "{what}: {}", describe(&out, dir));
}

#[tokio::test]
async fn ss2_outbound_survey_call_through_an_authenticating_trunk_records_key_1() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let root = temp_dir("outbound-answer");
    for (i, url) in database_urls(&root).await.into_iter().enumerate() {
        // each run's files apart (stopping the hotline removes its directory)
        let dir = root.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut pcaps = KeyPcaps::new(&dir);
        let (keys, _) = pcaps.keys("1");
        let uas = trunk(
            &dir,
            port,
            &answering_scenario(&keys, Duration::from_millis(400), "", THEIR_BYE),
            1,
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut h = Hotline::start_opts(
            &url,
            &dir,
            Options {
                outbound: Some(outbound_config(port)),
                ..Options::default()
            },
        )
        .await;
        let ticket = cleared(&h, "01061110001", "13800138001").await;
        let s = h.next_call().await;
        assert_eq!(s.caller_id, "13800138001", "the customer was called");
        let played = s.played.join(" ");
        assert!(
            played.starts_with("survey_intro survey_question") && played.ends_with("survey_thanks"),
            "the customer heard the survey and the thanks: {played}"
        );
        sipp_done(uas, &dir, "answering customer").await;
        let store = &h.core.as_ref().unwrap().core.desk.store;
        let results = wait_for(
            "the answer's recording",
            Duration::from_secs(10),
            || async {
                let r = store.survey_results(ticket).await.unwrap();
                (!r.is_empty()).then_some(r)
            },
        )
        .await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].satisfaction.as_str(), "satisfied");
        assert_eq!(results[0].channel, "ivr-outbound");
        let calls = store.outbound_calls_of(ticket).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].answer_key, "1");
        assert_eq!(calls[0].claim.number, "13800138001");
        let st = store.survey_state(ticket).await.unwrap();
        assert!(st.open_task.is_none(), "the survey is done");
        h.stop().await;
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn ss2_outbound_customer_who_never_answers_is_cancelled_and_retried_by_the_rules() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let root = temp_dir("outbound-noanswer");
    for (i, url) in database_urls(&root).await.into_iter().enumerate() {
        // each run's files apart (stopping the hotline removes its directory)
        let dir = root.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let uas = trunk(&dir, port, NEVER_ANSWERS, 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let h = Hotline::start_opts(
            &url,
            &dir,
            Options {
                outbound: Some(outbound_config(port)),
                ..Options::default()
            },
        )
        .await;
        let ticket = cleared(&h, "01061110002", "13800138002").await;
        sipp_done(uas, &dir, "never-answering customer").await;
        let store = &h.core.as_ref().unwrap().core.desk.store;
        let calls = wait_for(
            "the unanswered call's report",
            Duration::from_secs(10),
            || async {
                let c = store.outbound_calls_of(ticket).await.unwrap();
                c.first().and_then(|c| c.result).is_some().then_some(c)
            },
        )
        .await;
        assert_eq!(
            calls[0].result.map(|r| r.as_str()),
            Some("no_answer"),
            "{calls:?}"
        );
        // the claim's result is written before the attempt
        let st = wait_for("the unreached attempt", Duration::from_secs(10), || async {
            let st = store.survey_state(ticket).await.unwrap();
            (st.attempts > 0).then_some(st)
        })
        .await;
        assert_eq!(st.attempts, 1, "one unreached attempt");
        assert!(st.open_task.is_some(), "retried later");
        // not called again today: the campaign keeps polling, no second claim
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(store.outbound_calls_of(ticket).await.unwrap().len(), 1);
        h.stop().await;
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn ss2_outbound_trunk_refusing_every_call_backs_off_and_alerts_once() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("outbound-trunk");
    let url = database_urls(&dir).await.remove(0);
    let port = free_port();
    let uas = trunk(&dir, port, TRUNK_REFUSES, 6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h = Hotline::start_opts(
        &url,
        &dir,
        Options {
            outbound: Some(outbound_config(port)),
            ..Options::default()
        },
    )
    .await;
    let ticket = cleared(&h, "01061110003", "13800138003").await;
    let started = Instant::now();
    sipp_done(uas, &dir, "refusing trunk").await;
    let took = started.elapsed();
    // six refusals with a pause of 1, 1, 1 ... s between them (the cap in this test)
    assert!(
        took >= Duration::from_secs(4),
        "six refused calls in {took:?}: the campaign did not back off"
    );
    let store = &h.core.as_ref().unwrap().core.desk.store;
    let alerts = wait_for("the trunk alert", Duration::from_secs(10), || async {
        let a: Vec<_> = store
            .list_alerts(None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.deadline_kind == AlertKind::Outbound)
            .collect();
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let st = store.survey_state(ticket).await.unwrap();
    assert_eq!(st.attempts, 0, "the trunk's refusals are not attempts");
    h.stop().await;
}

#[tokio::test]
async fn ss2_outbound_key_9_goes_to_a_person_and_leaves_the_survey_open() {
    if !hotline_testkit::require_peer(hotline_testkit::Peer::Sipp) {
        return;
    }
    let dir = temp_dir("outbound-person");
    let url = database_urls(&dir).await.remove(0);
    let port = free_port();
    let mut pcaps = KeyPcaps::new(&dir);
    let (keys, _) = pcaps.keys("9");
    let uas = trunk(
        &dir,
        port,
        &answering_scenario(
            &keys,
            Duration::from_millis(400),
            CAPTURE_DIALOG,
            CUSTOMER_HANGS_UP,
        ),
        1,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut h = Hotline::start_opts(
        &url,
        &dir,
        Options {
            outbound: Some(outbound_config(port)),
            ..Options::default()
        },
    )
    .await;
    let ticket = cleared(&h, "01061110009", "13800138009").await;
    let s = h.next_call().await;
    let played = s.played.join(" ");
    // no ACD in this test: the queue is the voicemail fallback, which says no agent is free
    assert!(
        played.contains("survey_question transfer_agent no_agent"),
        "9 is transferred to the agent queue: {played}"
    );
    sipp_done(uas, &dir, "customer asking for a person").await;
    let store = &h.core.as_ref().unwrap().core.desk.store;
    let calls = wait_for("the report", Duration::from_secs(10), || async {
        let c = store.outbound_calls_of(ticket).await.unwrap();
        c.first().and_then(|c| c.result).is_some().then_some(c)
    })
    .await;
    assert_eq!(calls[0].result.map(|r| r.as_str()), Some("person"));
    let st = store.survey_state(ticket).await.unwrap();
    assert!(st.open_task.is_some(), "the survey waits for the person");
    assert_eq!((st.attempts, st.results), (0, 0));
    h.stop().await;
}
