//! The tokio driver of one call leg: a UDP socket from the port range, one task that feeds the
//! sans-I/O [`LegCore`] with datagrams, commands and timer ticks and drains its outputs, and the
//! [`MediaLeg`] handle the IVR uses (SDP, play, collect digits, record, DTMF, bridge).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::collector::{CollectSpec, Collected, DigitCollector};
use crate::error::MediaError;
use crate::leg_core::{DtmfEvent, LegConfig, LegCore, LegEvent, PlayOutcome, RelayFrame};
use crate::mixer::{Mixer, Side};
use crate::pacer::{Lateness, Pacer, SendSocket};
use crate::player::FrameGrid;
use crate::port::{PortRange, bind_in_range};
use crate::prompt::Prompt;
use crate::recorder::{RecordOutcome, RecordSpec, Recorder};
use crate::sdp::{self, LocalMedia, MediaDescription, NegotiatedMedia, SessionDescription};
use crate::session::SessionStats;
use crate::wav::{WavError, WavFileSink};

/// Settings for binding legs.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// RTP ports (even ones are used). Default 10000-20000.
    pub port_range: PortRange,
    /// Address to bind and to advertise in SDP.
    pub local_ip: IpAddr,
    /// Address to advertise if different (NAT); defaults to `local_ip`.
    pub advertised_ip: Option<IpAddr>,
    /// Engine settings (inactivity timeout default 60 s, DTMF timing).
    pub leg: LegConfig,
    /// Seed for SSRC/sequence/timestamp randomness (tests); `None` = OS entropy.
    pub seed: Option<u64>,
    /// Cancelled on process shutdown; every leg closes cleanly.
    pub shutdown: CancellationToken,
    /// The thread that sends playback frames at their due instant (see [`crate::pacer`]),
    /// shared by every leg bound with this config. `None`: each leg sends from its own task
    /// when tokio's 1 ms timer wakes it, and `leg.send_ahead` is ignored.
    pub pacer: Option<Pacer>,
    /// Gives each leg bound with this config its own phase of the 20 ms frame, so that legs
    /// send evenly spread even when calls arrive in step (a load generator's fixed rate); a
    /// playback's first frame waits for its leg's phase (under 20 ms). `None`: playback
    /// starts at once, on whatever phase the command arrived.
    pub frame_grid: Option<FrameGrid>,
}

/// How long before its deadline a playback frame is handed to the pacer by default: it covers
/// tokio's timer rounding (up to 1 ms) and several ms of scheduling delay of the leg task.
/// Under half a frame, so a barge-in key lets at most one already-queued frame out.
pub const DEFAULT_SEND_AHEAD: Duration = Duration::from_millis(8);

/// Real-time (SCHED_FIFO) priority the default pacer asks for (as Asterisk's `-p` does for
/// its whole process; here only the thread that sends RTP on time).
pub const DEFAULT_PACER_PRIORITY: u8 = 10;

/// A packet due this close to now leaves at once rather than through the pacer.
const PACE_MIN: Duration = Duration::from_micros(50);

/// Decides, per packet of one leg, whether it leaves now or through the pacer, so that the
/// leg's packets leave in the order they were made: once one waits in the pacer, the later
/// ones (DTMF, relayed audio, due "now") wait behind it.
#[derive(Debug, Default)]
struct SendOrder {
    /// Due instant of the last packet handed to the pacer.
    paced_until: Option<Instant>,
}

impl SendOrder {
    /// `Some(at)`: hand the packet to the pacer for `at`; `None`: send it now.
    fn route(&mut self, now: Instant, due: Option<Instant>) -> Option<Instant> {
        let at = due.unwrap_or(now).max(self.paced_until.unwrap_or(now));
        (at > now + PACE_MIN).then(|| {
            self.paced_until = Some(at);
            at
        })
    }
}

impl MediaConfig {
    /// Defaults for `local_ip`.
    pub fn new(local_ip: IpAddr) -> Self {
        MediaConfig {
            port_range: PortRange::default(),
            local_ip,
            advertised_ip: None,
            leg: LegConfig {
                send_ahead: DEFAULT_SEND_AHEAD,
                ..LegConfig::default()
            },
            seed: None,
            shutdown: CancellationToken::new(),
            pacer: Some(Pacer::new(Some(DEFAULT_PACER_PRIORITY))),
            frame_grid: Some(FrameGrid::new()),
        }
    }
}

/// Counters of a leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// RTP session counters.
    pub session: SessionStats,
    /// Datagrams the socket refused to send (buffer full) or failed.
    pub send_errors: u64,
}

pub(crate) enum Command {
    SetMedia(NegotiatedMedia),
    Play {
        prompts: Vec<Prompt>,
        barge_in: bool,
        looping: bool,
        reply: oneshot::Sender<PlayOutcome>,
    },
    StopPlay,
    Record {
        path: PathBuf,
        spec: RecordSpec,
        reply: oneshot::Sender<Result<RecordOutcome, WavError>>,
    },
    StopRecord,
    SendDtmf(String),
    InjectDtmf(char),
    Bridge {
        peer: mpsc::Sender<RelayFrame>,
        mixer: Option<(Arc<Mutex<Mixer>>, Side)>,
        done: oneshot::Sender<()>,
    },
    Unbridge,
    Stats(oneshot::Sender<LegStats>),
}

struct SdpState {
    local: LocalMedia,
    negotiated: Option<NegotiatedMedia>,
    /// Media sections of the last SDP we sent: the `o=` version only changes when they do
    /// (RFC 3264 §8).
    last_media: Option<Vec<MediaDescription>>,
}

impl SdpState {
    /// Bumps the session version if `media` differs from what we sent last; returns whether
    /// it did (the caller then rebuilds its SDP).
    fn bump_if_changed(&mut self, media: &[MediaDescription]) -> bool {
        let changed = self.last_media.as_deref().is_some_and(|m| m != media);
        if changed {
            self.local.session_version += 1;
        }
        self.last_media = Some(media.to_vec());
        changed
    }
}

impl std::fmt::Debug for SdpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdpState")
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

/// One call leg's media. Every method takes `&self`, so an IVR flow can `select!` between,
/// say, [`MediaLeg::collect_digits`] and [`MediaLeg::inactive`], or share the leg in an `Arc`
/// with the signalling task that answers re-INVITEs. Dropping it (or [`MediaLeg::close`])
/// stops the task: playback ends, the recording is finalised, the socket is released.
#[derive(Debug)]
pub struct MediaLeg {
    local_addr: SocketAddr,
    sdp: Mutex<SdpState>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) relay_tx: mpsc::Sender<RelayFrame>,
    digits: tokio::sync::Mutex<mpsc::UnboundedReceiver<DtmfEvent>>,
    dtmf_watch: broadcast::Sender<DtmfEvent>,
    inactive: watch::Receiver<bool>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl MediaLeg {
    /// Binds a socket on a free even port and starts the leg's task (needs a tokio runtime).
    pub async fn bind(config: &MediaConfig) -> Result<MediaLeg, MediaError> {
        let mut rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        let socket = bind_in_range(config.port_range, config.local_ip, rng.next_u32())
            .await
            .map_err(|source| MediaError::NoPort {
                range: config.port_range,
                source,
            })?;
        let local_addr = socket.local_addr()?;
        // Sends go through a plain non-blocking clone of the socket: a datagram that does not
        // fit is dropped (real time), and no readiness bookkeeping can wedge the sender.
        let std_socket = socket.into_std()?;
        let sender = Arc::new(SendSocket::new(std_socket.try_clone()?));
        let socket = UdpSocket::from_std(std_socket)?;
        let mut leg_config = config.leg;
        if config.pacer.is_none() {
            leg_config.send_ahead = Duration::ZERO;
        }
        let mut core = LegCore::new(Instant::now(), &mut rng, leg_config);
        if let Some(grid) = &config.frame_grid {
            core.set_frame_anchor(grid.next_anchor());
        }
        let (commands, cmd_rx) = mpsc::unbounded_channel();
        let (relay_tx, relay_rx) = mpsc::channel(64);
        let (digits_tx, digits) = mpsc::unbounded_channel();
        let (dtmf_watch, _) = broadcast::channel(16);
        let (inactive_tx, inactive) = watch::channel(false);
        let cancel = config.shutdown.child_token();
        let driver = Driver {
            core,
            socket,
            sender,
            pacer: config.pacer.clone(),
            order: SendOrder::default(),
            commands: cmd_rx,
            relay_rx,
            peer: None,
            digits: digits_tx,
            dtmf_watch: dtmf_watch.clone(),
            inactive: inactive_tx,
            pending_play: None,
            pending_record: None,
            next_id: 1,
        };
        let task = tokio::spawn(driver.run(cancel.clone()));
        let ip = config.advertised_ip.unwrap_or(config.local_ip);
        let session_id = u64::from(rng.next_u32());
        Ok(MediaLeg {
            local_addr,
            sdp: Mutex::new(SdpState {
                local: LocalMedia::new(ip, local_addr.port(), session_id),
                negotiated: None,
                last_media: None,
            }),
            commands,
            relay_tx,
            digits: tokio::sync::Mutex::new(digits),
            dtmf_watch,
            inactive,
            cancel,
            task: Some(task),
        })
    }

    /// The bound RTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    fn sdp(&self) -> std::sync::MutexGuard<'_, SdpState> {
        self.sdp.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes what we advertise (codecs, telephone-event PT, direction — `SendOnly` to put
    /// the peer on hold) for the next offer or answer.
    pub fn update_local_media(&self, f: impl FnOnce(&mut LocalMedia)) {
        f(&mut self.sdp().local);
    }

    /// The current offer/answer result.
    pub fn negotiated(&self) -> Option<NegotiatedMedia> {
        self.sdp().negotiated
    }

    pub(crate) fn send(&self, c: Command) -> Result<(), MediaError> {
        self.commands.send(c).map_err(|_| MediaError::Closed)
    }

    /// Answers an SDP offer (INVITE or re-INVITE body, e.g. hold/unhold); returns our answer
    /// body. A rejected offer leaves the current media unchanged.
    pub fn local_sdp_answer(&self, offer: &[u8]) -> Result<Vec<u8>, MediaError> {
        let offer = SessionDescription::parse(offer)?;
        let mut st = self.sdp();
        let (mut answer, n) = sdp::answer_offer(&offer, &st.local)?;
        if st.bump_if_changed(&answer.media) {
            answer = sdp::answer_offer(&offer, &st.local)?.0;
        }
        st.negotiated = Some(n);
        drop(st);
        self.send(Command::SetMedia(n))?;
        Ok(answer.to_bytes())
    }

    /// Our offer (outgoing call to an agent, or the 200 OK of an offerless INVITE).
    pub fn offer(&self) -> Vec<u8> {
        let mut st = self.sdp();
        let mut offer = sdp::build_offer(&st.local);
        if st.bump_if_changed(&offer.media) {
            offer = sdp::build_offer(&st.local);
        }
        offer.to_bytes()
    }

    /// Accepts the peer's answer to [`MediaLeg::offer`] (200 OK or ACK body).
    pub fn accept_answer(&self, answer: &[u8]) -> Result<(), MediaError> {
        let answer = SessionDescription::parse(answer)?;
        let mut st = self.sdp();
        let n = sdp::accept_answer(&st.local, &answer)?;
        st.negotiated = Some(n);
        drop(st);
        self.send(Command::SetMedia(n))
    }

    async fn play_inner(
        &self,
        prompts: &[Prompt],
        barge_in: bool,
        looping: bool,
    ) -> Result<PlayOutcome, MediaError> {
        if self.negotiated().is_none() {
            return Err(MediaError::NotNegotiated);
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Play {
            prompts: prompts.to_vec(),
            barge_in,
            looping,
            reply,
        })?;
        rx.await.map_err(|_| MediaError::Closed)
    }

    /// Plays prompts back-to-back. With `barge_in`, a key press stops playback and is returned
    /// as `Interrupted(key)`; the key also stays queued for [`MediaLeg::collect_digits`].
    pub async fn play(
        &self,
        prompts: &[Prompt],
        barge_in: bool,
    ) -> Result<PlayOutcome, MediaError> {
        self.play_inner(prompts, barge_in, false).await
    }

    /// Plays prompts in a loop (music on hold, queue wait) until [`MediaLeg::stop_play`],
    /// another playback, a key with `barge_in`, or close.
    pub async fn play_looping(
        &self,
        prompts: &[Prompt],
        barge_in: bool,
    ) -> Result<PlayOutcome, MediaError> {
        self.play_inner(prompts, barge_in, true).await
    }

    /// Stops the current playback (its `play` returns `Stopped`).
    pub fn stop_play(&self) -> Result<(), MediaError> {
        self.send(Command::StopPlay)
    }

    /// Discards keys typed so far (type-ahead). Does nothing while a collection runs.
    pub fn flush_digits(&self) {
        if let Ok(mut d) = self.digits.try_lock() {
            while d.try_recv().is_ok() {}
        }
    }

    /// Collects keys (type-ahead included) per `spec`. Digits keep leading zeros and `*`.
    /// Concurrent collections on one leg run one after the other.
    pub async fn collect_digits(&self, spec: CollectSpec) -> Result<Collected, MediaError> {
        let mut digits = self.digits.lock().await;
        let mut c = DigitCollector::new(Instant::now(), spec);
        loop {
            // Type-ahead first.
            while let Ok(ev) = digits.try_recv() {
                if c.handle_digit(Instant::now(), ev.digit) {
                    return c.result().ok_or(MediaError::Closed);
                }
            }
            let Some(deadline) = c.poll_timeout() else {
                return c.result().ok_or(MediaError::Closed);
            };
            tokio::select! {
                ev = digits.recv() => match ev {
                    Some(ev) => {
                        if c.handle_digit(Instant::now(), ev.digit) {
                            break;
                        }
                    }
                    None => {
                        c.hangup();
                        break;
                    }
                },
                () = tokio::time::sleep_until(deadline.into()) => {
                    if c.handle_timeout(Instant::now()) {
                        break;
                    }
                }
            }
        }
        c.result().ok_or(MediaError::Closed)
    }

    /// Records the caller to `path` (8 kHz mono 16-bit WAV, written incrementally).
    pub async fn record(&self, path: &Path, spec: RecordSpec) -> Result<RecordOutcome, MediaError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Record {
            path: path.to_owned(),
            spec,
            reply,
        })?;
        Ok(rx.await.map_err(|_| MediaError::Closed)??)
    }

    /// Stops the current recording (it ends `Stopped`, kept if long enough).
    pub fn stop_record(&self) -> Result<(), MediaError> {
        self.send(Command::StopRecord)
    }

    /// A stream of every key received (in addition to the digit queue).
    pub fn dtmf_events(&self) -> broadcast::Receiver<DtmfEvent> {
        self.dtmf_watch.subscribe()
    }

    /// Delivers a key received by SIP INFO.
    pub fn inject_dtmf(&self, digit: char) -> Result<(), MediaError> {
        self.send(Command::InjectDtmf(digit))
    }

    /// Sends keys to the peer (RFC 4733, or in-band tones if not negotiated).
    pub fn send_dtmf(&self, digits: &str) -> Result<(), MediaError> {
        self.send(Command::SendDtmf(digits.to_owned()))
    }

    /// Resolves when no RTP has arrived for the inactivity timeout (the call should be hung up),
    /// or when the leg has closed.
    pub async fn inactive(&self) {
        let mut rx = self.inactive.clone();
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Counters.
    pub async fn stats(&self) -> Result<LegStats, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Stats(tx))?;
        rx.await.map_err(|_| MediaError::Closed)
    }

    /// Closes the leg and waits for its task (recording finalised, socket released).
    pub async fn close(mut self) {
        self.cancel.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for MediaLeg {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Upper bounds (µs) of the wake-up lateness buckets of [`wakeup_lateness`]; the last bucket
/// is unbounded.
pub const LATENESS_BUCKETS_US: [u64; 8] = [250, 500, 1000, 2000, 5000, 10_000, 20_000, u64::MAX];

static LATENESS: Lateness = Lateness::new(&LATENESS_BUCKETS_US);

/// Process-wide histogram of how late leg tasks woke up after their timer deadline (playback
/// pacing, DTMF, timeouts), by [`LATENESS_BUCKETS_US`]. For metrics and benchmarks: the
/// driver-side share of the inter-packet jitter a receiver sees.
pub fn wakeup_lateness() -> [u64; 8] {
    LATENESS.snapshot()
}

struct Driver {
    core: LegCore,
    socket: UdpSocket,
    sender: Arc<SendSocket>,
    pacer: Option<Pacer>,
    order: SendOrder,
    commands: mpsc::UnboundedReceiver<Command>,
    relay_rx: mpsc::Receiver<RelayFrame>,
    peer: Option<mpsc::Sender<RelayFrame>>,
    digits: mpsc::UnboundedSender<DtmfEvent>,
    dtmf_watch: broadcast::Sender<DtmfEvent>,
    inactive: watch::Sender<bool>,
    pending_play: Option<(u64, oneshot::Sender<PlayOutcome>)>,
    pending_record: Option<(u64, oneshot::Sender<Result<RecordOutcome, WavError>>)>,
    next_id: u64,
}

impl Driver {
    async fn run(mut self, cancel: CancellationToken) {
        let mut buf = [0u8; 1500];
        // Long-lived futures: re-registering a timer and a cancellation waiter on every
        // iteration costs more than resetting them (this loop runs 50 times a second per leg).
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        loop {
            self.flush();
            let deadline = self.core.poll_timeout();
            if let Some(d) = deadline {
                let d = tokio::time::Instant::from_std(d);
                if sleep.deadline() != d {
                    sleep.as_mut().reset(d);
                }
            }
            // Biased: shutdown, then API commands (so a command issued before a packet arrives
            // applies to it), then pacing timers, which a datagram flood cannot starve.
            tokio::select! {
                biased;
                () = &mut cancelled => break,
                c = self.commands.recv() => match c {
                    Some(c) => self.command(c),
                    None => break,
                },
                () = &mut sleep, if deadline.is_some() => {
                    let now = Instant::now();
                    if let Some(d) = deadline {
                        LATENESS.record(now.saturating_duration_since(d));
                    }
                    self.core.handle_timeout(now);
                }
                Some(f) = self.relay_rx.recv(), if self.peer.is_some() => {
                    self.core.handle_relay(Instant::now(), f);
                }
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, src)) => {
                        self.core.handle_packet(Instant::now(), src, &buf[..n]);
                        // Drain a few more already queued without another poll round (bounded,
                        // so a flood cannot keep the task from its timers).
                        for _ in 0..32 {
                            let Ok((n, src)) = self.socket.try_recv_from(&mut buf) else {
                                break;
                            };
                            self.core.handle_packet(Instant::now(), src, &buf[..n]);
                        }
                    }
                    // ICMP port unreachable surfaces here on some systems: harmless.
                    Err(e) => tracing::trace!(error = %e, "RTP recv error"),
                },
            }
        }
        self.core.shutdown();
        self.flush();
        let _ = self.inactive.send(true);
    }

    fn command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::SetMedia(m) => self.core.set_media(now, m),
            Command::Play {
                prompts,
                barge_in,
                looping,
                reply,
            } => {
                let id = self.next_id;
                self.next_id += 1;
                // A replaced playback ends Stopped (the core's report for it will not match).
                if let Some((_, tx)) = self.pending_play.replace((id, reply)) {
                    let _ = tx.send(PlayOutcome::Stopped);
                }
                self.core.play(now, id, prompts, barge_in, looping);
            }
            Command::StopPlay => self.core.stop_play(),
            Command::Record { path, spec, reply } => match WavFileSink::create(&path) {
                Ok(sink) => {
                    let id = self.next_id;
                    self.next_id += 1;
                    // A recording in progress ends Stopped and is reported to its caller.
                    self.core.stop_record();
                    self.flush_events();
                    self.pending_record = Some((id, reply));
                    self.core
                        .record(now, id, Recorder::new(now, spec, path, Box::new(sink)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::StopRecord => self.core.stop_record(),
            Command::SendDtmf(d) => self.core.send_dtmf(now, &d),
            Command::InjectDtmf(d) => self.core.inject_dtmf(now, d),
            Command::Bridge { peer, mixer, done } => {
                self.peer = Some(peer);
                self.core.bridge(mixer);
                let _ = done.send(());
            }
            Command::Unbridge => {
                self.peer = None;
                self.core.unbridge();
            }
            Command::Stats(tx) => {
                let _ = tx.send(LegStats {
                    session: self.core.stats(),
                    send_errors: self.sender.send_errors(),
                });
            }
        }
    }

    fn flush_events(&mut self) {
        while let Some(ev) = self.core.poll_event() {
            match ev {
                LegEvent::Dtmf(d) => {
                    let _ = self.digits.send(d);
                    let _ = self.dtmf_watch.send(d);
                }
                LegEvent::PlayDone { id, outcome } => {
                    if self.pending_play.as_ref().is_some_and(|(p, _)| *p == id)
                        && let Some((_, tx)) = self.pending_play.take()
                    {
                        let _ = tx.send(outcome);
                    }
                }
                LegEvent::RecordDone { id, result } => {
                    if self.pending_record.as_ref().is_some_and(|(p, _)| *p == id)
                        && let Some((_, tx)) = self.pending_record.take()
                    {
                        let _ = tx.send(result);
                    }
                }
                LegEvent::Inactive => {
                    let _ = self.inactive.send(true);
                }
                LegEvent::RemoteLatched(a) => tracing::debug!(remote = %a, "RTP latched"),
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.core.poll_transmit() {
            if let Some(pacer) = &self.pacer
                && let Some(due) = self.order.route(Instant::now(), t.due)
            {
                pacer.schedule(due, self.sender.clone(), t.destination, t.payload);
                continue;
            }
            self.sender.send(&t.payload, t.destination);
        }
        while let Some(f) = self.core.poll_relay() {
            if let Some(p) = &self.peer {
                // Real time: drop rather than wait if the peer is behind.
                let _ = p.try_send(f);
            }
        }
        self.flush_events();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_due_now_waits_behind_one_already_paced() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut o = SendOrder::default();
        // Nothing queued: due now (or in the past, or within PACE_MIN) leaves at once.
        assert_eq!(o.route(t0, None), None);
        assert_eq!(o.route(t0 + ms(5), Some(t0)), None);
        assert_eq!(o.route(t0, Some(t0 + PACE_MIN)), None);
        // A frame made 8 ms ahead goes to the pacer ...
        assert_eq!(o.route(t0, Some(t0 + ms(8))), Some(t0 + ms(8)));
        // ... and a DTMF packet made 1 ms later follows it instead of overtaking.
        assert_eq!(o.route(t0 + ms(1), None), Some(t0 + ms(8)));
        // Once the queued frame's instant has passed, packets leave at once again.
        assert_eq!(o.route(t0 + ms(9), None), None);
        // A later frame is paced for its own instant, never earlier than the last one.
        assert_eq!(o.route(t0 + ms(20), Some(t0 + ms(28))), Some(t0 + ms(28)));
        assert_eq!(o.route(t0 + ms(21), Some(t0 + ms(25))), Some(t0 + ms(28)));
    }
}
