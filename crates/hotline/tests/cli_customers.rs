//! `hotline admin import-customers FILE` (issue 19 part 1, JO8): the real binary imports a GBK
//! CSV directory into SQLite, prints what it created and each refused row with its line and
//! reason on stdout, changes nothing on a second run, and refuses a file that is not a table
//! with a non-zero exit naming the file. The stored directory is read back through the store.

use std::path::Path;

use hotline_domain::CustomerClass;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

const DIRECTORY: &str = "客户编码,客户名称,类别,分公司,电话号码\r\n\
C001,大华公司,大客户,海淀分公司,\"01062345678;01062345679\"\r\n\
C002,专线银行,专线,朝阳分公司,01070000001\r\n\
C003,错行公司,金牌,,01090000001\r\n";

async fn import(url: &str, file: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["admin", "import-customers"])
        .arg(file)
        .args(["--database-url", url])
        .env("HOTLINE_LOG", "warn")
        .output()
        .await
        .expect("run hotline admin import-customers");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn jo8_admin_import_customers_reports_refused_rows_and_is_idempotent() {
    let dir = std::env::temp_dir().join(format!("hotline-cli-customers-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("desk.db").display());
    let csv = dir.join("客户目录.csv");
    let (gbk, _, bad) = encoding_rs::GBK.encode(DIRECTORY);
    assert!(!bad);
    std::fs::write(&csv, &gbk).unwrap();

    let (ok, out, err) = import(&url, &csv).await;
    assert!(ok, "stdout {out}\nstderr {err}");
    assert!(
        out.contains("(gb18030): 新建 created 2, 更新 updated 0, 未变 unchanged 0, 拒绝 refused 1"),
        "{out}"
    );
    assert!(out.contains("第 4 行 line 4 [C003]:"), "{out}");
    assert!(out.contains("class"), "{out}");

    let (ok, out, _) = import(&url, &csv).await;
    assert!(ok);
    assert!(
        out.contains("新建 created 0, 更新 updated 0, 未变 unchanged 2"),
        "{out}"
    );

    let junk = dir.join("junk.csv");
    std::fs::write(&junk, b"\xff\xfe\x00garbage").unwrap();
    let (ok, out, err) = import(&url, &junk).await;
    assert!(!ok, "a file that is not a table fails: {out}");
    assert!(err.contains("junk.csv"), "{err}");

    sqlx::any::install_default_drivers();
    let store = hotline_store::Store::open(hotline_store::StoreOptions::new(url))
        .await
        .unwrap();
    let c = store
        .customer_for_number("01062345679")
        .await
        .unwrap()
        .expect("imported");
    assert_eq!(
        (c.customer.code.as_str(), c.customer.class),
        ("C001", CustomerClass::Big)
    );
    let h = store.customer_history("C001").await.unwrap();
    assert_eq!((h.len(), h[0].actor.as_str()), (1, "admin-cli"));
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
