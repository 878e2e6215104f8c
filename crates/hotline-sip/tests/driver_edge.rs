//! The tokio driver with real sockets on 127.0.0.1: two of our endpoints calling each other
//! (shutdown hangs up with BYE), TCP framing errors close the connection, garbage never stalls
//! the loop.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{AppMode, OUR_SDP, start};
use hotline_sip::endpoint::{EndReason, Event, OutgoingCall, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn wait_for(r: &common::Running, what: &str, pred: impl Fn(&Event) -> bool) {
    for _ in 0..200 {
        if r.count(&pred) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {what}: {:?}", r.events());
}

fn call_to(
    caller: &common::Running,
    callee: &common::Running,
    transport: Transport,
) -> OutgoingCall {
    OutgoingCall {
        target: format!("sip:ivr@{}", callee.addr),
        dest: callee.addr,
        transport,
        from: format!("sip:agent-desk@{}", caller.addr),
        to: format!("sip:ivr@{}", callee.addr),
        sdp: Bytes::from_static(OUR_SDP),
        ring_timeout: Some(Duration::from_secs(15)),
        auth: None,
    }
}

/// Driver to driver over UDP and TCP; stopping the callee's driver sends BYE for its live call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_byes_live_calls() {
    for transport in [Transport::Udp, Transport::Tcp] {
        let callee = start(AppMode::Answer, |c| c.seed = 1).await;
        let caller = start(AppMode::Answer, |c| c.seed = 2).await;
        let call = caller
            .handle
            .invite(call_to(&caller, &callee, transport))
            .await
            .unwrap();
        wait_for(&caller, "Answered", |e| matches!(e, Event::Answered { .. })).await;
        wait_for(&callee, "CallAcked", |e| {
            matches!(e, Event::CallAcked { .. })
        })
        .await;
        callee.stop().await;
        wait_for(&caller, "BYE from the stopped side", |e| {
            *e == Event::CallEnded {
                call: call.clone(),
                reason: EndReason::RemoteBye,
            }
        })
        .await;
        caller.stop().await;
    }
}

/// A negative Content-Length on TCP closes the connection; the listener keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_bad_content_length_closes_connection() {
    let ours = start(AppMode::Answer, |_| {}).await;
    let mut s = tokio::net::TcpStream::connect(ours.addr).await.unwrap();
    let ncl = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rfc4475/ncl.dat"
    ))
    .unwrap();
    s.write_all(&ncl).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("connection closed, not left hanging")
        .unwrap_or(0);
    assert_eq!(
        n,
        0,
        "closed without a response: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    let mut s = tokio::net::TcpStream::connect(ours.addr).await.unwrap();
    let options = format!(
        "OPTIONS sip:ivr@{0} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKtcp1\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:ivr@{0}>\r\nCall-ID: tcp1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ours.addr
    );
    // Split across writes: the framer must reassemble.
    let (a, b) = options.as_bytes().split_at(40);
    s.write_all(a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    ours.stop().await;
}

/// Every RFC 4475 message over UDP in a burst, then an OPTIONS still gets its 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_burst_does_not_stall() {
    let ours = start(AppMode::RingOnly, |_| {}).await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc4475");
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "dat") {
            sock.send_to(&std::fs::read(e.path()).unwrap(), ours.addr)
                .await
                .unwrap();
        }
    }
    let options = format!(
        "OPTIONS sip:ivr@{0} SIP/2.0\r\nVia: SIP/2.0/UDP {1};branch=z9hG4bKafter\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:ivr@{0}>\r\nCall-ID: after-burst\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ours.addr,
        sock.local_addr().unwrap()
    );
    sock.send_to(options.as_bytes(), ours.addr).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let (n, _) = sock.recv_from(&mut buf).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.contains("Call-ID: after-burst") {
                return text.starts_with("SIP/2.0 200 OK");
            }
        }
    })
    .await
    .expect("answer to the OPTIONS after the burst");
    assert!(found);
    ours.stop().await;
}
