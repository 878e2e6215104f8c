//! sipp (Debian `sip-tester`) as a caller: scenarios generated per test (INVITE with PCMU and
//! telephone-event, keys, then the IVR's BYE or ours), keys sent as RFC 2833 packets with
//! `play_pcap_audio` or as SIP INFO.
//!
//! The key pcaps are built from sipp's own `/usr/share/sip-tester/dtmf_2833_*.pcap`: those
//! ten packets per key come from one capture, so every file carries one fixed RTP timestamp
//! and sequence range, and sipp replays them unchanged. A receiver rightly takes a second
//! press of the same key (same SSRC and timestamp) for a retransmission; so the packets are
//! copied with the sequence numbers and event timestamps renumbered, as a phone would send
//! them, and the pcap times spaced 20 ms apart with a gap between keys.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub const SIPP: &str = "/usr/bin/sipp";
const PCAPS: &str = "/usr/share/sip-tester";

/// Ethernet frames of a classic little-endian pcap.
fn frames(path: &Path) -> Vec<Vec<u8>> {
    let d = std::fs::read(path).unwrap();
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "classic LE pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let incl = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16;
        out.push(d[off..(off + incl).min(d.len())].to_vec());
        off += incl;
    }
    out
}

fn key_file(key: char) -> String {
    let name = match key {
        '#' => "pound".to_owned(),
        '*' => "star".to_owned(),
        d => d.to_string(),
    };
    format!("{PCAPS}/dtmf_2833_{name}.pcap")
}

/// Renumbers RTP sequence numbers and event timestamps across a call.
#[derive(Debug)]
pub struct KeyPcaps {
    dir: PathBuf,
    seq: u16,
    ts: u32,
    files: usize,
}

impl KeyPcaps {
    pub fn new(dir: &Path) -> KeyPcaps {
        KeyPcaps {
            dir: dir.to_owned(),
            seq: 1000,
            ts: 16_000,
            files: 0,
        }
    }

    /// A pcap pressing `keys` (one event each, 140 ms apart after its packets); returns its
    /// path and how long sipp takes to play it.
    pub fn keys(&mut self, keys: &str) -> (PathBuf, Duration) {
        let mut out = Vec::new();
        out.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65_535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        let mut t_us: u64 = 0;
        for key in keys.chars() {
            // The three end packets of an event share one sequence number (retransmissions).
            let mut end_seq: Option<u16> = None;
            for mut f in frames(Path::new(&key_file(key))) {
                let ihl = usize::from(f[14] & 0x0F) * 4;
                let rtp = 14 + ihl + 8;
                let end = f[rtp + 13] & 0x80 != 0;
                let seq = match (end, end_seq) {
                    (true, Some(s)) => s,
                    _ => {
                        let s = self.seq;
                        self.seq = self.seq.wrapping_add(1);
                        if end {
                            end_seq = Some(s);
                        }
                        s
                    }
                };
                f[rtp + 2..rtp + 4].copy_from_slice(&seq.to_be_bytes());
                f[rtp + 4..rtp + 8].copy_from_slice(&self.ts.to_be_bytes());
                out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
                out.extend_from_slice(&(f.len() as u32).to_le_bytes());
                out.extend_from_slice(&(f.len() as u32).to_le_bytes());
                out.extend_from_slice(&f);
                if !end {
                    t_us += 20_000;
                }
            }
            self.ts = self.ts.wrapping_add(1_600);
            t_us += 140_000;
        }
        self.files += 1;
        let path = self.dir.join(format!("keys-{}.pcap", self.files));
        std::fs::write(&path, out).unwrap();
        (path, Duration::from_micros(t_us))
    }
}

/// One step of a caller scenario after the call is up.
#[derive(Debug, Clone)]
pub enum Step {
    /// Wait.
    Pause(Duration),
    /// Keys as RFC 2833 packets (a pcap made by [`KeyPcaps::keys`]).
    Rtp(PathBuf, Duration),
    /// One key by SIP INFO (`application/dtmf-relay`).
    Info(char),
    /// A re-INVITE with this direction attribute (`sendonly` = hold, `sendrecv` = resume),
    /// expecting 200 (with an SDP answer) and sending the ACK.
    Reinvite(&'static str),
    /// We hang up (BYE).
    Bye,
    /// Wait for the IVR's BYE and answer it.
    ExpectBye,
}

const INVITE_SDP: &str = "v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
";

fn request(method: &str, cseq: u32, extra: &str, body: &str) -> String {
    let ctype = if body.is_empty() {
        String::new()
    } else {
        format!("      Content-Type: {extra}\n")
    };
    format!(
        r#"  <send retrans="500">
    <![CDATA[

      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
{ctype}      Content-Length: [len]

      {body}
    ]]>
  </send>
  <recv response="200"/>
"#
    )
}

fn reinvite(cseq: u32, direction: &str) -> String {
    format!(
        r#"  <send retrans="500">
    <![CDATA[

      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 {version} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a={direction}

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="{expect}" search_in="body" check_it="true" assign_to="dir"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"#,
        version = 2_353_687_637u64 + u64::from(cseq),
        // Held (we may only receive): our answer must say recvonly (RFC 3264 §6.1).
        expect = if direction == "sendonly" {
            "a=recvonly"
        } else {
            "m=audio"
        },
    )
}

/// A caller scenario from the number `from` (sipp's `[field0]` is set through `-key`; here
/// it is written in directly).
pub fn scenario(from: &str, steps: &[Step]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hotline caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:112@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:112@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      SDP
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"#,
    )
    .replace("SDP\n", INVITE_SDP);
    let mut cseq = 2;
    for step in steps {
        match step {
            Step::Pause(d) => s.push_str(&format!(
                "  <pause milliseconds=\"{}\"/>\n",
                d.as_millis()
            )),
            Step::Rtp(path, d) => s.push_str(&format!(
                "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{}\"/>\n",
                path.display(),
                d.as_millis() + 100
            )),
            Step::Info(k) => {
                s.push_str(&request(
                    "INFO",
                    cseq,
                    "application/dtmf-relay",
                    &format!("Signal={k}\n      Duration=160"),
                ));
                cseq += 1;
            }
            Step::Reinvite(dir) => {
                s.push_str(&reinvite(cseq, dir));
                cseq += 1;
            }
            Step::Bye => {
                s.push_str(&request("BYE", cseq, "", ""));
                cseq += 1;
            }
            Step::ExpectBye => s.push_str(
                r#"  <recv request="BYE"/>
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
"#,
            ),
        }
    }
    s.push_str("</scenario>\n");
    s.replace("[field0]", from)
}

/// A UDP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs one call of `scenario_xml` against `target`; returns sipp's output.
pub async fn call(dir: &Path, target: std::net::SocketAddr, scenario_xml: &str) -> Output {
    let file = dir.join(format!("scenario-{}.xml", free_port()));
    std::fs::write(&file, scenario_xml).unwrap();
    let port = free_port().to_string();
    let media = hotline_testkit::sipp_media_port().to_string();
    let mut cmd = tokio::process::Command::new(SIPP);
    cmd.arg(target.to_string())
        .args(["-sf", &file.to_string_lossy(), "-m", "1", "-l", "1"])
        .args(["-nostdin", "-i", "127.0.0.1", "-p", &port, "-mp", &media])
        .args(["-timeout", "50s", "-timeout_error", "-trace_err"])
        .args([
            "-error_file",
            &dir.join(format!("sipp-{port}-errors.log"))
                .to_string_lossy(),
        ])
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("sipp finishes within 60 s")
        .expect("run sipp")
}

pub fn describe(out: &Output, dir: &Path) -> String {
    let errors: String = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with("errors.log"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    format!(
        "status {:?}\nstdout (tail): {}\nstderr: {}\nerrors: {errors}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(25)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    )
}
