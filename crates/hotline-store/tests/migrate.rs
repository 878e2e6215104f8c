//! Two core processes (replicas, or a restart overlapping the old process) opening one empty
//! database at the same moment: both must come up, and every migration is applied once.

#[allow(dead_code)] // this file uses only `databases`
mod common;

use hotline_store::{Store, StoreOptions};
use sqlx::Row;

#[tokio::test]
async fn replicas_starting_together_apply_each_migration_once() {
    for db in common::databases().await {
        // Separate pools, as separate processes would have.
        let opens: Vec<_> = (0..4)
            .map(|_| tokio::spawn(Store::open(StoreOptions::new(db.url.clone()))))
            .collect();
        let mut stores: Vec<Store> = Vec::new();
        for o in opens {
            let s = o.await.expect("open task");
            stores.push(s.unwrap_or_else(|e| panic!("{}: open failed: {e}", db.name)));
        }
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        let rows = sqlx::query("SELECT version FROM schema_version ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.get("version")).collect();
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert!(versions.len() >= 5, "{}: {versions:?}", db.name);
        assert_eq!(
            versions, expected,
            "{}: each version once, in order",
            db.name
        );
        pool.close().await;
        for s in stores {
            s.close().await;
        }
    }
}
