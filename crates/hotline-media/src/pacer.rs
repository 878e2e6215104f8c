//! Sends playback packets at their own due instant from one dedicated thread.
//!
//! Leg tasks sleep on tokio's timer wheel, which has a 1 ms resolution: every leg due in the
//! same millisecond wakes in the same tick, so at 2,000 calls about 100 packets leave in one
//! burst per millisecond, in an order that changes from tick to tick. A receiver sees that as
//! jitter, and a leg task delayed by the scheduler delays its packet by as much. With a pacer,
//! a leg produces each playback frame [`LegConfig::send_ahead`] early and hands it over a
//! shared inbox; this thread keeps the frames in a heap by due instant, naps to the
//! earliest (sleeps round up to the ~50 µs timer slack; it sends what is due within
//! 200 µs per wake-up) and sends them, so sends are spread the way their deadlines are.
//! It can run at real-time priority while the rest of the process does not.
//!
//! A leg keeps its own packets in order: once it has handed one to the pacer, its later
//! packets (DTMF, relayed audio) follow through the pacer too, never overtaking.
//!
//! The thread starts with the first packet and ends, after sending what it holds, when the
//! last [`Pacer`] handle is dropped (every leg holds one).
//!
//! [`LegConfig::send_ahead`]: crate::leg_core::LegConfig::send_ahead

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The pacer never sleeps longer than this while it holds packets, so a packet handed over
/// with less lead than the one it sleeps towards is still sent on time (within a nap).
const MAX_NAP: Duration = Duration::from_micros(250);
/// Every nap sleeps at least this long: a zero-length `sleep` returns at once, and a pacer
/// that wakes for every packet spends more on wake-ups than on sends (real-time threads have
/// no timer slack to round short sleeps up), which at real-time priority starves the leg
/// tasks sharing its core.
const MIN_NAP: Duration = Duration::from_micros(150);
/// Each wake-up sends what is due up to this far ahead: at 100,000 packets/s a wake-up per
/// packet would cost more than the sends (a sleep rounds up to the ~50 µs timer slack anyway).
const WINDOW: Duration = Duration::from_micros(200);

/// A leg's sending socket, shared between its task and the pacer.
#[derive(Debug)]
pub(crate) struct SendSocket {
    socket: UdpSocket,
    send_errors: AtomicU64,
}

impl SendSocket {
    pub(crate) fn new(socket: UdpSocket) -> Self {
        SendSocket {
            socket,
            send_errors: AtomicU64::new(0),
        }
    }

    /// Sends one datagram without blocking; a datagram that does not fit is dropped and
    /// counted (real time: late audio is worse than lost audio).
    pub(crate) fn send(&self, payload: &[u8], destination: SocketAddr) {
        if self.socket.send_to(payload, destination).is_err() {
            self.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn send_errors(&self) -> u64 {
        self.send_errors.load(Ordering::Relaxed)
    }
}

struct Job {
    due: Instant,
    seq: u64,
    socket: Arc<SendSocket>,
    destination: SocketAddr,
    payload: Vec<u8>,
}

impl PartialEq for Job {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Job {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest (due, seq) must come out first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// What the legs hand over, taken by the pacer in one swap per wake-up. A mutex rather than a
/// lock-free channel on purpose: a lock-free queue's reader spins while a writer is between
/// claiming a slot and filling it, and a real-time reader spinning on a normal-priority
/// writer preempted on the same core is a priority inversion (measured: stalls of ~100 ms).
/// A contended mutex sleeps instead.
#[derive(Default)]
struct Inbox {
    jobs: Vec<Job>,
    /// The thread waits on the condvar (nothing queued anywhere) rather than napping.
    idle: bool,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner {
    /// Real-time (SCHED_FIFO) priority the thread asks for; `None` = the process's policy.
    realtime: Option<u8>,
    /// What the thread got: [`PENDING`], [`GRANTED`] or [`REFUSED`].
    granted: Arc<AtomicU8>,
    shared: Arc<Shared>,
    started: OnceLock<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// Who sends playback frames (`rtp_pacing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtpPacing {
    /// One pacer thread sends every frame at its instant (the lowest jitter).
    #[default]
    Thread,
    /// Each call's task sends when tokio's 1 ms timer wakes it (about a third less CPU; the
    /// per-leg phase grid stays, which alone keeps the receiver's p99 under 2 ms).
    Timer,
}

impl std::str::FromStr for RtpPacing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "thread" => Ok(RtpPacing::Thread),
            "timer" => Ok(RtpPacing::Timer),
            _ => Err(format!("{s:?} is not \"thread\" or \"timer\"")),
        }
    }
}

/// Real-time (SCHED_FIFO) priority of the pacer thread (`rtp_pacer_priority`): 1-99, or 0 for
/// the normal scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PacerPriority(u8);

impl PacerPriority {
    /// The priority to ask for, `None` for the normal scheduler.
    pub fn realtime(self) -> Option<u8> {
        (self.0 > 0).then_some(self.0)
    }
}

impl TryFrom<u8> for PacerPriority {
    type Error = String;

    fn try_from(p: u8) -> Result<Self, Self::Error> {
        if p > 99 {
            return Err(format!(
                "{p} is not 0 (normal scheduling) or a real-time priority 1-99"
            ));
        }
        Ok(PacerPriority(p))
    }
}

impl From<PacerPriority> for u8 {
    fn from(p: PacerPriority) -> u8 {
        p.0
    }
}

impl std::str::FromStr for PacerPriority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let p: u8 = s
            .parse()
            .map_err(|_| format!("{s:?} is not 0 or a priority 1-99"))?;
        p.try_into()
    }
}

const PENDING: u8 = 0;
const GRANTED: u8 = 1;
const REFUSED: u8 = 2;

/// Handle to the pacing thread (cheap to clone; one per process is enough). Dropping the last
/// handle ends the thread once it has sent what it holds.
#[derive(Clone)]
pub struct Pacer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("realtime", &self.inner.realtime)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer; its thread starts with the first packet. With `realtime`, the thread asks
    /// for SCHED_FIFO at that priority (1-99) so that ordinary threads (ours, a database, a
    /// compiler) cannot delay a send by a scheduler time slice; the work it does is bounded
    /// (it sleeps between due instants). Without the privilege (root, CAP_SYS_NICE or
    /// `LimitRTPRIO=`) it logs a warning and runs at the process's policy.
    pub fn new(realtime: Option<u8>) -> Self {
        Pacer {
            inner: Arc::new(Inner {
                realtime,
                granted: Arc::new(AtomicU8::new(PENDING)),
                shared: Arc::default(),
                started: OnceLock::new(),
            }),
        }
    }

    /// The real-time priority the thread asks for.
    pub fn realtime(&self) -> Option<u8> {
        self.inner.realtime
    }

    /// Whether the thread runs at the real-time priority it asked for: `None` while that is
    /// not known yet (no priority asked for, or the thread has not started), `Some(false)`
    /// when the system refused it (the pacer then runs at the process's policy).
    pub fn realtime_granted(&self) -> Option<bool> {
        match self.inner.granted.load(Ordering::Acquire) {
            GRANTED => Some(true),
            REFUSED => Some(false),
            _ => None,
        }
    }

    /// Sends `payload` to `destination` from `socket` at `due`. Packets with the same `due`
    /// leave in the order they were scheduled.
    pub(crate) fn schedule(
        &self,
        due: Instant,
        socket: Arc<SendSocket>,
        destination: SocketAddr,
        payload: Vec<u8>,
    ) {
        self.inner.started.get_or_init(|| {
            let shared = self.inner.shared.clone();
            let realtime = self.inner.realtime;
            let granted = self.inner.granted.clone();
            if let Err(e) = std::thread::Builder::new()
                .name("rtp-pacer".into())
                .spawn(move || {
                    if let Some(p) = realtime {
                        let got = if set_realtime(p) { GRANTED } else { REFUSED };
                        granted.store(got, Ordering::Release);
                    }
                    run(&shared)
                })
            {
                // Nothing would drain the inbox: send from the caller rather than never.
                tracing::error!(error = %e, "RTP pacer thread did not start; sending unpaced");
                self.inner.shared.lock().closed = true;
            }
        });
        let mut inbox = self.inner.shared.lock();
        if inbox.closed {
            drop(inbox);
            socket.send(&payload, destination);
            return;
        }
        inbox.jobs.push(Job {
            due,
            seq: 0,
            socket,
            destination,
            payload,
        });
        if inbox.idle {
            inbox.idle = false;
            drop(inbox);
            self.inner.shared.wake.notify_one();
        }
    }
}

/// Asks for SCHED_FIFO at `priority` for the calling thread; logs and returns the outcome.
fn set_realtime(priority: u8) -> bool {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let result = ThreadPriorityValue::try_from(priority.min(99))
        .map_err(|e| e.to_string())
        .and_then(|p| {
            set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Crossplatform(p),
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
            )
            .map_err(|e| format!("{e:?}"))
        });
    match result {
        Ok(()) => {
            tracing::info!(
                priority,
                "RTP pacer runs at real-time priority (SCHED_FIFO)"
            );
            true
        }
        Err(e) => {
            tracing::warn!(
                priority,
                error = %e,
                "RTP pacer could not get real-time priority (needs root, CAP_SYS_NICE or \
                 LimitRTPRIO); packets may be delayed when the CPUs are busy"
            );
            false
        }
    }
}

fn run(shared: &Shared) {
    let mut heap = BinaryHeap::new();
    let mut taken = Vec::new();
    let mut seq = 0u64;
    loop {
        {
            let mut inbox = shared.lock();
            if inbox.jobs.is_empty() && heap.is_empty() {
                if inbox.closed {
                    return;
                }
                inbox.idle = true;
                drop(shared.wake.wait_while(inbox, |i| i.idle && !i.closed));
                continue;
            }
            std::mem::swap(&mut inbox.jobs, &mut taken);
        }
        // In the order the legs handed them over.
        for mut j in taken.drain(..) {
            j.seq = seq;
            seq += 1;
            heap.push(j);
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|j: &Job| j.due <= now + WINDOW) {
            if let Some(j) = heap.pop() {
                // Early sends (within the window) count as on time.
                SEND_LATENESS.record(Instant::now().saturating_duration_since(j.due));
                j.socket.send(&j.payload, j.destination);
            }
        }
        // Not woken by new packets (that would cost a wake-up per packet): nap instead, never
        // longer than the shortest lead a leg hands packets over with.
        if let Some(j) = heap.peek() {
            let nap = j.due.saturating_duration_since(Instant::now() + WINDOW);
            std::thread::sleep(nap.clamp(MIN_NAP, MAX_NAP));
        }
    }
}

/// Upper bounds (µs) of the buckets of [`send_lateness`]; the last bucket is unbounded.
pub const LATENESS_BUCKETS_US: [u64; 8] = [50, 100, 250, 500, 1000, 2000, 5000, u64::MAX];

/// A process-wide histogram of lateness over 8 buckets (upper bounds in µs, the last
/// unbounded).
pub(crate) struct Lateness {
    bounds: &'static [u64; 8],
    counts: [AtomicU64; 8],
}

impl Lateness {
    pub(crate) const fn new(bounds: &'static [u64; 8]) -> Self {
        Lateness {
            bounds,
            counts: [const { AtomicU64::new(0) }; 8],
        }
    }

    pub(crate) fn record(&self, late: Duration) {
        let us = late.as_micros() as u64;
        let i = self.bounds.iter().position(|b| us <= *b).unwrap_or(7);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> [u64; 8] {
        std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed))
    }
}

static SEND_LATENESS: Lateness = Lateness::new(&LATENESS_BUCKETS_US);

/// How late the pacer sent packets after their due instant, by [`LATENESS_BUCKETS_US`]
/// (for benchmarks and metrics).
pub fn send_lateness() -> [u64; 8] {
    SEND_LATENESS.snapshot()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Arc<SendSocket>, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.set_nonblocking(true).unwrap();
        (Arc::new(SendSocket::new(tx)), rx)
    }

    #[test]
    fn packets_leave_in_due_order_and_never_before_their_window() {
        let pacer = Pacer::new(None);
        let (tx, rx) = pair();
        let dest = rx.local_addr().unwrap();
        let t0 = Instant::now() + Duration::from_millis(30);
        // Scheduled latest first: the pacer must reorder by due instant.
        for i in (0..5u8).rev() {
            pacer.schedule(
                t0 + Duration::from_millis(5 * u64::from(i)),
                tx.clone(),
                dest,
                vec![i],
            );
        }
        let mut buf = [0u8; 8];
        for i in 0..5u8 {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[i]);
            assert!(Instant::now() + WINDOW >= t0 + Duration::from_millis(5 * u64::from(i)));
        }
    }

    #[test]
    fn packets_with_the_same_due_instant_keep_their_order() {
        let pacer = Pacer::new(None);
        let (tx, rx) = pair();
        let dest = rx.local_addr().unwrap();
        let due = Instant::now() + Duration::from_millis(10);
        for i in 0..20u8 {
            pacer.schedule(due, tx.clone(), dest, vec![i]);
        }
        let mut buf = [0u8; 8];
        let got: Vec<u8> = (0..20)
            .map(|_| {
                let n = rx.recv(&mut buf).unwrap();
                assert_eq!(n, 1);
                buf[0]
            })
            .collect();
        assert_eq!(got, (0..20).collect::<Vec<u8>>());
    }

    #[test]
    fn packets_still_queued_are_sent_when_the_last_handle_goes() {
        let pacer = Pacer::new(None);
        let (tx, rx) = pair();
        let dest = rx.local_addr().unwrap();
        pacer.schedule(
            Instant::now() + Duration::from_millis(20),
            tx.clone(),
            dest,
            b"last".to_vec(),
        );
        drop(pacer);
        let mut buf = [0u8; 8];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last");
    }

    #[test]
    fn lateness_lands_in_its_bucket() {
        let h = Lateness::new(&LATENESS_BUCKETS_US);
        h.record(Duration::from_micros(10));
        h.record(Duration::from_micros(300));
        h.record(Duration::from_secs(1));
        assert_eq!(h.snapshot(), [1, 0, 0, 1, 0, 0, 0, 1]);
    }
}
