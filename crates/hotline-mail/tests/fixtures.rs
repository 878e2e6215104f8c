//! The parser on real mbox and .eml fixtures (`tests/data`, made by `make_fixtures.py`):
//! GBK base64, GB2312 quoted-printable, GB18030, a multipart with an attachment, HTML only,
//! no Message-ID, a broken MIME structure.

use hotline_mail::{ParsedMail, parse_message, raw_messages};
use std::path::Path;

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

fn one(name: &str) -> Result<ParsedMail, hotline_mail::BrokenMail> {
    let raw = raw_messages(&data(&format!("eml/{name}"))).unwrap();
    assert_eq!(raw.len(), 1);
    parse_message(&raw[0].origin, &raw[0].bytes)
}

#[test]
fn te1_gbk_base64_mail_decodes_subject_from_body_and_date() {
    let m = one("gbk_base64.eml").unwrap();
    assert_eq!(m.subject, "转来障碍：小区突然停电后电话无音");
    assert_eq!(m.from, "城东营业厅 <chengdong@branch.example.cn>");
    assert!(
        m.body_text
            .contains("小区突然停电后电话无音，号码 025-84561234"),
        "{}",
        m.body_text
    );
    // Mon, 07 Dec 2026 09:00:00 +0800
    assert_eq!(m.date_ms, Some(1_796_605_200_000));
    assert_eq!(m.dedup_key, "message-id:gbk-b64-0001@branch.example.cn");
    assert!(m.attachments.is_empty());
}

#[test]
fn te1_gb2312_quoted_printable_and_gb18030_decode() {
    let m = one("gb2312_qp.eml").unwrap();
    assert_eq!(m.subject, "电话杂音");
    assert_eq!(m.from, "城西营业厅 <chengxi@branch.example.cn>");
    assert!(
        m.body_text.contains("电话杂音很大，户号 3200123"),
        "{}",
        m.body_text
    );
    let m = one("gb18030.eml").unwrap();
    // 𠀀 (U+20000) exists only in GB18030's four-byte range
    assert_eq!(m.subject, "断线 — 𠀀村 ADSL 掉线");
    assert!(m.body_text.contains("𠀀村 3 号线路断线"), "{}", m.body_text);
}

#[test]
fn te3_multipart_attachment_is_returned_with_its_name_and_bytes() {
    let m = one("multipart_attachment.eml").unwrap();
    assert_eq!(m.subject, "传真扫描件：断线申告");
    assert!(m.body_text.contains("025-83334444 断线"));
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.file_name, "fax-0930.pdf");
    assert_eq!(a.media_type, "application/pdf");
    assert!(a.bytes.starts_with(b"%PDF-1.4"));
}

#[test]
fn te1_html_only_body_is_reduced_to_text() {
    let m = one("html_only.eml").unwrap();
    assert!(!m.body_text.contains('<'), "{}", m.body_text);
    assert!(m.body_text.contains("025-86667777"), "{}", m.body_text);
    assert!(m.body_text.contains("无拨号音"));
}

#[test]
fn te1_without_message_id_the_dedup_key_is_the_content_hash() {
    let m = one("no_message_id.eml").unwrap();
    assert!(m.message_id.is_none());
    assert!(m.dedup_key.starts_with("sha256:"));
    assert_eq!(m.dedup_key.len(), "sha256:".len() + 64);
    let again = one("no_message_id.eml").unwrap();
    assert_eq!(again.dedup_key, m.dedup_key);
    // the same message with LF line ends (as in an mbox) has the same key
    let raw = std::fs::read(data("eml/no_message_id.eml")).unwrap();
    let lf: Vec<u8> = String::from_utf8(raw)
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    assert_eq!(parse_message("lf", &lf).unwrap().dedup_key, m.dedup_key);
}

#[test]
fn te1_broken_mime_is_a_clear_per_message_error() {
    let e = one("broken_mime.eml").unwrap_err();
    assert_eq!(e.origin, "broken_mime.eml");
    assert!(e.reason.contains("broken MIME structure"), "{}", e.reason);
    assert!(e.reason.contains("never-there"), "{}", e.reason);
    for (raw, why) in [
        (&b""[..], "empty message"),
        (&b"\x00\x01\x02 garbage without headers"[..], "not an e-mail"),
        (
            &b"From: a@b.cn\r\nSubject: x\r\nContent-Type: text/plain; charset=klingon-8\r\n\r\nqapla\r\n"[..],
            "unknown charset \"klingon-8\"",
        ),
    ] {
        let e = parse_message("x.eml", raw).unwrap_err();
        assert!(e.reason.contains(why), "{raw:?}: {}", e.reason);
    }
}

#[test]
fn te1_an_mbox_yields_every_message_and_the_broken_one_does_not_stop_the_rest() {
    let raw = raw_messages(&data("intake.mbox")).unwrap();
    assert_eq!(raw.len(), 7);
    assert_eq!(raw[0].origin, "intake.mbox#1");
    assert!(raw[0].envelope_secs.is_some());
    let parsed: Vec<_> = raw
        .iter()
        .map(|r| parse_message(&r.origin, &r.bytes))
        .collect();
    assert_eq!(parsed.iter().filter(|p| p.is_ok()).count(), 6);
    let broken: Vec<_> = parsed.iter().filter_map(|p| p.as_ref().err()).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].origin, "intake.mbox#7");
    let gbk = parsed[0].as_ref().unwrap();
    assert_eq!(gbk.subject, "转来障碍：小区突然停电后电话无音");
    // the directory holds the same seven messages in name order
    let dir = raw_messages(&data("eml")).unwrap();
    assert_eq!(dir.len(), 7);
    assert!(dir.windows(2).all(|w| w[0].origin < w[1].origin));
    assert!(raw_messages(&data("make_fixtures.py")).is_err());
}
