//! SDP parsing and offer/answer tests: real-world offers, hold, rejections, garbage.
use super::*;

const LINPHONE_OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 8 0 96 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
m=video 51372 RTP/AVP 31\r\n";

fn local() -> LocalMedia {
    LocalMedia::new("198.51.100.1".parse().unwrap(), 10002, 42)
}

#[test]
fn parse_typical_offer() {
    let sd = SessionDescription::parse(LINPHONE_OFFER.as_bytes()).unwrap();
    assert_eq!(sd.connection, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(sd.media.len(), 2);
    let a = &sd.media[0];
    assert_eq!(a.port, 49170);
    assert_eq!(a.formats, ["8", "0", "96", "101"]);
    assert_eq!(a.telephone_event_pt(), Some(101));
    assert_eq!(a.ptime, Some(20));
    assert_eq!(a.direction, Some(Direction::SendRecv));
    assert_eq!(a.codec_of(96), None);
    assert_eq!(a.codec_of(8), Some(Codec::Pcma));
}

#[test]
fn answer_picks_callers_first_supported_codec() {
    let sd = SessionDescription::parse(LINPHONE_OFFER.as_bytes()).unwrap();
    let (ans, neg) = answer_offer(&sd, &local()).unwrap();
    assert_eq!(neg.codec, Codec::Pcma);
    assert_eq!(neg.payload_type, 8);
    assert_eq!(neg.telephone_event_pt, Some(101));
    assert_eq!(neg.remote, Some("192.0.2.10:49170".parse().unwrap()));
    assert_eq!(neg.direction, Direction::SendRecv);
    // Answer has as many m= lines as the offer; video rejected.
    assert_eq!(ans.media.len(), 2);
    assert_eq!(ans.media[1].port, 0);
    let text = String::from_utf8(ans.to_bytes()).unwrap();
    assert!(text.contains("m=audio 10002 RTP/AVP 8 101\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:101 telephone-event/8000\r\n"));
    assert!(text.contains("a=fmtp:101 0-16\r\n"));
    assert!(text.contains("c=IN IP4 198.51.100.1\r\n"));
    assert!(text.contains("a=ptime:20\r\n"));
    // Our own output parses back.
    let again = SessionDescription::parse(text.as_bytes()).unwrap();
    assert_eq!(again, ans);
}

#[test]
fn static_pt_without_rtpmap_and_lf_only() {
    let offer =
        "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 18 0\n";
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    let (_, neg) = answer_offer(&sd, &local()).unwrap();
    assert_eq!(neg.codec, Codec::Pcmu);
    assert_eq!(neg.telephone_event_pt, None);
}

#[test]
fn dynamic_pt_for_g711_by_name() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 97\r\nc=IN IP4 10.0.0.2\r\na=rtpmap:97 pcmu/8000\r\n";
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    let (_, neg) = answer_offer(&sd, &local()).unwrap();
    assert_eq!((neg.codec, neg.payload_type), (Codec::Pcmu, 97));
    assert_eq!(neg.remote, Some("10.0.0.2:4000".parse().unwrap()));
}

#[test]
fn hold_reoffer_sendonly_is_answered_recvonly() {
    let offer = LINPHONE_OFFER.replace("a=sendrecv", "a=sendonly");
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    let (ans, neg) = answer_offer(&sd, &local()).unwrap();
    assert_eq!(neg.direction, Direction::RecvOnly);
    assert_eq!(ans.media[0].direction, Some(Direction::RecvOnly));
    for (offered, answered) in [
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
    ] {
        let offer = LINPHONE_OFFER.replace("sendrecv", offered);
        let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
        assert_eq!(answer_offer(&sd, &local()).unwrap().1.direction, answered);
    }
    // Old-style hold with c=0.0.0.0 and a session-level attribute.
    let offer = LINPHONE_OFFER
        .replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0")
        .replace("a=sendrecv\r\n", "");
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    let (_, neg) = answer_offer(&sd, &local()).unwrap();
    assert_eq!(neg.remote, None);
    assert_eq!(neg.direction, Direction::RecvOnly);
}

#[test]
fn no_common_codec_and_no_audio() {
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    assert_eq!(
        answer_offer(&sd, &local()).unwrap_err(),
        SdpError::NoCommonCodec
    );
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 31\r\n";
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    assert_eq!(answer_offer(&sd, &local()).unwrap_err(), SdpError::NoAudio);
    let offer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let sd = SessionDescription::parse(offer.as_bytes()).unwrap();
    assert_eq!(
        answer_offer(&sd, &local()).unwrap_err(),
        SdpError::NoConnection
    );
}

#[test]
fn offer_and_answer_roundtrip() {
    let mut ours = local();
    ours.codecs = vec![Codec::Pcma, Codec::Pcmu];
    let offer = build_offer(&ours);
    let text = String::from_utf8(offer.to_bytes()).unwrap();
    assert!(text.contains("m=audio 10002 RTP/AVP 8 0 101\r\n"), "{text}");
    assert!(text.contains("a=sendrecv\r\n"));
    // The peer (our own answer logic, as a softphone would) answers.
    let peer = LocalMedia::new("203.0.113.5".parse().unwrap(), 7078, 9);
    let parsed = SessionDescription::parse(&offer.to_bytes()).unwrap();
    let (answer, peer_neg) = answer_offer(&parsed, &peer).unwrap();
    assert_eq!(peer_neg.codec, Codec::Pcma);
    let neg = accept_answer(
        &ours,
        &SessionDescription::parse(&answer.to_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(neg.codec, Codec::Pcma);
    assert_eq!(neg.telephone_event_pt, Some(101));
    assert_eq!(neg.remote, Some("203.0.113.5:7078".parse().unwrap()));
    assert_eq!(neg.direction, Direction::SendRecv);
}

#[test]
fn rejected_answer_is_error() {
    let ans = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
    let sd = SessionDescription::parse(ans.as_bytes()).unwrap();
    assert_eq!(
        accept_answer(&local(), &sd).unwrap_err(),
        SdpError::NoCommonCodec
    );
}

#[test]
fn garbage_is_rejected_without_panic() {
    let cases: &[&[u8]] = &[
        b"",
        b"\xff\xfe",
        b"hello",
        b"v=1\r\n",
        b"o=x\r\nv=0\r\n",
        b"v=0\r\nm=audio\r\n",
        b"v=0\r\nm=audio 99999 RTP/AVP 0\r\n",
        b"v=0\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 999.1.1.1\r\n",
        b"v=0\r\nc=IN\r\n",
        b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:300 PCMU/8000\r\n",
        b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0\r\n",
        b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU/x\r\n",
        b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=ptime:abc\r\n",
        b"v=0\r\n=oops\r\n",
    ];
    for c in cases {
        assert!(
            SessionDescription::parse(c).is_err(),
            "{:?}",
            String::from_utf8_lossy(c)
        );
    }
    // Every prefix of a good offer parses or errors, never panics.
    let b = LINPHONE_OFFER.as_bytes();
    for n in 0..b.len() {
        if let Ok(sd) = SessionDescription::parse(&b[..n]) {
            let _ = answer_offer(&sd, &local());
        }
    }
}
