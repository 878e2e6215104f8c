//! Opens a fresh store on SQLite (a temporary file) and, when `HOTLINE_TEST_DATABASE_URL` is
//! set, on a fresh PostgreSQL database created for the test.

use hotline_store::{Store, StoreOptions};
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    _dir: Option<std::path::PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// One database per backend under test.
pub async fn databases() -> Vec<TestDb> {
    sqlx::any::install_default_drivers();
    let dir = std::env::temp_dir().join(format!("hotline-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut out = vec![TestDb {
        name: "sqlite",
        url: format!("sqlite://{}?mode=rwc", dir.join("desk.db").display()),
        _dir: Some(dir),
    }];
    if let Ok(base) = std::env::var("HOTLINE_TEST_DATABASE_URL") {
        let db = format!("hotline_t_{}", uuid::Uuid::new_v4().simple());
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await
            .expect("connect to HOTLINE_TEST_DATABASE_URL");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .expect("create test database");
        admin.close().await;
        let url = match base.rfind('/') {
            Some(i) if base[..i].contains("://") && i > base.find("://").unwrap_or(0) + 2 => {
                format!("{}/{db}", &base[..i])
            }
            _ => format!("{base}/{db}"),
        };
        out.push(TestDb {
            name: "postgres",
            url,
            _dir: None,
        });
    }
    out
}

pub async fn open(db: &TestDb) -> Store {
    Store::open(StoreOptions::new(db.url.clone()))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", db.name))
}
