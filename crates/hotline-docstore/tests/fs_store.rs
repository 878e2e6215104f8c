//! The filesystem store against a real directory: round trip, dedup, corruption detected on
//! read, abandoned writes leave nothing, removal.

use hotline_docstore::{Digest, DocStoreError, DocumentStore, FsStore};

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("docstore-{tag}-{}", uuid_like()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn te5_documents_round_trip_once_and_are_named_by_sha256() {
    let dir = scratch("roundtrip");
    let s = FsStore::open(&dir).await.unwrap();
    let body = "传真：小区突然停电".as_bytes();
    let a = s.put(body).await.unwrap();
    assert!(a.created);
    assert_eq!(a.size, body.len() as u64);
    assert_eq!(a.digest, Digest::of(body));
    let hex = a.digest.to_hex();
    assert!(dir.join(&hex[..2]).join(&hex[2..]).is_file());
    // the same bytes again are not written twice
    let b = s.put(body).await.unwrap();
    assert!(!b.created);
    assert_eq!(b.digest, a.digest);
    assert_eq!(s.get(&a.digest).await.unwrap(), body);
    // a chunked write gives the same object
    let mut w = s.begin().await.unwrap();
    for c in body.chunks(5) {
        w.write(c).await.unwrap();
    }
    assert_eq!(w.written(), body.len() as u64);
    let c = w.finish().await.unwrap();
    assert_eq!((c.digest, c.created), (a.digest, false));
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn te5_a_corrupted_object_is_detected_on_read() {
    let dir = scratch("corrupt");
    let s = FsStore::open(&dir).await.unwrap();
    let a = s.put(b"original letter").await.unwrap();
    std::fs::write(s.path_of(&a.digest), b"original lettes").unwrap();
    match s.get(&a.digest).await {
        Err(DocStoreError::Corrupt { digest, actual }) => {
            assert_eq!(digest, a.digest);
            assert_eq!(actual, Digest::of(b"original lettes"));
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let missing = Digest::of(b"never stored");
    assert!(matches!(
        s.get(&missing).await,
        Err(DocStoreError::NotFound(d)) if d == missing
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn te5_an_abandoned_write_leaves_nothing_and_remove_is_idempotent() {
    let dir = scratch("abandon");
    let s = FsStore::open(&dir).await.unwrap();
    let mut w = s.begin().await.unwrap();
    w.write(b"half an upload").await.unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    assert!(!s.contains(&Digest::of(b"half an upload")).await.unwrap());
    let a = s.put(b"kept for 0 days").await.unwrap();
    assert!(s.remove(&a.digest).await.unwrap());
    assert!(!s.remove(&a.digest).await.unwrap());
    assert!(!s.contains(&a.digest).await.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
