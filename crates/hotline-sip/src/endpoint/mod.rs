//! The user-agent core (RFC 3261 §8, §12-§17 glue), sans-I/O: bytes and clock ticks in
//! ([`Endpoint::handle_input`], [`Endpoint::handle_timeout`]), datagrams, events and the next
//! deadline out ([`Endpoint::poll_transmit`], [`Endpoint::poll_event`],
//! [`Endpoint::poll_timeout`]). Calls are driven by commands (ring, answer, hang up, invite).
//! Incoming requests live in `uas.rs`, outgoing calls (with their digest retries) in `uac.rs`.

mod uac;
mod uas;

pub use crate::transport::Transport;
pub use uac::{OutgoingCall, UacAuth};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::abuse::{AbuseConfig, AbuseGuard, Admission, DropCounters};
use crate::dialog::{Dialog, Retransmit2xx, RetransmitStep};
use crate::headers::{Via, param, split_list};
use crate::message::Message;
use crate::parse::{ParseError, parse};
use crate::registrar::{Contact, Registrar, RegistrarConfig};
use crate::timers::Timers;
use crate::transaction::{
    ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Transaction, TxEvent, TxKey,
};

/// Methods this UA implements (the `Allow` header).
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER";

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Transport to use (for TCP: the connection with `dest`).
    pub transport: Transport,
    /// Destination.
    pub dest: SocketAddr,
    /// The serialised message.
    pub payload: Bytes,
}

/// Handle of a call: its SIP Call-ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// We sent BYE (hang-up command or shutdown) and it completed or timed out.
    LocalBye,
    /// The caller cancelled before answer (CANCEL → 487).
    Cancelled,
    /// We rejected it with this status.
    Rejected(u16),
    /// Our 2xx was never ACKed (64*T1); a BYE was sent.
    AckTimeout,
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new INVITE (100 Trying already sent). `offer` is `None` for an offerless INVITE: then
    /// the app's answer SDP is the offer and the peer's answer arrives in [`Event::CallAcked`].
    IncomingCall {
        /// Call handle.
        call: CallId,
        /// From URI.
        from: String,
        /// To URI.
        to: String,
        /// Where the INVITE came from.
        remote: SocketAddr,
        /// SDP offer, if the INVITE carried one.
        offer: Option<Bytes>,
    },
    /// The ACK for our 2xx arrived; `answer` is the SDP answer of an offerless INVITE.
    CallAcked {
        /// Call handle.
        call: CallId,
        /// SDP carried by the ACK, if any.
        answer: Option<Bytes>,
    },
    /// A call is over.
    CallEnded {
        /// Call handle.
        call: CallId,
        /// Why.
        reason: EndReason,
    },
    /// A DTMF digit from SIP INFO (application/dtmf-relay or application/dtmf).
    Dtmf {
        /// Call handle.
        call: CallId,
        /// `0-9`, `*`, `#`, `A-D`.
        digit: char,
        /// Duration in ms (0 when not given).
        duration_ms: u32,
    },
    /// A re-INVITE (hold, unhold, refresh): answer it with [`Endpoint::answer_reinvite`].
    ReInvite {
        /// Call handle.
        call: CallId,
        /// The new offer (`None` for an offerless re-INVITE).
        offer: Option<Bytes>,
    },
    /// Outgoing call: 180 or 183 received (`early_sdp` from a 183).
    Ringing {
        /// Call handle.
        call: CallId,
        /// SDP of a 183 Session Progress.
        early_sdp: Option<Bytes>,
    },
    /// Outgoing call answered and ACKed.
    Answered {
        /// Call handle.
        call: CallId,
        /// The callee's SDP.
        sdp: Option<Bytes>,
    },
    /// Outgoing call failed with a final status (408 for no response at all).
    Failed {
        /// Call handle.
        call: CallId,
        /// Status code.
        code: u16,
    },
    /// Outgoing call cancelled by a hang-up before answer (final for the app: the CANCEL
    /// exchange finishes in the background).
    Cancelled {
        /// Call handle.
        call: CallId,
    },
    /// Outgoing call cancelled because the ring timeout fired (emitted when it fires, final
    /// for the app: the CANCEL exchange finishes in the background).
    TimedOut {
        /// Call handle.
        call: CallId,
    },
    /// A REGISTER changed the bindings of `aor`.
    Registration {
        /// `user@host`.
        aor: String,
        /// Live contacts after the change.
        contacts: usize,
    },
}

/// Errors of application commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No such call.
    #[error("no call {0}")]
    NoSuchCall(CallId),
    /// The call is not in a state where this command applies.
    #[error("call {call} cannot {command} now")]
    WrongState {
        /// Call handle.
        call: CallId,
        /// Command name.
        command: &'static str,
    },
}

/// Endpoint settings.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Address put in our Via and Contact headers.
    pub public_addr: SocketAddr,
    /// User-Agent / Server header value.
    pub user_agent: String,
    /// User part of our Contact.
    pub contact_user: String,
    /// T1/T2/T4.
    pub timers: Timers,
    /// Registrar settings.
    pub registrar: RegistrarConfig,
    /// Abuse controls.
    pub abuse: AbuseConfig,
    /// Live calls beyond which new INVITEs get 503 with Retry-After (memory bound).
    pub max_calls: usize,
    /// An incoming call the application neither answers nor rejects within this time gets
    /// 480 (a safety net against leaked calls; the IVR answers at once).
    pub answer_timeout: Duration,
    /// RNG seed for branches, tags, Call-IDs and the nonce secret. [`EndpointConfig::new`]
    /// draws a random one; tests set a fixed one for reproducible runs.
    pub seed: u64,
}

impl EndpointConfig {
    /// Defaults around `public_addr`, with a random seed.
    pub fn new(public_addr: SocketAddr) -> EndpointConfig {
        EndpointConfig {
            public_addr,
            user_agent: "hotline-sip/0".into(),
            contact_user: "hotline".into(),
            timers: Timers::default(),
            registrar: RegistrarConfig::default(),
            abuse: AbuseConfig::default(),
            max_calls: 10_000,
            answer_timeout: Duration::from_secs(120),
            seed: rand::random(),
        }
    }
}

#[derive(Debug)]
enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerEntry {
    tx: ServerTx,
    dest: SocketAddr,
    transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Invite,
    Cancel,
    Bye,
}

#[derive(Debug)]
enum ClientTx {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientTx,
    dest: SocketAddr,
    transport: Transport,
    call: Option<String>,
    kind: ClientKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// UAS: INVITE received, not answered. UAC: INVITE sent, no final.
    Early,
    /// UAS: 2xx sent, waiting for ACK.
    Answered,
    /// ACKed (both roles).
    Confirmed,
    /// BYE sent.
    Terminating,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Uas,
    Uac,
}

/// Why a UAC call is being cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelReason {
    HungUp,
    RingTimeout,
}

#[derive(Debug)]
struct Call {
    role: Role,
    state: CallState,
    dialog: Dialog,
    remote: SocketAddr,
    transport: Transport,
    /// UAS: the INVITE and its server transaction. UAC: our INVITE and its client transaction.
    invite: Message,
    invite_key: TxKey,
    offerless: bool,
    retransmit: Option<Retransmit2xx>,
    /// UAS: a re-INVITE waiting for the app's answer (its key and request).
    reinvite: Option<(TxKey, Message)>,
    /// UAC: ring timeout instant. UAS: answer timeout (safety net).
    ring_deadline: Option<Instant>,
    /// UAC: a provisional response arrived (CANCEL may be sent).
    provisional: bool,
    /// UAC: cancelling, and whether the CANCEL went out yet.
    cancel: Option<(CancelReason, bool)>,
    /// UAC: give up waiting for the 487 after a CANCEL (§9.1: 64*T1).
    cancel_deadline: Option<Instant>,
    /// UAC: ACK for the 2xx, re-sent on 2xx retransmissions.
    ack: Option<Bytes>,
    /// UAS: the app hung up before our 2xx was ACKed; BYE once it is (§15).
    bye_after_ack: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TimerRef {
    Server(TxKey),
    Client(TxKey),
    Call(String),
}

/// The sans-I/O SIP user agent: UAS, UAC and registrar.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    rng: StdRng,
    registrar: Registrar,
    abuse: AbuseGuard,
    drops: DropCounters,
    server_txs: HashMap<TxKey, ServerEntry>,
    client_txs: HashMap<TxKey, ClientEntry>,
    calls: HashMap<String, Call>,
    /// Digest credentials and retry state of outgoing calls that have them, by Call-ID
    /// (beside `calls`, removed with the call by `forget_call`).
    uac_digest: HashMap<String, uac::UacDigest>,
    timers: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Endpoint {
    /// A new endpoint; `now` anchors nonce timestamps.
    pub fn new(config: EndpointConfig, now: Instant) -> Endpoint {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let secret: [u8; 32] = rng.random();
        Endpoint {
            registrar: Registrar::new(config.registrar.clone(), secret, now),
            abuse: AbuseGuard::new(config.abuse.clone()),
            config,
            rng,
            drops: DropCounters::default(),
            server_txs: HashMap::new(),
            client_txs: HashMap::new(),
            calls: HashMap::new(),
            uac_digest: HashMap::new(),
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Changes the address advertised in Via/Contact (the driver sets it after binding).
    pub fn set_public_addr(&mut self, addr: SocketAddr) {
        self.config.public_addr = addr;
    }

    /// Live contacts registered for `aor` (`user@host` or `sip:user@host`).
    pub fn bindings(&self, aor: &str, now: Instant) -> Vec<Contact> {
        self.registrar.bindings(aor, now)
    }

    /// Live contacts of any AOR with user part `user`.
    pub fn bindings_for_user(&self, user: &str, now: Instant) -> Vec<Contact> {
        self.registrar.bindings_for_user(user, now)
    }

    /// Counters of dropped input.
    pub fn drops(&self) -> DropCounters {
        self.drops
    }

    /// Number of live calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of live transactions (server, client).
    pub fn transaction_count(&self) -> (usize, usize) {
        (self.server_txs.len(), self.client_txs.len())
    }

    /// Next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Feeds bytes received from `src`: a whole datagram (UDP) or one framed message (TCP).
    pub fn handle_input(
        &mut self,
        now: Instant,
        transport: Transport,
        src: SocketAddr,
        bytes: &[u8],
    ) {
        let is_response = bytes.starts_with(b"SIP/");
        if !is_response {
            match self.abuse.admit(now, src.ip()) {
                Admission::Admitted => {}
                Admission::RateLimited => {
                    self.drops.rate_limited += 1;
                    return;
                }
                Admission::Banned => {
                    self.drops.banned += 1;
                    return;
                }
            }
        }
        match parse(bytes, transport == Transport::Udp) {
            Ok(msg) if msg.is_request() => {
                if let Some(ua) = msg.header("User-Agent")
                    && self.abuse.is_scanner(ua)
                {
                    self.drops.scanner += 1;
                    tracing::debug!(%src, ua, "scanner request dropped");
                    return;
                }
                let span = tracing::debug_span!("sip", call_id = msg.call_id().unwrap_or(""));
                let _guard = span.enter();
                self.handle_request(now, transport, src, msg);
            }
            Ok(msg) => {
                let span = tracing::debug_span!("sip", call_id = msg.call_id().unwrap_or(""));
                let _guard = span.enter();
                self.handle_response(now, msg);
            }
            Err(ParseError::Empty) => {}
            Err(e) => {
                tracing::info!(%src, error = %e, "malformed SIP message");
                let tag = self.token();
                match e.reply(&tag) {
                    Some(reply) => self.transmits.push_back(Transmit {
                        transport,
                        dest: src,
                        payload: reply.to_bytes(),
                    }),
                    None => self.drops.malformed += 1,
                }
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, which))) = self.timers.pop() else {
                break;
            };
            match which {
                TimerRef::Server(key) => {
                    if let Some(e) = self.server_txs.get_mut(&key) {
                        match &mut e.tx {
                            ServerTx::Invite(t) => t.handle_timeout(now),
                            ServerTx::NonInvite(t) => t.handle_timeout(now),
                        }
                        self.flush_server(&key);
                    }
                }
                TimerRef::Client(key) => {
                    if let Some(e) = self.client_txs.get_mut(&key) {
                        match &mut e.tx {
                            ClientTx::Invite(t) => t.handle_timeout(now),
                            ClientTx::NonInvite(t) => t.handle_timeout(now),
                        }
                        self.flush_client(now, &key);
                    }
                }
                TimerRef::Call(id) => self.call_timeout(now, &id),
            }
        }
        if self.timers.len()
            > 4 * (self.server_txs.len() + self.client_txs.len() + self.calls.len()) + 1024
        {
            self.rebuild_timers();
        }
    }

    /// Drops stale heap entries (timers are scheduled lazily and may repeat).
    fn rebuild_timers(&mut self) {
        self.timers.clear();
        let keys: Vec<_> = self.server_txs.keys().cloned().collect();
        for k in keys {
            self.schedule_server(&k);
        }
        let keys: Vec<_> = self.client_txs.keys().cloned().collect();
        for k in keys {
            self.schedule_client(&k);
        }
        let ids: Vec<_> = self.calls.keys().cloned().collect();
        for id in ids {
            self.schedule_call(&id);
        }
    }

    /// Hangs up every live call (BYE, CANCEL or 503), for a clean shutdown.
    pub fn shutdown(&mut self, now: Instant) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            let _ = self.hangup(now, &CallId(id));
        }
    }

    // ---- helpers shared by uas.rs and uac.rs ----

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.random::<u64>())
    }

    fn branch(&mut self) -> String {
        format!("z9hG4bK{:016x}", self.rng.random::<u64>())
    }

    fn our_via(&mut self, transport: Transport) -> String {
        let b = self.branch();
        format!(
            "SIP/2.0/{} {};branch={b};rport",
            transport.token(),
            self.config.public_addr
        )
    }

    fn our_contact(&self, transport: Transport) -> String {
        let t = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        format!(
            "<sip:{}@{}{t}>",
            self.config.contact_user, self.config.public_addr
        )
    }

    fn send(&mut self, transport: Transport, dest: SocketAddr, payload: Bytes) {
        self.transmits.push_back(Transmit {
            transport,
            dest,
            payload,
        });
    }

    fn schedule(&mut self, at: Instant, which: TimerRef) {
        self.timers.push(Reverse((at, which)));
    }

    fn schedule_server(&mut self, key: &TxKey) {
        let at = self.server_txs.get(key).and_then(|e| match &e.tx {
            ServerTx::Invite(t) => t.poll_timeout(),
            ServerTx::NonInvite(t) => t.poll_timeout(),
        });
        if let Some(at) = at {
            self.schedule(at, TimerRef::Server(key.clone()));
        }
    }

    fn schedule_client(&mut self, key: &TxKey) {
        let at = self.client_txs.get(key).and_then(|e| match &e.tx {
            ClientTx::Invite(t) => t.poll_timeout(),
            ClientTx::NonInvite(t) => t.poll_timeout(),
        });
        if let Some(at) = at {
            self.schedule(at, TimerRef::Client(key.clone()));
        }
    }

    fn schedule_call(&mut self, id: &str) {
        let Some(c) = self.calls.get(id) else { return };
        let at = [
            c.retransmit.as_ref().map(Retransmit2xx::poll_timeout),
            c.ring_deadline
                .filter(|_| c.state == CallState::Early && c.cancel.is_none()),
            c.cancel_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = at {
            self.schedule(at, TimerRef::Call(id.to_string()));
        }
    }

    /// Drains a server transaction's output and reschedules its timer (or forgets it).
    fn flush_server(&mut self, key: &TxKey) {
        let Some(e) = self.server_txs.get_mut(key) else {
            return;
        };
        let (dest, transport) = (e.dest, e.transport);
        let mut out = Vec::new();
        let mut timed_out = false;
        let terminated = match &mut e.tx {
            ServerTx::Invite(t) => {
                while let Some(b) = t.poll_transmit() {
                    out.push(b);
                }
                while let Some(ev) = t.poll_event() {
                    timed_out |= ev == TxEvent::Timeout;
                }
                t.is_terminated()
            }
            ServerTx::NonInvite(t) => {
                while let Some(b) = t.poll_transmit() {
                    out.push(b);
                }
                t.is_terminated()
            }
        };
        for b in out {
            self.send(transport, dest, b);
        }
        if timed_out {
            tracing::debug!("server INVITE transaction timed out waiting for ACK");
        }
        if terminated {
            self.server_txs.remove(key);
        } else {
            self.schedule_server(key);
        }
    }

    /// Sends a response through the server transaction `key`.
    fn respond(&mut self, now: Instant, key: &TxKey, resp: &Message) {
        let code = resp.status().unwrap_or(500);
        let mut resp = resp.clone();
        if code > 100 && resp.header("Server").is_none() {
            resp.push("Server", self.config.user_agent.clone());
        }
        let bytes = resp.to_bytes();
        if let Some(e) = self.server_txs.get_mut(key) {
            match &mut e.tx {
                ServerTx::Invite(t) => t.send_response(now, code, bytes),
                ServerTx::NonInvite(t) => t.send_response(now, code, bytes),
            }
            self.flush_server(key);
        }
    }

    /// Drains a client transaction and dispatches its events to the call logic.
    fn flush_client(&mut self, now: Instant, key: &TxKey) {
        let Some(e) = self.client_txs.get_mut(key) else {
            return;
        };
        let (dest, transport, call, kind) = (e.dest, e.transport, e.call.clone(), e.kind);
        let mut out = Vec::new();
        let mut events = Vec::new();
        let terminated = match &mut e.tx {
            ClientTx::Invite(t) => {
                while let Some(b) = t.poll_transmit() {
                    out.push(b);
                }
                while let Some(ev) = t.poll_event() {
                    events.push(ev);
                }
                t.is_terminated()
            }
            ClientTx::NonInvite(t) => {
                while let Some(b) = t.poll_transmit() {
                    out.push(b);
                }
                while let Some(ev) = t.poll_event() {
                    events.push(ev);
                }
                t.is_terminated()
            }
        };
        for b in out {
            self.send(transport, dest, b);
        }
        if terminated {
            self.client_txs.remove(key);
        } else {
            self.schedule_client(key);
        }
        if let Some(call) = call {
            for ev in events {
                self.on_client_event(now, &call, kind, ev);
            }
        }
    }

    /// Removes a call and whatever is kept beside it.
    fn forget_call(&mut self, id: &str) -> Option<Call> {
        self.uac_digest.remove(id);
        self.calls.remove(id)
    }

    fn end_call(&mut self, id: &str, reason: EndReason) {
        if self.forget_call(id).is_some() {
            tracing::debug!(call_id = id, ?reason, "call ended");
            self.events.push_back(Event::CallEnded {
                call: CallId(id.to_string()),
                reason,
            });
        }
    }

    fn call_timeout(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        if let Some(r) = call.retransmit.as_mut() {
            match r.handle_timeout(now) {
                RetransmitStep::Resend(bytes) => {
                    let (t, d) = (call.transport, call.remote);
                    self.send(t, d, bytes);
                }
                RetransmitStep::Idle => {}
                RetransmitStep::GaveUp => {
                    call.retransmit = None;
                    if call.reinvite.is_none() && call.state == CallState::Answered {
                        tracing::warn!(call_id = id, "no ACK for our 2xx; sending BYE");
                        self.send_bye(now, id);
                        self.end_call(id, EndReason::AckTimeout);
                        return;
                    }
                }
            }
        }
        self.uas_answer_timeout(now, id);
        self.uac_call_timeout(now, id);
        self.schedule_call(id);
    }

    /// Sends a BYE in the dialog of `id` (the call stays until the BYE completes).
    fn send_bye(&mut self, now: Instant, id: &str) {
        let Some(call) = self.calls.get(id) else {
            return;
        };
        let transport = call.transport;
        let via = self.our_via(transport);
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        let bye = call.dialog.request(crate::message::Method::Bye, via);
        let dest = call.remote;
        self.start_client(
            now,
            bye,
            dest,
            transport,
            Some(id.to_string()),
            ClientKind::Bye,
        );
    }

    /// Starts a client transaction for `req`.
    fn start_client(
        &mut self,
        now: Instant,
        mut req: Message,
        dest: SocketAddr,
        transport: Transport,
        call: Option<String>,
        kind: ClientKind,
    ) {
        if req.header("User-Agent").is_none() {
            req.push("User-Agent", self.config.user_agent.clone());
        }
        let Some(key) = TxKey::client(&req) else {
            return;
        };
        let reliable = transport.reliable();
        let tx = match kind {
            ClientKind::Invite => {
                ClientTx::Invite(ClientInvite::new(now, reliable, self.config.timers, req))
            }
            _ => ClientTx::NonInvite(ClientNonInvite::new(
                now,
                reliable,
                self.config.timers,
                &req,
            )),
        };
        self.client_txs.insert(
            key.clone(),
            ClientEntry {
                tx,
                dest,
                transport,
                call,
                kind,
            },
        );
        self.flush_client(now, &key);
    }
}

/// Applies RFC 3581 / §18.2.1: adds `received` (and fills `rport`) on the top Via of a request
/// and returns where responses go.
fn patch_top_via(req: &mut Message, src: SocketAddr, transport: Transport) -> SocketAddr {
    let Some(idx) = req.headers.iter().position(|h| h.name == "Via") else {
        return src;
    };
    let values: Vec<String> = split_list(&req.headers[idx].value)
        .into_iter()
        .map(str::to_string)
        .collect();
    let Some(first) = values.first() else {
        return src;
    };
    let Ok(mut via) = Via::parse(first) else {
        return src;
    };
    let has_rport = param(&via.params, "rport").is_some();
    let ip = src.ip().to_string();
    if has_rport {
        for p in via.params.iter_mut() {
            if p.0 == "rport" {
                p.1 = Some(src.port().to_string());
            }
        }
    }
    if has_rport || via.host.trim_start_matches('[').trim_end_matches(']') != ip {
        via.params.retain(|p| p.0 != "received");
        via.params.push(("received".into(), Some(ip)));
    }
    let mut text = format!("SIP/{}/{} {}", via.version, via.transport, via.sent_by());
    for (k, v) in &via.params {
        match v {
            Some(v) => text.push_str(&format!(";{k}={v}")),
            None => text.push_str(&format!(";{k}")),
        }
    }
    let rest = &values[1..];
    req.headers[idx].value = std::iter::once(text)
        .chain(rest.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ");
    if transport == Transport::Tcp || has_rport {
        src
    } else {
        SocketAddr::new(src.ip(), via.port.unwrap_or(5060))
    }
}
