//! Opens a fresh store on SQLite (a temporary file) and on a fresh PostgreSQL database
//! (`hotline_testkit::fresh_postgres`: a peer that must answer unless the run opts out).

use hotline_store::{Store, StoreOptions};

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
    if let Some(url) = hotline_testkit::fresh_postgres().await {
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
