//! Test support for the integration tests of the hotline crates (a dev-dependency only).
//!
//! Every storage test runs on SQLite and, when `HOTLINE_TEST_DATABASE_URL` names a PostgreSQL
//! server (CI sets it), on a fresh database created there for the test. Scratch databases are
//! named `hotline_e2e_<uuid>`; `.ci/run` drops leftovers before a run.

use std::path::{Path, PathBuf};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_ENV: &str = "HOTLINE_TEST_DATABASE_URL";

/// A new empty directory under the system temp dir, named after `tag`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hotline-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
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

/// A fresh database on the PostgreSQL server named by [`POSTGRES_ENV`], or `None` when it is
/// not set. Panics when it is set but the server cannot be reached: a configured backend that
/// silently goes untested would hide failures.
pub async fn fresh_postgres() -> Option<String> {
    use sqlx::Executor;
    let base = std::env::var(POSTGRES_ENV).ok()?;
    sqlx::any::install_default_drivers();
    let name = format!("hotline_e2e_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV}={base}: PostgreSQL not reachable: {e}"));
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
