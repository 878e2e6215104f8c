//! Test support for the integration tests of the hotline crates (a dev-dependency only).
//!
//! Every storage test runs on SQLite and on a fresh PostgreSQL database on the server named by
//! `HOTLINE_TEST_DATABASE_URL` (default 127.0.0.1:5432). PostgreSQL is a peer like sipp: if it
//! does not answer the test fails, unless the run opts out with `HOTLINE_TEST_SKIP_PEERS=postgres`
//! (tests/run.sh does so, and says "SQLite ONLY", when no server is reachable). Scratch
//! databases are named `hotline_e2e_<uuid>`; tests/run.sh drops leftovers before a run.

use std::path::{Path, PathBuf};

mod fixture;
pub use fixture::{ADMIN, ScratchDir, StartedCore, TestCore, authed, login};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "HOTLINE_TEST_DATABASE_URL";

/// A new empty directory under the system temp dir, named after `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A SIP port for baresip: free for UDP and TCP, and `port + 1` free for TCP too (baresip
/// binds its TLS transport there; a port picked for UDP alone collided with it now and then).
pub fn baresip_sip_port() -> u16 {
    use std::net::{TcpListener, UdpSocket};
    for _ in 0..200 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = u.local_addr().map(|a| a.port()) else {
            continue;
        };
        if port == u16::MAX {
            continue;
        }
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let tls = TcpListener::bind(("127.0.0.1", port + 1));
        if tcp.is_ok() && tls.is_ok() {
            return port;
        }
    }
    panic!("no free SIP port for baresip (UDP+TCP and TLS beside it) in 200 tries");
}

/// A base port for sipp's `-mp` (its RTP echo ports): sipp binds the audio pair at `P`, `P+1`
/// and the video pair at `P+2`, `P+3`, and gives up when any of them is taken.
///
/// A port the kernel picked (`bind(0)`) only says `P` was free: `P+2` may belong to another
/// test's socket, which made sipp fail with "Unable to bind video RTP socket". So the base is
/// taken from 21000-29999, below the kernel's ephemeral range (32768+) and outside the RTP
/// ranges the tests give the call server (10000-20000) and baresip (30000+); a process-wide
/// cursor hands each caller a different block; every port of the block must bind right now.
pub fn sipp_media_port() -> u16 {
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 21_000;
    const BLOCKS: u16 = 2_250; // 21000..30000 in blocks of 4
    // Start each process at a different block so two test binaries run at once rarely meet.
    static CURSOR: AtomicU16 = AtomicU16::new(u16::MAX);
    let _ = CURSOR.compare_exchange(
        u16::MAX,
        (std::process::id() % u32::from(BLOCKS)) as u16,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..BLOCKS {
        let block = CURSOR.fetch_add(1, Ordering::Relaxed) % BLOCKS;
        let base = FIRST + block * 4;
        if (base..base + 4).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no free block of 4 UDP ports in 21000-29999 for sipp's media");
}

/// The URL of a SQLite file `file` in `dir` (created on first use).
pub fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(file).display())
}

/// The PostgreSQL server the tests use when [`POSTGRES_ENV`] is unset (the local one on this
/// kind of machine, trust auth).
pub const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The name that opts a run out of PostgreSQL in [`SKIP_PEERS_ENV`] (storage tests then run on
/// SQLite only, and say so).
pub const POSTGRES_PEER: &str = "postgres";

/// A fresh database on the PostgreSQL server named by [`POSTGRES_ENV`] (or
/// [`DEFAULT_POSTGRES`]). PostgreSQL is a peer like sipp: when it does not answer the test
/// fails, saying how to start one or opt out; `None` only when the run opted out explicitly
/// with `HOTLINE_TEST_SKIP_PEERS=postgres` (tests/run.sh does that, and prints it, when no
/// server is reachable).
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Executor;
    let skip = std::env::var(SKIP_PEERS_ENV).unwrap_or_default();
    if opted_out(&skip, POSTGRES_PEER) {
        eprintln!("PostgreSQL: skipped ({SKIP_PEERS_ENV}={skip}): this test ran on SQLite only");
        return None;
    }
    let base = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_string());
    sqlx::any::install_default_drivers();
    let name = format!("hotline_e2e_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed by this test and {base} does not answer ({e}): start one \
                 (Debian `postgresql`; tests/run.sh finds it), point {POSTGRES_ENV} at one, or \
                 opt out with {SKIP_PEERS_ENV}={POSTGRES_PEER} (SQLite only)"
            )
        });
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("CREATE DATABASE");
    admin.close().await;
    let i = base
        .rfind('/')
        .expect("the PostgreSQL URL has a database path");
    Some(format!("{}/{name}", &base[..i]))
}

/// The databases a storage scenario runs on: SQLite (`core.db` in `dir`) always, then a fresh
/// PostgreSQL database when configured.
pub async fn database_urls(dir: &Path) -> Vec<String> {
    let mut out = vec![sqlite_url(dir, "core.db")];
    out.extend(fresh_postgres().await);
    out
}

/// An external program a test talks to (a real peer, never our own code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// sipp, with its RFC 2833 DTMF pcaps (Debian `sip-tester`).
    Sipp,
    /// baresip 1.0, headless (Debian `baresip`).
    Baresip,
    /// Chromium driven headless through chromedriver (WebDriver): the web desktop's browser
    /// test (Debian `chromium` and `chromium-driver`).
    Chromium,
}

/// The environment variable that opts a run out of peers by name, comma-separated
/// (`HOTLINE_TEST_SKIP_PEERS=baresip`). The test command prints the opt-out in its summary.
pub const SKIP_PEERS_ENV: &str = "HOTLINE_TEST_SKIP_PEERS";

impl Peer {
    /// The name used in [`SKIP_PEERS_ENV`].
    pub fn name(self) -> &'static str {
        match self {
            Peer::Sipp => "sipp",
            Peer::Baresip => "baresip",
            Peer::Chromium => "chromium",
        }
    }

    /// The Debian package that installs it.
    pub fn package(self) -> &'static str {
        match self {
            Peer::Sipp => "sip-tester",
            Peer::Baresip => "baresip",
            Peer::Chromium => "chromium chromium-driver",
        }
    }

    /// The files that must exist for the peer to run.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Peer::Sipp => &[
                "/usr/bin/sipp",
                "/usr/share/sip-tester/dtmf_2833_1.pcap",
                "/usr/share/sip-tester/g711a.pcap",
            ],
            Peer::Baresip => &["/usr/bin/baresip", "/usr/lib/baresip/modules/g711.so"],
            Peer::Chromium => &["/usr/bin/chromium", "/usr/bin/chromedriver"],
        }
    }

    /// The first of [`Peer::files`] that is missing, if any.
    pub fn missing(self) -> Option<&'static str> {
        self.files()
            .iter()
            .copied()
            .find(|f| !Path::new(f).exists())
    }
}

/// Whether `list` (the value of [`SKIP_PEERS_ENV`]) names the peer called `name`.
pub fn opted_out(list: &str, name: &str) -> bool {
    list.split(',').any(|p| p.trim() == name)
}

/// Call at the top of a test that needs `peer`. Returns `true` when the test must run (the peer
/// is installed); `false` only when the run opted out of it explicitly with
/// [`SKIP_PEERS_ENV`] (the test then returns without asserting anything, and says so). A peer
/// that is missing without an opt-out is a failure naming the package to install: a test
/// never passes without running its check.
pub fn require_peer(peer: Peer) -> bool {
    let skip = std::env::var(SKIP_PEERS_ENV).unwrap_or_default();
    if opted_out(&skip, peer.name()) {
        eprintln!(
            "{}: skipped ({SKIP_PEERS_ENV}={skip}): this test did not run",
            peer.name()
        );
        return false;
    }
    if let Some(file) = peer.missing() {
        panic!(
            "{} is needed by this test and {file} is missing: install the Debian package `{}` \
             (apt-get install -y {}, or run tests/run.sh, which installs it), or opt out with \
             {SKIP_PEERS_ENV}={}",
            peer.name(),
            peer.package(),
            peer.package(),
            peer.name()
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_out_list_names_peers_exactly() {
        assert!(opted_out("baresip", Peer::Baresip.name()));
        assert!(opted_out("sipp, baresip", Peer::Baresip.name()));
        assert!(opted_out("sipp,baresip", Peer::Sipp.name()));
        assert!(!opted_out("", Peer::Sipp.name()));
        assert!(!opted_out("baresipp", Peer::Baresip.name()));
        assert!(!opted_out("sip", Peer::Sipp.name()));
        assert!(opted_out("baresip,postgres", POSTGRES_PEER));
    }
}
