//! Sans-I/O engine of one call leg: an [`RtpSession`] plus what the IVR does with it — prompt
//! playback with barge-in, RFC 4733 / in-band / SIP INFO DTMF, recording, and relaying to a
//! bridged leg with sequence/timestamp/SSRC continuity and PCMU↔PCMA transcoding.
//! The tokio driver in [`crate::leg`] feeds it datagrams, commands and clock ticks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::dtmf::{DtmfReceiver, DtmfSender, digit_to_event, event_to_digit};
use crate::inband::{InbandDetector, dtmf_tone};
use crate::mixer::{Mixer, Side};
use crate::player::{FRAME, FRAME_SAMPLES, Playback};
use crate::prompt::Prompt;
use crate::recorder::{RecordOutcome, Recorder};
use crate::rtp::{seq_delta, ts_delta};
use crate::sdp::{Codec, NegotiatedMedia};
use crate::session::{RtpSession, SessionConfig, SessionEvent, SessionStats, Transmit};
use crate::wav::WavError;

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// Goertzel detection on the audio.
    Inband,
    /// SIP INFO, injected by the signalling layer.
    SipInfo,
}

/// A received key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// `0-9`, `*`, `#`, `A-D`.
    pub digit: char,
    /// How it arrived.
    pub source: DtmfSource,
}

/// How a playback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayOutcome {
    /// Every frame was sent.
    Completed,
    /// A key was pressed and barge-in was asked for. The key stays in the digit queue.
    Interrupted(char),
    /// Stopped by the application, replaced by another playback, or the leg closed.
    Stopped,
}

/// Things the driver must act on.
#[derive(Debug)]
pub enum LegEvent {
    /// A key press.
    Dtmf(DtmfEvent),
    /// Playback `id` ended.
    PlayDone {
        /// Id given to [`LegCore::play`].
        id: u64,
        /// How.
        outcome: PlayOutcome,
    },
    /// Recording `id` ended.
    RecordDone {
        /// Id given to [`LegCore::record`].
        id: u64,
        /// Outcome or file error.
        result: Result<RecordOutcome, WavError>,
    },
    /// No RTP for the configured time: hang up.
    Inactive,
    /// Media now goes to this address (symmetric RTP).
    RemoteLatched(SocketAddr),
}

/// What a leg hands to its bridged peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayKind {
    /// G.711 audio in this codec.
    Audio(Codec),
    /// A telephone-event payload.
    Event,
    /// A digit known only as a digit (SIP INFO): the peer regenerates it.
    Digit(char),
}

/// A unit relayed between bridged legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayFrame {
    /// Kind.
    pub kind: RelayKind,
    /// Source SSRC (changes force a timestamp re-anchor and a marker).
    pub ssrc: u32,
    /// Source timestamp.
    pub timestamp: u32,
    /// Source marker bit.
    pub marker: bool,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

/// Leg settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegConfig {
    /// RTP session settings (inactivity timeout, symmetric RTP).
    pub session: SessionConfig,
    /// Length of each DTMF digit we send.
    pub dtmf_tone: Duration,
    /// Pause between DTMF digits we send.
    pub dtmf_gap: Duration,
    /// Playback frames are produced this long before they are due and carry their due
    /// instant ([`Transmit::due`]) so a pacer can send them on time; zero = produce each
    /// frame at its deadline and send it at once.
    pub send_ahead: Duration,
}

impl Default for LegConfig {
    fn default() -> Self {
        LegConfig {
            session: SessionConfig::default(),
            dtmf_tone: Duration::from_millis(100),
            dtmf_gap: Duration::from_millis(60),
            send_ahead: Duration::ZERO,
        }
    }
}

#[derive(Debug)]
struct Playing {
    id: u64,
    playback: Playback,
    barge_in: bool,
}

#[derive(Debug, Default)]
struct RelayIn {
    /// (source SSRC, timestamp offset) of the stream we are forwarding.
    anchor: Option<(u32, u32)>,
    /// Force a re-anchor and marker on the next relayed packet.
    resync: bool,
    /// Dedupe of relayed events when we must regenerate them.
    events: DtmfReceiver,
}

/// The engine of one leg.
pub struct LegCore {
    session: RtpSession,
    media: Option<NegotiatedMedia>,
    playing: Option<Playing>,
    dtmf_rx: DtmfReceiver,
    dtmf_tx: DtmfSender,
    spurt_marker: bool,
    inband: Option<InbandDetector>,
    recording: Option<(u64, Recorder)>,
    bridged: bool,
    mixer: Option<(Arc<Mutex<Mixer>>, Side)>,
    relay_in: RelayIn,
    relay_out: VecDeque<RelayFrame>,
    events: VecDeque<LegEvent>,
    decoded: Vec<i16>,
    /// (SSRC, sequence, timestamp) of the last audio packet, to skip duplicates/late packets
    /// and fill gaps (lost packets) with silence in recordings.
    last_audio: Option<(u32, u16, u32)>,
    /// Received RTP with a payload type we do not know.
    pub unknown_payload: u64,
    send_ahead: Duration,
    frame_anchor: Option<Instant>,
    /// A frame after the last playback frame made. A frame is made `send_ahead` before its
    /// instant and a playback completes when its last one is made, so a prompt played right
    /// after another would otherwise start on that last frame's instant: two packets at once
    /// with the same RTP timestamp.
    next_frame_at: Option<Instant>,
}

impl std::fmt::Debug for LegCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegCore")
            .field("session", &self.session)
            .field("media", &self.media)
            .finish_non_exhaustive()
    }
}

impl LegCore {
    /// A leg with no negotiated media yet.
    pub fn new(now: Instant, rng: &mut impl RngCore, config: LegConfig) -> Self {
        LegCore {
            session: RtpSession::new(now, rng, config.session),
            media: None,
            playing: None,
            dtmf_rx: DtmfReceiver::new(),
            dtmf_tx: DtmfSender::new(config.dtmf_tone, config.dtmf_gap),
            spurt_marker: false,
            inband: None,
            recording: None,
            bridged: false,
            mixer: None,
            relay_in: RelayIn::default(),
            relay_out: VecDeque::new(),
            events: VecDeque::new(),
            decoded: Vec::with_capacity(FRAME_SAMPLES),
            last_audio: None,
            unknown_payload: 0,
            send_ahead: config.send_ahead,
            frame_anchor: None,
            next_frame_at: None,
        }
    }

    /// Puts every later playback on `anchor`'s 20 ms grid (see [`Playback::on_grid`]): its
    /// first frame waits for the next grid instant (under 20 ms).
    pub fn set_frame_anchor(&mut self, anchor: Instant) {
        self.frame_anchor = Some(anchor);
    }

    /// Applies an offer/answer result (initial or re-INVITE).
    pub fn set_media(&mut self, now: Instant, media: NegotiatedMedia) {
        self.session.set_remote(media.remote);
        // On hold (we only send, or nothing flows) the peer sends no RTP: no inactivity hangup.
        self.session.set_expect_rtp(now, media.direction.flags().1);
        // Resuming after hold starts a new talk spurt.
        if !self.can_send() && media.direction.flags().0 {
            self.spurt_marker = true;
            self.relay_in.resync = true;
        }
        self.inband = match media.telephone_event_pt {
            Some(_) => None,
            None => Some(self.inband.take().unwrap_or_default()),
        };
        self.media = Some(media);
    }

    /// The negotiated media.
    pub fn media(&self) -> Option<&NegotiatedMedia> {
        self.media.as_ref()
    }

    /// Session counters.
    pub fn stats(&self) -> SessionStats {
        self.session.stats()
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.session.ssrc()
    }

    fn can_send(&self) -> bool {
        self.media.is_some_and(|m| m.direction.flags().0)
    }

    /// Feeds one datagram from the socket.
    pub fn handle_packet(&mut self, now: Instant, src: SocketAddr, data: &[u8]) {
        let Some(packet) = self.session.handle_packet(now, src, data) else {
            self.drain_session_events();
            return;
        };
        self.drain_session_events();
        let Some(media) = self.media else {
            return;
        };
        if Some(packet.payload_type) == media.telephone_event_pt {
            if self.bridged {
                self.relay_out.push_back(RelayFrame {
                    kind: RelayKind::Event,
                    ssrc: packet.ssrc,
                    timestamp: packet.timestamp,
                    marker: packet.marker,
                    payload: packet.payload.to_vec(),
                });
            }
            if let Some(d) = self
                .dtmf_rx
                .handle(packet.ssrc, packet.timestamp, packet.payload)
            {
                self.on_digit(now, d, DtmfSource::Rfc4733);
            }
            return;
        }
        let codec = if packet.payload_type == media.payload_type {
            media.codec
        } else {
            match packet.payload_type {
                0 => Codec::Pcmu,
                8 => Codec::Pcma,
                _ => {
                    self.unknown_payload += 1;
                    return;
                }
            }
        };
        // Lost packets become silence (up to 1 s) so recordings keep real time; duplicates and
        // late packets are not recorded twice.
        let mut gap = 0usize;
        if let Some((ssrc, seq, ts)) = self.last_audio
            && ssrc == packet.ssrc
        {
            let ahead = seq_delta(seq, packet.sequence);
            if (-100..=0).contains(&ahead) {
                return; // duplicate or late; a bigger jump back is a sender restart
            }
            let expected = ts.wrapping_add(packet.payload.len() as u32);
            let d = ts_delta(expected, packet.timestamp);
            if ahead > 0 && d > 0 && d <= 8000 {
                gap = d as usize;
            }
        }
        self.last_audio = Some((packet.ssrc, packet.sequence, packet.timestamp));
        self.decoded.clear();
        self.decoded.resize(gap, 0);
        self.decoded
            .extend(packet.payload.iter().map(|c| codec.decode(*c)));
        if self.bridged {
            self.relay_out.push_back(RelayFrame {
                kind: RelayKind::Audio(codec),
                ssrc: packet.ssrc,
                timestamp: packet.timestamp,
                marker: packet.marker,
                payload: packet.payload.to_vec(),
            });
        }
        if let Some((mixer, side)) = &self.mixer {
            mixer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(*side, &self.decoded);
        }
        if let Some((_, rec)) = self.recording.as_mut() {
            rec.handle_audio(now, &self.decoded);
        }
        let digits = match self.inband.as_mut() {
            Some(det) => det.push(&self.decoded),
            None => Vec::new(),
        };
        for d in digits {
            self.on_digit(now, d, DtmfSource::Inband);
        }
        self.check_recording();
    }

    fn drain_session_events(&mut self) {
        while let Some(ev) = self.session.poll_event() {
            self.events.push_back(match ev {
                SessionEvent::RemoteLatched(a) => LegEvent::RemoteLatched(a),
                SessionEvent::Inactive => LegEvent::Inactive,
            });
        }
    }

    fn on_digit(&mut self, now: Instant, digit: char, source: DtmfSource) {
        self.events
            .push_back(LegEvent::Dtmf(DtmfEvent { digit, source }));
        if let Some(p) = &self.playing
            && p.barge_in
        {
            self.finish_play(PlayOutcome::Interrupted(digit));
        }
        if let Some((_, rec)) = self.recording.as_mut() {
            rec.handle_digit(now, digit);
        }
        self.check_recording();
    }

    /// A digit delivered by SIP INFO (`application/dtmf-relay`, `application/dtmf`).
    pub fn inject_dtmf(&mut self, now: Instant, digit: char) {
        let Some(digit) = digit_to_event(digit).and_then(event_to_digit) else {
            return;
        };
        if self.bridged {
            self.relay_out.push_back(RelayFrame {
                kind: RelayKind::Digit(digit),
                ssrc: 0,
                timestamp: 0,
                marker: true,
                payload: Vec::new(),
            });
        }
        self.on_digit(now, digit, DtmfSource::SipInfo);
    }

    fn finish_play(&mut self, outcome: PlayOutcome) {
        if let Some(p) = self.playing.take()
            && p.id != 0
        {
            self.events
                .push_back(LegEvent::PlayDone { id: p.id, outcome });
        }
        self.relay_in.resync = true;
    }

    /// The instant new media (a prompt, a relayed talk spurt, a DTMF event) starts at: `now`,
    /// or the instant after the last playback frame made when that is later (that frame may
    /// still wait in the pacer), so RTP timestamps never repeat or go back.
    fn media_now(&self, now: Instant) -> Instant {
        self.next_frame_at.map_or(now, |n| n.max(now))
    }

    /// Starts playing prompts back-to-back (replacing any playback, which ends `Stopped`).
    /// `id` 0 is reserved for internal playbacks that report nothing.
    pub fn play(
        &mut self,
        now: Instant,
        id: u64,
        prompts: Vec<Prompt>,
        barge_in: bool,
        looping: bool,
    ) {
        self.finish_play(PlayOutcome::Stopped);
        let codec = self.media.map(|m| m.codec).unwrap_or(Codec::Pcmu);
        let start = self.media_now(now);
        let mut playback =
            Playback::new(start, prompts, codec, looping).send_ahead(self.send_ahead);
        if let Some(anchor) = self.frame_anchor {
            playback = playback.on_grid(anchor);
        }
        self.playing = Some(Playing {
            id,
            playback,
            barge_in,
        });
        self.handle_timeout(now);
    }

    /// Stops playback (reported as `Stopped`).
    pub fn stop_play(&mut self) {
        self.finish_play(PlayOutcome::Stopped);
    }

    /// Sends digits: RFC 4733 when negotiated, else as in-band tones (replacing playback).
    pub fn send_dtmf(&mut self, now: Instant, digits: &str) {
        let te = self.media.and_then(|m| m.telephone_event_pt);
        if te.is_some() {
            let at = self.media_now(now);
            for d in digits.chars() {
                self.dtmf_tx.push(at, d);
            }
        } else {
            let mut samples = Vec::new();
            for d in digits.chars() {
                if let Some(t) = dtmf_tone(d, 800, 5000.0) {
                    samples.extend(t);
                    samples.extend(std::iter::repeat_n(0, 480));
                }
            }
            if !samples.is_empty() {
                self.play(
                    now,
                    0,
                    vec![Prompt::from_samples("dtmf", samples)],
                    false,
                    false,
                );
            }
        }
        self.handle_timeout(now);
    }

    /// Starts recording what the peer says (any recording in progress is stopped first).
    pub fn record(&mut self, now: Instant, id: u64, recorder: Recorder) {
        if let Some((_, r)) = self.recording.as_mut() {
            r.stop();
        }
        self.check_recording();
        self.recording = Some((id, recorder));
        let _ = now;
    }

    /// Stops recording (reported with `RecordEnd::Stopped`).
    pub fn stop_record(&mut self) {
        if let Some((_, r)) = self.recording.as_mut() {
            r.stop();
        }
        self.check_recording();
    }

    fn check_recording(&mut self) {
        if self.recording.as_ref().is_some_and(|(_, r)| r.is_done())
            && let Some((id, rec)) = self.recording.take()
        {
            self.events.push_back(LegEvent::RecordDone {
                id,
                result: rec.finish(),
            });
        }
    }

    /// Enters bridge mode: inbound audio/DTMF is offered with [`LegCore::poll_relay`], frames
    /// from the peer are accepted with [`LegCore::handle_relay`]; inbound audio also goes to
    /// `mixer` (as `side`) when recording the bridge.
    pub fn bridge(&mut self, mixer: Option<(Arc<Mutex<Mixer>>, Side)>) {
        self.bridged = true;
        self.mixer = mixer;
        self.relay_in.resync = true;
    }

    /// Leaves bridge mode.
    pub fn unbridge(&mut self) {
        self.bridged = false;
        self.mixer = None;
        self.relay_out.clear();
    }

    /// A frame from the bridged peer: rewritten into our stream (our SSRC and sequence,
    /// timestamps re-anchored on our media clock) and transcoded if the codecs differ.
    pub fn handle_relay(&mut self, now: Instant, frame: RelayFrame) {
        if !self.bridged || !self.can_send() {
            return;
        }
        let Some(media) = self.media else {
            return;
        };
        let busy = self.playing.is_some() || self.dtmf_tx.is_active();
        match frame.kind {
            RelayKind::Digit(d) => {
                self.send_dtmf(now, &d.to_string());
            }
            RelayKind::Event => match media.telephone_event_pt {
                Some(pt) if !busy => {
                    let (ts, marker) = self.relay_timestamp(now, &frame);
                    self.session.send(pt, marker, ts, &frame.payload);
                }
                Some(_) => {}
                None => {
                    if let Some(d) =
                        self.relay_in
                            .events
                            .handle(frame.ssrc, frame.timestamp, &frame.payload)
                    {
                        self.send_dtmf(now, &d.to_string());
                    }
                }
            },
            RelayKind::Audio(from) => {
                if busy {
                    return;
                }
                let (ts, marker) = self.relay_timestamp(now, &frame);
                let mut payload = frame.payload;
                if from != media.codec {
                    for c in payload.iter_mut() {
                        *c = media.codec.transcode_from(from, *c);
                    }
                }
                self.session.send(media.payload_type, marker, ts, &payload);
            }
        }
    }

    fn relay_timestamp(&mut self, now: Instant, frame: &RelayFrame) -> (u32, bool) {
        let mut marker = frame.marker;
        let offset = match self.relay_in.anchor {
            Some((ssrc, off)) if ssrc == frame.ssrc && !self.relay_in.resync => off,
            _ => {
                let at = self.media_now(now);
                let off = self
                    .session
                    .media_timestamp(at)
                    .wrapping_sub(frame.timestamp);
                self.relay_in.anchor = Some((frame.ssrc, off));
                self.relay_in.resync = false;
                marker = true;
                off
            }
        };
        (frame.timestamp.wrapping_add(offset), marker)
    }

    /// Next frame for the bridged peer.
    pub fn poll_relay(&mut self) -> Option<RelayFrame> {
        self.relay_out.pop_front()
    }

    /// Advances timers: sends due playback frames and DTMF packets, checks inactivity,
    /// recording limits.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
        self.drain_session_events();
        let media = self.media;
        let can_send = self.can_send();
        // DTMF events take precedence over audio.
        while let Some(p) = self.dtmf_tx.poll_packet(now) {
            if let (true, Some(pt)) = (can_send, media.and_then(|m| m.telephone_event_pt)) {
                let ts = self.session.media_timestamp(p.started);
                self.session.send(pt, p.marker, ts, &p.event.to_bytes());
            }
            self.spurt_marker = true;
            self.relay_in.resync = true;
        }
        let dtmf_active = self.dtmf_tx.is_active();
        if let Some(playing) = self.playing.as_mut() {
            while let Some(frame) = playing.playback.poll_frame(now) {
                self.next_frame_at = Some(frame.at + FRAME);
                if let (true, false, Some(m)) = (can_send, dtmf_active, media) {
                    let marker = frame.marker || self.spurt_marker;
                    self.spurt_marker = false;
                    let ts = self.session.media_timestamp(frame.at);
                    self.session.send_due(
                        m.payload_type,
                        marker,
                        ts,
                        &frame.payload,
                        Some(frame.at),
                    );
                }
            }
            if playing.playback.is_finished() {
                self.finish_play(PlayOutcome::Completed);
            }
        }
        if let Some((_, r)) = self.recording.as_mut() {
            r.handle_timeout(now);
        }
        self.check_recording();
    }

    /// Earliest instant [`LegCore::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.session.poll_timeout(),
            self.dtmf_tx.poll_timeout(),
            self.playing
                .as_ref()
                .and_then(|p| p.playback.poll_timeout()),
            self.recording.as_ref().and_then(|(_, r)| r.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Next datagram.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.session.poll_transmit()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<LegEvent> {
        self.events.pop_front()
    }

    /// The leg is closing: playback ends `Stopped`, the recording is finalised.
    pub fn shutdown(&mut self) {
        self.finish_play(PlayOutcome::Stopped);
        self.stop_record();
        self.unbridge();
    }
}

#[cfg(test)]
mod tests;
