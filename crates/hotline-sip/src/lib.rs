//! `hotline-sip`: SIP signalling for the fault-report hotline (RFC 3261 with RFC 3581 rport,
//! RFC 6026 transaction fixes, RFC 8760 digest algorithms, RFC 6086 INFO). SDP bodies are
//! opaque bytes here: the media crate produces and consumes them.
//!
//! # Layout (bottom up)
//!
//! | module | what | RFC |
//! |--------|------|-----|
//! | [`method`] | `Method`: the method tokens | 3261 §7.1 |
//! | [`transport`] | `Transport`: UDP or TCP, its Via token, whether it is reliable | 3261 §18 |
//! | [`message`] | `Message` model, serialisation, response construction | 3261 §7, §8.2.6 |
//! | [`headers`] | typed views: Via, name-addr, CSeq, params, comma lists | 3261 §20, §25 |
//! | [`parse`] | bytes → `Message`: unfolding, compact forms, Content-Length, checks, rsip cross-check; `ParseError::reply` builds the 400/505 | 3261 §7, §18.3, 4475 |
//! | [`framer`] | TCP stream framing by Content-Length | 3261 §18.3 |
//! | [`timers`] | T1/T2/T4 and timers A–K as a table | 3261 §17, Table 4 |
//! | [`transaction`] | four sans-I/O state machines, one file each, sharing `Outputs` and the `Transaction` trait (drain, earliest timer), and the matching key | 3261 §17, 6026 |
//! | [`dialog`] | dialog state, in-dialog requests, 2xx retransmission until ACK | 3261 §12, §13.3.1.4 |
//! | [`digest`] | digest challenges/verification, stateless HMAC nonces | 3261 §22, 8760 |
//! | [`registrar`] | bindings per AOR with expiry, `bindings(aor, now)` | 3261 §10.3 |
//! | [`abuse`] | per-source request budget, scanner User-Agents, drop counters | — |
//! | [`endpoint`] | the UA core: UAS, UAC, registrar glue; events and commands | 3261 §8, §9, §12–§15 |
//! | [`driver`] | tokio UDP+TCP edge around the endpoint, with a shutdown future | — |
//!
//! Everything up to [`endpoint`] is sans-I/O: inputs are `handle_*(now, ...)`, outputs are
//! drained with `poll_transmit()`, `poll_event()`, `poll_timeout()`; randomness (branches, tags,
//! Call-IDs, the nonce key) comes from a seeded RNG in [`endpoint::EndpointConfig::seed`].
//!
//! # What an IVR uses
//!
//! [`driver::Driver::bind`] gives a [`driver::SipHandle`] (commands) and a receiver of
//! [`endpoint::Event`]s:
//!
//! - incoming: `IncomingCall { call, from, to, remote, offer }` → `ring`, `answer(sdp)`,
//!   `reject(code)`; then `CallAcked { answer }` (the answer of an offerless INVITE),
//!   `Dtmf { digit, duration_ms }` (SIP INFO), `ReInvite { offer }` → `answer_reinvite(sdp)`,
//!   `CallEnded { reason }`; `hangup` at any time (BYE, CANCEL or 480 as fits);
//! - outgoing (ringing an agent): `invite(OutgoingCall { target, dest, sdp, ring_timeout, .. })`
//!   → `Ringing { early_sdp }`, `Answered { sdp }`, `Failed { code }`, `TimedOut`, `Cancelled`;
//! - agents: `Registration { aor, contacts }` events and `bindings(aor or user)`.
//!
//! Settings the deployment will want to look at: [`endpoint::EndpointConfig`] (`public_addr`
//! goes into every Via/Contact, `max_calls`, `answer_timeout`, `timers`),
//! [`registrar::RegistrarConfig`] (credentials, digest algorithms — see its interop note),
//! [`abuse::AbuseConfig`]. `examples/answer.rs` is a runnable answering machine.
//!
//! ```no_run
//! # async fn demo(answer_sdp: bytes::Bytes) -> Result<(), hotline_sip::driver::DriverError> {
//! use hotline_sip::{driver::Driver, endpoint::{EndpointConfig, Event}};
//! let cfg = EndpointConfig::new("203.0.113.5:5060".parse().unwrap());
//! let (driver, sip, mut events) = Driver::bind("0.0.0.0:5060".parse().unwrap(), cfg).await?;
//! tokio::spawn(driver.run(async { let _ = tokio::signal::ctrl_c().await; }));
//! while let Some(ev) = events.recv().await {
//!     if let Event::IncomingCall { call, offer, .. } = ev {
//!         sip.ring(&call).await?;
//!         sip.answer(&call, answer_sdp.clone()).await?; // SDP from hotline-media
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod abuse;
pub mod dialog;
pub mod digest;
pub mod driver;
pub mod endpoint;
pub mod framer;
pub mod headers;
pub mod message;
pub mod method;
pub mod parse;
pub mod registrar;
pub mod timers;
pub mod transaction;
pub mod transport;
