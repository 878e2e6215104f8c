//! hotline-media: RTP media for the hotline — G.711 call legs that play prompts, hear keys,
//! record and bridge (RFC 3550 RTP, RFC 4566/3264 SDP offer/answer, RFC 4733 DTMF).
//!
//! Protocol logic is sans-I/O (fed with bytes and `now`, tested in virtual time); only
//! [`leg`] and [`port`] touch tokio and sockets. SIP is not known here: SDP goes in and out
//! as opaque bytes that `hotline-sip` carries.
//!
//! # Module layout
//!
//! | module | what | RFC |
//! |---|---|---|
//! | [`g711`] | µ-law/A-law tables, [`sdp::Codec`] encode/decode/transcode | G.711, 3551 §4.5.14 |
//! | [`rtp`] | RTP packets read and built with the `rtp-rs` crate; RTCP demux, wrap-safe seq/ts arithmetic (ours) | 3550 §5.1, 5761 §4 |
//! | [`sdp`] | SDP parse/build, [`sdp::answer_offer`], [`sdp::build_offer`], [`sdp::accept_answer`] | 4566, 3264 |
//! | [`session`] | [`session::RtpSession`]: SSRC/seq/ts, symmetric RTP latching, garbage/RTCP drop, inactivity | 3550, 4961 |
//! | [`prompt`] | [`prompt::PromptCache`]: WAV decoded once, encoded once per codec, shared | — |
//! | [`player`] | [`player::Playback`]: 20 ms frames paced from `start + n·20 ms`, prompt sequences, loops | 3551 |
//! | [`dtmf`] | telephone-event payloads, [`dtmf::DtmfReceiver`] (one digit per event), [`dtmf::DtmfSender`] | 4733 §2 |
//! | [`inband`] | Goertzel in-band DTMF detector and tone generator | Q.23/Q.24 |
//! | [`collector`] | [`collector::DigitCollector`]: first/inter-digit timeouts, terminator, max digits | — |
//! | [`recorder`] | [`recorder::Recorder`]: max length, end key, silence end, minimum length | — |
//! | [`wav`] | incremental WAV sink with periodic header updates, [`wav::repair_wav`] | RIFF/WAVE |
//! | [`mixer`] | two-party mix for bridge recordings | — |
//! | [`leg_core`] | [`leg_core::LegCore`]: the sans-I/O engine of one leg (all of the above + bridge relay) | — |
//! | [`port`] | even-port allocation in a range (default 10000-20000) | 3550 §11 |
//! | [`leg`] | tokio driver: [`MediaLeg`] handle, one task per leg | — |
//! | [`mod@bridge`] | [`bridge()`] two legs, [`Bridge`] handle | — |
//! | [`error`] | [`MediaError`] at the driver boundary | — |
//!
//! # Public API for the IVR
//!
//! - [`MediaConfig`] (port range, local/advertised IP, [`leg_core::LegConfig`] with the
//!   inactivity timeout, RNG seed, `shutdown` [`tokio_util::sync::CancellationToken`]).
//! - [`MediaLeg::bind`]; SDP: [`MediaLeg::local_sdp_answer`] (offer in, answer out; also for
//!   hold/unhold re-INVITEs), [`MediaLeg::offer`] + [`MediaLeg::accept_answer`] (calls to agents,
//!   offerless INVITEs).
//! - [`MediaLeg::play`] / [`MediaLeg::play_looping`] → [`leg_core::PlayOutcome`]
//!   (`Completed`, `Interrupted(key)`, `Stopped`); [`MediaLeg::stop_play`].
//! - [`MediaLeg::collect_digits`] with [`collector::CollectSpec`] → [`collector::Collected`]
//!   (`digits: String`, end reason). Keys typed during a prompt (type-ahead, including the
//!   barge-in key) are kept for the next collection; [`MediaLeg::flush_digits`] drops them.
//! - [`MediaLeg::record`] with [`recorder::RecordSpec`] → [`recorder::RecordOutcome`].
//! - [`MediaLeg::dtmf_events`] (broadcast of every key), [`MediaLeg::inject_dtmf`] (SIP INFO),
//!   [`MediaLeg::send_dtmf`].
//! - [`MediaLeg::inactive`] resolves when no RTP came for the timeout (hang up the call).
//! - [`bridge()`] two legs (optional mixed recording; returns once both relay) →
//!   [`Bridge::stop`] (path and length of the recording).
//! - [`MediaLeg::close`] (or drop, or cancel `shutdown`): playback ends `Stopped`, a recording
//!   in progress is finalised, the port is freed.
//! - [`wav::repair_wav`] on start-up for recordings left by a crash.
//!
//! ```no_run
//! # async fn ivr(offer_sdp: &[u8]) -> Result<(), hotline_media::MediaError> {
//! use hotline_media::{MediaConfig, MediaLeg, collector::CollectSpec, leg_core::PlayOutcome};
//! let prompts = hotline_media::prompt::PromptCache::new("prompts/zh-CN");
//! let config = MediaConfig::new("192.0.2.1".parse().unwrap());
//! let leg = MediaLeg::bind(&config).await?;
//! let answer_sdp = leg.local_sdp_answer(offer_sdp)?; // → 200 OK body
//! let menu = prompts.get("menu")?;
//! if let PlayOutcome::Completed = leg.play(&[menu], true).await? { /* no key yet */ }
//! let number = leg.collect_digits(CollectSpec { max_digits: 11, ..Default::default() }).await?;
//! let msg = leg.record("var/voicemail/1.wav".as_ref(), Default::default()).await?;
//! leg.close().await;
//! # let _ = (answer_sdp, number, msg); Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//!
//! - Symmetric RTP with probation: we send to the SDP address until a source has sent three
//!   in-sequence packets of one SSRC, then to that source; while it is active, RTP from any
//!   other source is dropped (`dropped_foreign`), so audio/DTMF cannot be injected.
//! - A re-offer that holds us (`sendonly`, `inactive`, `c=0.0.0.0`) stops our sending and
//!   suspends the inactivity timer; resuming sends a marker bit.
//! - RTCP is not bound on the odd port and is ignored when multiplexed on the RTP port.
//! - No jitter buffer: recordings and relays follow arrival order; duplicates and late packets
//!   are dropped, gaps of up to 1 s become silence in recordings.
//! - In-band (Goertzel) detection runs only on legs that negotiated no telephone-event; without
//!   telephone-event, [`MediaLeg::send_dtmf`] plays tones (replacing a playback in progress).
//! - Recording files are written from the leg's task (small buffered writes, header rewritten
//!   every second); run [`wav::repair_wav`] on leftovers after a crash.
//!
//! Performance design: one tokio task per leg that sleeps until its next frame is due (tokio's
//! timer wheel, 1 ms resolution, serves all legs), makes the frame [`leg::DEFAULT_SEND_AHEAD`]
//! early and hands it to the process's [`pacer::Pacer`] thread, which sends it at its own
//! instant (and may run at real-time priority); [`player::FrameGrid`] spreads the legs over
//! the 20 ms frame. Prompt audio is shared (`Arc`), so a leg costs its socket, its task and a
//! few small buffers. See `BENCHMARKS.md`.

pub mod bridge;
pub mod collector;
pub mod dtmf;
pub mod error;
pub mod g711;
pub mod inband;
pub mod leg;
pub mod leg_core;
pub mod mixer;
pub mod pacer;
pub mod player;
pub mod port;
pub mod prompt;
pub mod recorder;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod wav;

pub use bridge::{Bridge, bridge};
pub use error::MediaError;
pub use leg::{LegStats, MediaConfig, MediaLeg};
