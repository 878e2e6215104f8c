//! The protocol core on byte strings: header blocks as Asterisk 18/20 send them, every reply
//! shape `res_agi.c` writes, the HANGUP line, and the inputs that must end a session.

use super::*;

/// The header block of `AGI(agi://10.0.0.5:4573/hotline?lang=zh&x=a%20b,0571,x y)` on
/// Asterisk 20, with a key older releases do not send (`agi_threadid`) and one from the future.
const HEADER: &str = "agi_network: yes\n\
agi_network_script: hotline?lang=zh&x=a%20b\n\
agi_request: agi://10.0.0.5:4573/hotline?lang=zh&x=a%20b\n\
agi_channel: PJSIP/trunk-00000007\n\
agi_language: zh\n\
agi_type: PJSIP\n\
agi_uniqueid: 1733497200.42\n\
agi_version: 20.5.0\n\
agi_callerid: 13800138000\n\
agi_calleridname: Zhang San\n\
agi_callingpres: 0\n\
agi_dnid: 112\n\
agi_rdnis: unknown\n\
agi_context: from-trunk\n\
agi_extension: 112\n\
agi_priority: 1\n\
agi_enhanced: 0.0\n\
agi_accountcode: \n\
agi_threadid: 140234567890\n\
agi_arg_1: 0571\n\
agi_arg_2: x y\n\
agi_future_key: whatever\n\
\n";

fn decode_all(bytes: &[u8]) -> Result<Vec<Incoming>, ProtocolError> {
    let mut d = Decoder::new();
    d.feed(bytes);
    let mut out = Vec::new();
    while let Some(x) = d.poll()? {
        out.push(x);
    }
    Ok(out)
}

fn header(text: &str) -> AgiRequest {
    match decode_all(text.as_bytes()).unwrap().remove(0) {
        Incoming::Header(r) => r,
        other => panic!("not a header: {other:?}"),
    }
}

#[test]
fn header_block_gives_script_args_caller_and_keeps_unknown_keys() {
    let r = header(HEADER);
    assert_eq!(r.script, "hotline");
    assert_eq!(r.param("lang"), Some("zh"));
    assert_eq!(r.param("x"), Some("a b"));
    assert_eq!(r.args, vec!["0571", "x y"]);
    assert_eq!(r.caller_id, "13800138000");
    assert_eq!(r.caller_name, "Zhang San");
    assert_eq!(r.uniqueid, "1733497200.42");
    assert_eq!(r.channel, "PJSIP/trunk-00000007");
    assert_eq!(r.language, "zh");
    assert_eq!(r.header("future_key"), Some("whatever"));
    assert_eq!(r.header("threadid"), Some("140234567890"));
    assert_eq!(r.header("accountcode"), Some(""));
}

#[test]
fn header_fed_byte_by_byte_then_a_reply_in_the_same_segment() {
    let mut d = Decoder::new();
    let mut got = Vec::new();
    let wire = format!("{HEADER}200 result=0\n");
    for b in wire.as_bytes() {
        d.feed(&[*b]);
        while let Some(x) = d.poll().unwrap() {
            got.push(x);
        }
    }
    assert_eq!(got.len(), 2);
    assert!(matches!(&got[0], Incoming::Header(r) if r.script == "hotline"));
    assert!(matches!(&got[1], Incoming::Reply(r) if r.result == "0"));
}

#[test]
fn script_from_agi_request_when_network_script_is_absent_and_crlf_lines() {
    let r = header(
        "agi_request: agi://pbx/hotline?lang=zh\r\nagi_callerid: unknown\r\nagi_calleridname: unknown\r\n\r\n",
    );
    assert_eq!(r.script, "hotline");
    assert_eq!(r.param("lang"), Some("zh"));
    assert_eq!(r.caller_id, "", "unknown caller id is withheld");
    assert_eq!(r.caller_name, "");
    assert_eq!(r.uniqueid, "");
}

#[test]
fn caller_ids_in_the_old_name_number_form_and_junk() {
    assert_eq!(caller_number("\"Li Si\" <057187654321>"), "057187654321");
    assert_eq!(caller_number("+8613800138000"), "8613800138000");
    assert_eq!(caller_number("anonymous"), "");
    assert_eq!(caller_number("12ab"), "");
    assert_eq!(caller_number(""), "");
}

#[test]
fn header_errors_name_the_problem() {
    assert_eq!(
        decode_all(b"\n").unwrap_err(),
        ProtocolError::NoAgiKeys,
        "an empty block"
    );
    assert!(matches!(
        decode_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap_err(),
        ProtocolError::BadHeaderLine(l) if l == "GET / HTTP/1.1"
    ));
    let long = "agi_x: y\n".repeat(MAX_HEADER_LINES + 1);
    assert_eq!(
        decode_all(long.as_bytes()).unwrap_err(),
        ProtocolError::HeaderTooLong
    );
}

#[test]
fn lines_over_8_kib_are_refused_even_before_their_newline() {
    let mut d = Decoder::new();
    d.feed(&vec![b'a'; MAX_LINE + 1]);
    assert_eq!(d.poll().unwrap_err(), ProtocolError::LineTooLong);
    let mut d = Decoder::new();
    let mut line = b"agi_x: ".to_vec();
    line.extend(vec![b'y'; MAX_LINE]);
    line.push(b'\n');
    d.feed(&line);
    assert_eq!(d.poll().unwrap_err(), ProtocolError::LineTooLong);
    // exactly the limit is fine
    let mut d = Decoder::new();
    let mut line = b"agi_x: ".to_vec();
    line.extend(vec![b'y'; MAX_LINE - 7]);
    line.extend(b"\n\n");
    d.feed(&line);
    assert!(matches!(d.poll().unwrap(), Some(Incoming::Header(_))));
}

fn replies(text: &str) -> Result<Vec<Incoming>, ProtocolError> {
    decode_all(format!("agi_network: yes\n\n{text}").as_bytes()).map(|mut v| {
        v.remove(0);
        v
    })
}

fn reply(text: &str) -> Reply {
    match replies(text).unwrap().remove(0) {
        Incoming::Reply(r) => r,
        other => panic!("not a reply: {other:?}"),
    }
}

#[test]
fn results_stay_strings_with_data_and_endpos() {
    let r = reply("200 result=0 endpos=12000\n");
    assert_eq!(
        (r.result.as_str(), r.data, r.endpos),
        ("0", None, Some(12000))
    );
    let r = reply("200 result=49 endpos=3040\n");
    assert_eq!(r.result_int(), Some(49));
    assert_eq!(r.endpos, Some(3040));
    // GET DATA keeps leading zeros, * and #; empty on timeout
    assert_eq!(reply("200 result=0571\n").result, "0571");
    assert_eq!(reply("200 result=*9\n").result, "*9");
    let r = reply("200 result= (timeout)\n");
    assert_eq!(
        (r.result.as_str(), r.data.as_deref()),
        ("", Some("timeout"))
    );
    let r = reply("200 result=01 (timeout)\n");
    assert_eq!(
        (r.result.as_str(), r.data.as_deref()),
        ("01", Some("timeout"))
    );
    assert_eq!(reply("200 result=\n").result, "");
    // RECORD FILE
    let r = reply("200 result=35 (dtmf) endpos=24000\n");
    assert_eq!(
        (r.result_int(), r.data.as_deref(), r.endpos),
        (Some(35), Some("dtmf"), Some(24000))
    );
    let r = reply("200 result=-1 (hangup) endpos=8000\n");
    assert!(r.is_failure());
    assert_eq!(r.data.as_deref(), Some("hangup"));
    let r = reply("200 result=-1 (writefile)\n");
    assert_eq!(r.data.as_deref(), Some("writefile"));
    // GET VARIABLE with spaces and brackets in the value
    let r = reply("200 result=1 (NO ANSWER (x))\n");
    assert_eq!(r.data.as_deref(), Some("NO ANSWER (x)"));
    assert_eq!(reply("200 result=0\n").data, None);
}

#[test]
fn error_codes_and_the_520_usage_block() {
    let r = reply("510 Invalid or unknown command\n");
    assert_eq!(
        (r.code, r.text.as_str()),
        (510, "Invalid or unknown command")
    );
    assert_eq!(
        reply("511 Command Not Permitted on a dead channel or intercept routine\n").code,
        511
    );
    let r = reply(
        "520-Invalid command syntax.  Proper usage follows:\n\
         Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n\
         \x20Send the given file, allowing playback to be interrupted by the given digits.\n\
         520 End of proper usage.\n200 result=0\n",
    );
    assert_eq!(r.code, 520);
    assert_eq!(r.usage.len(), 2);
    assert!(r.usage[0].starts_with("Usage: STREAM FILE"));
    assert_eq!(reply("520 Invalid command syntax.\n").code, 520);
    let all = replies("520-x\n520 End of proper usage.\n200 result=1\n").unwrap();
    assert!(
        matches!(&all[1], Incoming::Reply(r) if r.result == "1"),
        "decoding goes on after 520"
    );
}

#[test]
fn hangup_line_between_replies() {
    let all = replies("HANGUP\n200 result=-1 endpos=100\n").unwrap();
    assert_eq!(all[0], Incoming::Hangup);
    assert!(matches!(&all[1], Incoming::Reply(r) if r.is_failure()));
}

#[test]
fn bad_replies_and_unknown_codes_are_errors() {
    assert!(matches!(
        replies("hello\n").unwrap_err(),
        ProtocolError::BadReply(_)
    ));
    assert!(matches!(
        replies("20 result=0\n").unwrap_err(),
        ProtocolError::BadReply(_)
    ));
    assert!(matches!(
        replies("200result=0\n").unwrap_err(),
        ProtocolError::BadReply(_)
    ));
    assert!(matches!(
        replies("200 ok\n").unwrap_err(),
        ProtocolError::BadReply(_)
    ));
    assert_eq!(
        replies("404 not here\n").unwrap_err(),
        ProtocolError::UnknownCode(404, "404 not here".into())
    );
    let endless = format!("520-x\n{}", "usage\n".repeat(MAX_USAGE_LINES + 1));
    assert_eq!(replies(&endless).unwrap_err(), ProtocolError::UsageTooLong);
}

#[test]
fn commands_encode_with_res_agi_quoting() {
    let c = |c: Command| c.encode();
    assert_eq!(c(Command::Answer), "ANSWER\n");
    assert_eq!(
        c(Command::StreamFile {
            file: "hotline/welcome".into(),
            escape: "0123456789*#".into()
        }),
        "STREAM FILE hotline/welcome 0123456789*#\n"
    );
    assert_eq!(
        c(Command::StreamFile {
            file: "hotline/goodbye".into(),
            escape: String::new()
        }),
        "STREAM FILE hotline/goodbye \"\"\n"
    );
    assert_eq!(
        c(Command::GetData {
            file: "hotline/enter_number".into(),
            timeout_ms: 5000,
            max_digits: 21
        }),
        "GET DATA hotline/enter_number 5000 21\n"
    );
    assert_eq!(
        c(Command::WaitForDigit { timeout_ms: 3000 }),
        "WAIT FOR DIGIT 3000\n"
    );
    assert_eq!(
        c(Command::SayDigits {
            digits: "0571".into(),
            escape: String::new()
        }),
        "SAY DIGITS 0571 \"\"\n"
    );
    assert_eq!(
        c(Command::RecordFile {
            file: "/var/spool/asterisk/hotline/1733497200.42".into(),
            format: "wav".into(),
            escape: "#".into(),
            timeout_ms: 120_000,
            beep: true,
            silence_s: Some(5),
        }),
        "RECORD FILE /var/spool/asterisk/hotline/1733497200.42 wav # 120000 BEEP s=5\n"
    );
    assert_eq!(
        c(Command::SetVariable {
            name: "HOTLINE_TICKET".into(),
            value: "a \"b\" \\c".into()
        }),
        "SET VARIABLE HOTLINE_TICKET \"a \\\"b\\\" \\\\c\"\n"
    );
    assert_eq!(
        c(Command::GetVariable {
            name: "DIALSTATUS".into()
        }),
        "GET VARIABLE DIALSTATUS\n"
    );
    assert_eq!(
        c(Command::Exec {
            app: "Dial".into(),
            args: "PJSIP/j1,15,gU(hotline-answered^1.2)".into()
        }),
        "EXEC Dial PJSIP/j1,15,gU(hotline-answered^1.2)\n"
    );
    assert_eq!(
        c(Command::Verbose {
            message: "unknown script \"x\"\nHANGUP".into(),
            level: 1
        }),
        "VERBOSE \"unknown script \\\"x\\\" HANGUP\" 1\n",
        "a newline cannot start a second command"
    );
    assert_eq!(c(Command::Hangup), "HANGUP\n");
}

#[test]
fn a_long_command_is_cut_to_one_line() {
    let line = Command::Verbose {
        message: "x".repeat(3 * MAX_LINE),
        level: 1,
    }
    .encode();
    assert!(line.len() <= MAX_LINE + 1);
    assert_eq!(line.matches('\n').count(), 1);
}

#[test]
fn arbitrary_bytes_never_panic_the_decoder() {
    // A seeded xorshift: the same 2,000 inputs every run, biased towards protocol-ish bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Pieces of real traffic and of garbage, joined at random and cut anywhere.
    let pieces: [&[u8]; 16] = [
        b"agi_network: yes\n",
        b"agi_uniqueid: 1.2\n",
        b"\n",
        b"200 result=1\n",
        b"200 result= (timeout)\n",
        b"200 result=-1 endpos=0\n",
        b"HANGUP\n",
        b"520-Invalid command syntax.\n",
        b"520 End of proper usage.\n",
        b"511 dead\n",
        b"hello\n",
        b"999 x\n",
        b"\xff\xfe\x00(",
        b"agi_",
        b"result=",
        b"\r\n",
    ];
    let (mut items, mut errors) = (0, 0);
    for _ in 0..2000 {
        let mut d = Decoder::new();
        let n = (next() % 30) as usize;
        let mut bytes = Vec::new();
        for _ in 0..n {
            bytes.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
        }
        // fed in random-sized pieces, header phase and (when it got there) reply phase
        let mut i = 0;
        while i < bytes.len() {
            let n = 1 + (next() % 40) as usize;
            d.feed(&bytes[i..(i + n).min(bytes.len())]);
            i += n;
            loop {
                match d.poll() {
                    Ok(Some(_)) => items += 1,
                    Ok(None) => break,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
        }
        let mut r = Decoder::after_header();
        r.feed(&bytes);
        loop {
            match r.poll() {
                Ok(Some(_)) => items += 1,
                Ok(None) => break,
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
    }
    // The inputs reach both outcomes: parsed items and refusals (each a typed error).
    assert!(
        items > 100 && errors > 100,
        "items {items}, errors {errors}"
    );
}
