//! The offer/answer model (RFC 3264 §5-§7) for one G.711 audio stream with telephone-event:
//! our answer to an offer (caller's first supported codec, mirrored direction, other streams
//! rejected with port 0), our offer, and accepting the answer to it.

use std::net::{IpAddr, SocketAddr};

use super::{Codec, Direction, MediaDescription, RtpMap, SdpError, SessionDescription};

/// What we can do on our side of a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address put in `c=` and `o=`.
    pub ip: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// Codecs in our preference order (used for offers; answers follow the caller's order).
    pub codecs: Vec<Codec>,
    /// Dynamic payload type for telephone-event in our offers (default 101); `None` = no RFC 4733.
    pub telephone_event_pt: Option<u8>,
    /// Direction we want (sendrecv normally; sendonly to put the peer on hold).
    pub direction: Direction,
    /// `o=` session id.
    pub session_id: u64,
    /// `o=` session version; increment for each new offer/answer that changes something.
    pub session_version: u64,
}

impl LocalMedia {
    /// Defaults: PCMU then PCMA, telephone-event 101, sendrecv.
    pub fn new(ip: IpAddr, port: u16, session_id: u64) -> Self {
        LocalMedia {
            ip,
            port,
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            telephone_event_pt: Some(101),
            direction: Direction::SendRecv,
            session_id,
            session_version: session_id,
        }
    }

    fn session(&self, media: Vec<MediaDescription>) -> SessionDescription {
        let fam = if self.ip.is_ipv4() { "IP4" } else { "IP6" };
        SessionDescription {
            origin: format!(
                "hotline {} {} IN {} {}",
                self.session_id, self.session_version, fam, self.ip
            ),
            session_name: "hotline".to_owned(),
            connection: Some(self.ip),
            direction: None,
            media,
        }
    }
}

/// Result of a completed offer/answer exchange: how to send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP (from the peer's `c=`/`m=`); `None` when the peer gave 0.0.0.0 or port 0.
    pub remote: Option<SocketAddr>,
    /// Audio codec.
    pub codec: Codec,
    /// Payload type for the codec (as the peer numbered it).
    pub payload_type: u8,
    /// telephone-event payload type, if both sides have it.
    pub telephone_event_pt: Option<u8>,
    /// Our direction (whether we may send / should expect to receive).
    pub direction: Direction,
    /// Packetisation time in ms (we always send 20).
    pub ptime: u32,
}

fn remote_of(
    sd: &SessionDescription,
    m: &MediaDescription,
) -> Result<Option<SocketAddr>, SdpError> {
    let ip = sd.connection_for(m).ok_or(SdpError::NoConnection)?;
    if ip.is_unspecified() || m.port == 0 {
        return Ok(None);
    }
    Ok(Some(SocketAddr::new(ip, m.port)))
}

fn is_audio_rtp(m: &MediaDescription) -> bool {
    m.media == "audio" && m.proto.starts_with("RTP/AVP") && m.port != 0
}

fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        proto: m.proto.clone(),
        formats: m.formats.iter().take(1).cloned().collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        direction: None,
        other_attributes: Vec::new(),
    }
}

fn audio_section(
    port: u16,
    proto: &str,
    codec: (Codec, u8),
    extra_codecs: &[(Codec, u8)],
    te: Option<(u8, String)>,
    direction: Direction,
) -> MediaDescription {
    let mut m = MediaDescription {
        media: "audio".to_owned(),
        port,
        proto: proto.to_owned(),
        formats: Vec::new(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: Some(20),
        direction: Some(direction),
        other_attributes: Vec::new(),
    };
    for (c, pt) in std::iter::once(&codec).chain(extra_codecs) {
        m.formats.push(pt.to_string());
        m.rtpmaps.push(RtpMap {
            payload_type: *pt,
            encoding: c.name().to_owned(),
            clock_rate: 8000,
            channels: None,
        });
    }
    if let Some((pt, fmtp)) = te {
        m.formats.push(pt.to_string());
        m.rtpmaps.push(RtpMap {
            payload_type: pt,
            encoding: "telephone-event".to_owned(),
            clock_rate: 8000,
            channels: None,
        });
        m.fmtps.push((pt, fmtp));
    }
    m
}

/// Builds our answer to `offer` (RFC 3264 §6): the first audio stream with a codec we support
/// is accepted with the caller's FIRST supported codec; other streams are rejected (port 0).
pub fn answer_offer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<(SessionDescription, NegotiatedMedia), SdpError> {
    let mut chosen: Option<NegotiatedMedia> = None;
    let mut media = Vec::with_capacity(offer.media.len());
    for m in &offer.media {
        if chosen.is_some() || !is_audio_rtp(m) {
            media.push(rejected(m));
            continue;
        }
        let codec = m.payload_types().find_map(|pt| {
            m.codec_of(pt)
                .filter(|c| local.codecs.contains(c))
                .map(|c| (c, pt))
        });
        let Some((codec, pt)) = codec else {
            media.push(rejected(m));
            continue;
        };
        let te = match local.telephone_event_pt {
            Some(_) => m.telephone_event_pt(),
            None => None,
        };
        let te_fmtp = te.map(|pt| {
            let f = m
                .fmtps
                .iter()
                .find(|(p, _)| *p == pt)
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| "0-15".to_owned());
            (pt, f)
        });
        let mut offered_dir = offer.direction_for(m);
        let remote = remote_of(offer, m)?;
        if remote.is_none() && m.port != 0 {
            // RFC 2543-style hold: c=0.0.0.0 means "do not send to me".
            offered_dir = Direction::from_flags(offered_dir.flags().0, false);
        }
        let direction = offered_dir.answer_to(local.direction);
        media.push(audio_section(
            local.port,
            &m.proto,
            (codec, pt),
            &[],
            te_fmtp,
            direction,
        ));
        chosen = Some(NegotiatedMedia {
            remote,
            codec,
            payload_type: pt,
            telephone_event_pt: te,
            direction,
            ptime: 20,
        });
    }
    let negotiated = match chosen {
        Some(n) => n,
        None if offer.media.iter().any(is_audio_rtp) => return Err(SdpError::NoCommonCodec),
        None => return Err(SdpError::NoAudio),
    };
    Ok((local.session(media), negotiated))
}

/// Builds our offer: one audio stream with our codecs (static PTs), telephone-event, ptime 20.
pub fn build_offer(local: &LocalMedia) -> SessionDescription {
    let codecs: Vec<(Codec, u8)> = local.codecs.iter().map(|c| (*c, c.static_pt())).collect();
    let Some((first, rest)) = codecs.split_first() else {
        return local.session(Vec::new());
    };
    let te = local.telephone_event_pt.map(|pt| (pt, "0-16".to_owned()));
    let m = audio_section(local.port, "RTP/AVP", *first, rest, te, local.direction);
    local.session(vec![m])
}

/// Accepts the peer's answer to our offer made from `local`.
pub fn accept_answer(
    local: &LocalMedia,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, SdpError> {
    let m = answer
        .media
        .iter()
        .find(|m| m.media == "audio" && m.proto.starts_with("RTP/AVP"))
        .ok_or(SdpError::NoAudio)?;
    if m.port == 0 {
        return Err(SdpError::NoCommonCodec);
    }
    let (codec, pt) = m
        .payload_types()
        .find_map(|pt| {
            m.codec_of(pt)
                .filter(|c| local.codecs.contains(c))
                .map(|c| (c, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let te = if local.telephone_event_pt.is_some() {
        m.telephone_event_pt()
    } else {
        None
    };
    let remote = remote_of(answer, m)?;
    let peer_dir = answer.direction_for(m);
    // Our effective direction: what we asked for, limited by the answer.
    let direction = peer_dir.answer_to(local.direction);
    Ok(NegotiatedMedia {
        remote,
        codec,
        payload_type: pt,
        telephone_event_pt: te,
        direction,
        ptime: m.ptime.unwrap_or(20),
    })
}
