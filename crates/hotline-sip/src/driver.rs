//! The tokio edge around [`Endpoint`]: UDP and TCP listeners on one address, a single loop that
//! waits for a datagram, a framed TCP message, an application command or the next timeout,
//! feeds the core and drains its outputs. A shutdown future ends it after hanging up live
//! calls (BYE sent, up to 2 s to complete).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use crate::abuse::DropCounters;
use crate::endpoint::{
    CallId, CommandError, Endpoint, EndpointConfig, Event, OutgoingCall, Transmit, Transport,
};
use crate::framer::Framer;
use crate::registrar::Contact;

/// Errors of the driver.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Binding or socket failure.
    #[error("socket: {0}")]
    Io(#[from] io::Error),
    /// The driver task is gone.
    #[error("SIP driver stopped")]
    Stopped,
    /// The endpoint refused the command.
    #[error(transparent)]
    Command(#[from] CommandError),
}

enum Command {
    Ring(CallId, oneshot::Sender<Result<(), CommandError>>),
    Answer(CallId, Bytes, oneshot::Sender<Result<(), CommandError>>),
    AnswerReinvite(CallId, Bytes, oneshot::Sender<Result<(), CommandError>>),
    Reject(CallId, u16, oneshot::Sender<Result<(), CommandError>>),
    Hangup(CallId, oneshot::Sender<Result<(), CommandError>>),
    Invite(Box<OutgoingCall>, oneshot::Sender<CallId>),
    Bindings(String, oneshot::Sender<Vec<Contact>>),
    Drops(oneshot::Sender<DropCounters>),
}

/// Cloneable handle the application uses to command calls.
#[derive(Debug, Clone)]
pub struct SipHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SipHandle {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// 180 Ringing.
    pub async fn ring(&self, call: &CallId) -> Result<(), DriverError> {
        Ok(self.call(|tx| Command::Ring(call.clone(), tx)).await??)
    }

    /// 200 OK with `sdp`.
    pub async fn answer(&self, call: &CallId, sdp: Bytes) -> Result<(), DriverError> {
        Ok(self
            .call(|tx| Command::Answer(call.clone(), sdp, tx))
            .await??)
    }

    /// 200 OK with `sdp` for a pending re-INVITE.
    pub async fn answer_reinvite(&self, call: &CallId, sdp: Bytes) -> Result<(), DriverError> {
        Ok(self
            .call(|tx| Command::AnswerReinvite(call.clone(), sdp, tx))
            .await??)
    }

    /// Final error response to an unanswered incoming call.
    pub async fn reject(&self, call: &CallId, code: u16) -> Result<(), DriverError> {
        Ok(self
            .call(|tx| Command::Reject(call.clone(), code, tx))
            .await??)
    }

    /// BYE / CANCEL / 480 as the state requires.
    pub async fn hangup(&self, call: &CallId) -> Result<(), DriverError> {
        Ok(self.call(|tx| Command::Hangup(call.clone(), tx)).await??)
    }

    /// Starts an outgoing call.
    pub async fn invite(&self, out: OutgoingCall) -> Result<CallId, DriverError> {
        self.call(|tx| Command::Invite(Box::new(out), tx)).await
    }

    /// Registered contacts for `aor` (`user@host`), or for a bare user name.
    pub async fn bindings(&self, aor: &str) -> Result<Vec<Contact>, DriverError> {
        self.call(|tx| Command::Bindings(aor.to_string(), tx)).await
    }

    /// Drop counters (rate limit, scanners, malformed, auth failures).
    pub async fn drops(&self) -> Result<DropCounters, DriverError> {
        self.call(Command::Drops).await
    }
}

enum TcpIn {
    Opened(SocketAddr, mpsc::UnboundedSender<Bytes>),
    Frame(SocketAddr, Bytes),
    Closed(SocketAddr),
}

/// Sockets plus the endpoint; consumed by [`Driver::run`].
#[derive(Debug)]
pub struct Driver {
    udp: UdpSocket,
    tcp: TcpListener,
    endpoint: Endpoint,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    local_addr: SocketAddr,
}

/// How long a TCP connection may sit on a partial message.
const TCP_PARTIAL_TIMEOUT: Duration = Duration::from_secs(32);

impl Driver {
    /// Binds UDP and TCP on `listen` (port 0 picks one free port for both). If the config's
    /// public address has port 0 or an unspecified IP, the bound address fills it in; when
    /// listening on `0.0.0.0` that is the host's default-route source address (set
    /// `public_addr` explicitly in production: it goes into every Via and Contact).
    pub async fn bind(
        listen: SocketAddr,
        mut config: EndpointConfig,
    ) -> Result<(Driver, SipHandle, mpsc::UnboundedReceiver<Event>), DriverError> {
        let (udp, tcp) = bind_pair(listen).await?;
        let local_addr = udp.local_addr()?;
        if config.public_addr.port() == 0 {
            config.public_addr.set_port(local_addr.port());
        }
        if config.public_addr.ip().is_unspecified() {
            let ip = if local_addr.ip().is_unspecified() {
                let guess = route_source_ip();
                tracing::warn!(
                    %guess,
                    "listening on an unspecified address: advertising this address in \
                     Via/Contact; set EndpointConfig::public_addr to the one callers reach"
                );
                guess
            } else {
                local_addr.ip()
            };
            config.public_addr.set_ip(ip);
        }
        let endpoint = Endpoint::new(config, Instant::now());
        let (cmd_tx, commands) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        Ok((
            Driver {
                udp,
                tcp,
                endpoint,
                commands,
                events,
                local_addr,
            },
            SipHandle { tx: cmd_tx },
            events_rx,
        ))
    }

    /// The bound address (same port for UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs until `shutdown` completes, then hangs up live calls and returns.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), DriverError> {
        let (tcp_tx, mut tcp_rx) = mpsc::unbounded_channel::<TcpIn>();
        let mut conns: HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        tokio::pin!(shutdown);
        let mut stopping_until: Option<Instant> = None;
        loop {
            self.flush(&mut conns, &tcp_tx).await;
            let mut deadline = self.endpoint.poll_timeout();
            if let Some(stop) = stopping_until {
                if self.endpoint.call_count() == 0 || Instant::now() >= stop {
                    break;
                }
                deadline = Some(deadline.map_or(stop, |d| d.min(stop)));
            }
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut shutdown, if stopping_until.is_none() => {
                    tracing::info!(calls = self.endpoint.call_count(), "SIP driver shutting down");
                    self.endpoint.shutdown(Instant::now());
                    stopping_until = Some(Instant::now() + Duration::from_secs(2));
                }
                r = self.udp.recv_from(&mut buf) => {
                    match r {
                        Ok((n, src)) => {
                            let now = Instant::now();
                            self.endpoint.handle_input(now, Transport::Udp, src, &buf[..n]);
                            // Drain whatever else is queued before writing back.
                            for _ in 0..64 {
                                match self.udp.try_recv_from(&mut buf) {
                                    Ok((n, src)) => self.endpoint.handle_input(now, Transport::Udp, src, &buf[..n]),
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "UDP receive error"),
                    }
                }
                Some(msg) = tcp_rx.recv() => match msg {
                    TcpIn::Opened(peer, writer) => { conns.insert(peer, writer); }
                    TcpIn::Frame(peer, bytes) => self.endpoint.handle_input(Instant::now(), Transport::Tcp, peer, &bytes),
                    TcpIn::Closed(peer) => { conns.remove(&peer); }
                },
                Some(cmd) = self.commands.recv() => self.command(cmd),
                r = self.tcp.accept(), if stopping_until.is_none() => {
                    if let Ok((stream, peer)) = r {
                        let _ = stream.set_nodelay(true);
                        spawn_connection(stream, peer, tcp_tx.clone(), None);
                    }
                }
                _ = sleep => {}
            }
            self.endpoint.handle_timeout(Instant::now());
        }
        self.flush(&mut conns, &tcp_tx).await;
        Ok(())
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        let ep = &mut self.endpoint;
        match cmd {
            Command::Ring(c, tx) => drop(tx.send(ep.ring(now, &c))),
            Command::Answer(c, sdp, tx) => drop(tx.send(ep.answer(now, &c, sdp))),
            Command::AnswerReinvite(c, sdp, tx) => drop(tx.send(ep.answer_reinvite(now, &c, sdp))),
            Command::Reject(c, code, tx) => drop(tx.send(ep.reject(now, &c, code))),
            Command::Hangup(c, tx) => drop(tx.send(ep.hangup(now, &c))),
            Command::Invite(out, tx) => drop(tx.send(ep.invite(now, *out))),
            Command::Bindings(aor, tx) => {
                let mut b = ep.bindings(&aor, now);
                if b.is_empty() && !aor.contains('@') {
                    b = ep.bindings_for_user(&aor, now);
                }
                drop(tx.send(b))
            }
            Command::Drops(tx) => drop(tx.send(ep.drops())),
        }
    }

    async fn flush(
        &mut self,
        conns: &mut HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>,
        tcp_tx: &mpsc::UnboundedSender<TcpIn>,
    ) {
        while let Some(Transmit {
            transport,
            dest,
            payload,
        }) = self.endpoint.poll_transmit()
        {
            match transport {
                Transport::Udp => {
                    if let Err(e) = self.udp.send_to(&payload, dest).await {
                        tracing::debug!(%dest, error = %e, "UDP send failed");
                    }
                }
                Transport::Tcp => match conns.get(&dest) {
                    Some(w) if w.send(payload.clone()).is_ok() => {}
                    _ => {
                        // No connection (or it closed): open one for this message.
                        conns.remove(&dest);
                        let tcp_tx = tcp_tx.clone();
                        tokio::spawn(async move {
                            match TcpStream::connect(dest).await {
                                Ok(s) => {
                                    let _ = s.set_nodelay(true);
                                    spawn_connection(s, dest, tcp_tx, Some(payload));
                                }
                                Err(e) => tracing::debug!(%dest, error = %e, "TCP connect failed"),
                            }
                        });
                    }
                },
            }
        }
        while let Some(ev) = self.endpoint.poll_event() {
            if self.events.send(ev).is_err() {
                break;
            }
        }
    }
}

/// The source address the kernel would use for outside traffic (a UDP `connect` only does a
/// route lookup: nothing is sent); loopback if there is no route.
fn route_source_ip() -> std::net::IpAddr {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:5060")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into())
}

async fn bind_pair(listen: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(listen).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(listen.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
}

/// Reader (framing) and writer tasks of one TCP connection.
fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tcp_tx: mpsc::UnboundedSender<TcpIn>,
    first: Option<Bytes>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Bytes>();
    if let Some(b) = first {
        let _ = wtx.send(b);
    }
    if tcp_tx.send(TcpIn::Opened(peer, wtx)).is_err() {
        return;
    }
    tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut framer = Framer::new();
        let mut buf = vec![0u8; 16_384];
        loop {
            let read = if framer.buffered() > 0 {
                match tokio::time::timeout(TCP_PARTIAL_TIMEOUT, rd.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::info!(%peer, "TCP: partial message timed out; closing");
                        break;
                    }
                }
            } else {
                rd.read(&mut buf).await
            };
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            framer.push(&buf[..n]);
            loop {
                match framer.next_frame() {
                    Ok(Some(frame)) => {
                        if tcp_tx.send(TcpIn::Frame(peer, frame)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::info!(%peer, error = %e, "TCP framing error; closing");
                        let _ = tcp_tx.send(TcpIn::Closed(peer));
                        return;
                    }
                }
            }
        }
        let _ = tcp_tx.send(TcpIn::Closed(peer));
    });
}
