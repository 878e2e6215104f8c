//! The customer directory's storage (JO8, issue 19), the same on SQLite and PostgreSQL: saves
//! idempotent by code, one owner per number (a taken number refuses the save and names the
//! owner), versions, audit rows with what changed, lookups by number, paging and deletes.

mod common;

use hotline_domain::customer::{NewCustomer, ValidCustomer};
use hotline_domain::{CustomerClass, Timestamp};
use hotline_store::{Change, CustomerFilter, Expect, Saved, StoreError};

const T0: i64 = 1_780_000_000_000;

fn customer(code: &str, class: &str, numbers: &str) -> ValidCustomer {
    NewCustomer {
        code: code.into(),
        name: format!("{code}公司"),
        class: class.into(),
        branch: "海淀分公司".into(),
        numbers: numbers.into(),
        contacts: "张三:13800000000".into(),
        sla_note: "4小时到场".into(),
    }
    .validate()
    .expect("valid")
}

fn by(actor: &str, now: i64) -> Change<'_> {
    Change {
        actor,
        source: "grpc",
        now: Timestamp(now),
    }
}

#[tokio::test]
async fn jo8_customers_saved_once_by_code_looked_up_by_number_with_audit() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let name = db.name;
        let c1 = customer("C1", "大客户", "01062345678;01062345679");
        let saved = store
            .save_customer(&c1, Expect::Absent, &by("dm1", T0))
            .await
            .unwrap();
        let Saved::Created(rec) = saved else {
            panic!("{name}: {saved:?}")
        };
        assert_eq!(rec.version, 1, "{name}");
        // the same customer again: nothing written
        let again = store
            .save_customer(&c1, Expect::Any, &by("dm1", T0 + 1))
            .await
            .unwrap();
        assert!(
            matches!(&again, Saved::Unchanged(r) if r.version == 1 && r.updated_at == Timestamp(T0)),
            "{name}: {again:?}"
        );
        assert!(
            matches!(
                store
                    .save_customer(&c1, Expect::Absent, &by("dm1", T0))
                    .await,
                Err(StoreError::Duplicate(_))
            ),
            "{name}"
        );
        let found = store
            .customer_for_number("01062345679")
            .await
            .unwrap()
            .expect("listed");
        assert_eq!(found.customer, c1, "{name}");
        assert_eq!(found.customer.class, CustomerClass::Big);
        assert!(
            store
                .customer_for_number("01099999999")
                .await
                .unwrap()
                .is_none()
        );

        // an edit: one number dropped, one added, class changed
        let edited = customer("C1", "vip", "01062345679;01062345670");
        let saved = store
            .save_customer(&edited, Expect::Version(1), &by("dm2", T0 + 10))
            .await
            .unwrap();
        assert!(
            matches!(&saved, Saved::Updated(r) if r.version == 2),
            "{name}: {saved:?}"
        );
        assert!(
            store
                .customer_for_number("01062345678")
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert_eq!(
            store
                .customer_for_number("01062345670")
                .await
                .unwrap()
                .map(|r| r.customer.code),
            Some("C1".to_string())
        );
        // a save from a stale read
        assert!(
            matches!(
                store
                    .save_customer(&c1, Expect::Version(1), &by("dm1", T0 + 20))
                    .await,
                Err(StoreError::Conflict)
            ),
            "{name}"
        );
        let h = store.customer_history("C1").await.unwrap();
        assert_eq!(
            h.iter()
                .map(|a| (a.action.as_str(), a.actor.as_str()))
                .collect::<Vec<_>>(),
            vec![("create", "dm1"), ("update", "dm2")],
            "{name}"
        );
        assert!(
            h[1].changes.contains("类别: \"大用户\" → \"VIP用户\""),
            "{}",
            h[1].changes
        );
        assert!(
            h[1].changes.contains("新增号码: 01062345670"),
            "{}",
            h[1].changes
        );
        assert!(
            h[1].changes.contains("删除号码: 01062345678"),
            "{}",
            h[1].changes
        );
        store.close().await;
    }
}

#[tokio::test]
async fn jo8_a_number_owned_by_another_customer_refuses_the_save_naming_the_owner() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let name = db.name;
        store
            .save_customer(
                &customer("C1", "", "01062345678"),
                Expect::Any,
                &by("dm", T0),
            )
            .await
            .unwrap();
        let c2 = customer("C2", "专线", "01070000001;01062345678");
        let saved = store
            .save_customer(&c2, Expect::Any, &by("dm", T0 + 1))
            .await
            .unwrap();
        assert_eq!(
            saved,
            Saved::NumberTaken {
                number: "01062345678".into(),
                owner: "C1".into()
            },
            "{name}"
        );
        // nothing of C2 was written, not even its free number
        assert!(
            store
                .customer_for_number("01070000001")
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(matches!(
            store.get_customer("C2").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(
            store.customer_history("C2").await.unwrap().is_empty(),
            "{name}"
        );

        // in an import the refused customer does not stop the others
        let out = store
            .import_customers(
                &[c2.clone(), customer("C3", "重要", "01070000003")],
                &Change {
                    actor: "dm",
                    source: "import:customers.csv",
                    now: Timestamp(T0 + 2),
                },
            )
            .await
            .unwrap();
        assert!(
            matches!(out[0], Saved::NumberTaken { .. }),
            "{name}: {out:?}"
        );
        assert!(matches!(out[1], Saved::Created(_)), "{name}: {out:?}");
        let h = store.customer_history("C3").await.unwrap();
        assert_eq!(h[0].source, "import:customers.csv", "{name}");
        assert_eq!(store.customer_counts().await.unwrap(), (2, 2), "{name}");
        store.close().await;
    }
}

#[tokio::test]
async fn jo8_directory_pages_by_code_filters_and_deletes_with_audit() {
    for db in common::databases().await {
        let store = common::open(&db).await;
        let name = db.name;
        // a customer with many lines: numbers are written and checked in chunks
        let many: Vec<String> = (0..450).map(|i| format!("0106000{i:04}")).collect();
        let big = customer("B01", "big", &many.join(";"));
        assert!(matches!(
            store
                .save_customer(&big, Expect::Any, &by("dm", T0))
                .await
                .unwrap(),
            Saved::Created(_)
        ));
        let got = store.get_customer("B01").await.unwrap();
        assert_eq!(got.customer.numbers, big.numbers, "{name}");
        for (code, class) in [("A01", ""), ("A02", "vip"), ("A03", "")] {
            store
                .save_customer(
                    &customer(code, class, &format!("0107{}1234", &code[1..])),
                    Expect::Any,
                    &by("dm", T0),
                )
                .await
                .unwrap();
        }
        let page = |after: Option<&str>, class: Option<CustomerClass>| CustomerFilter {
            class,
            after_code: after.map(str::to_string),
            limit: 2,
            ..Default::default()
        };
        let codes = |v: Vec<hotline_store::CustomerRecord>| {
            v.into_iter().map(|r| r.customer.code).collect::<Vec<_>>()
        };
        assert_eq!(
            codes(store.list_customers(&page(None, None)).await.unwrap()),
            ["A01", "A02"]
        );
        assert_eq!(
            codes(
                store
                    .list_customers(&page(Some("A02"), None))
                    .await
                    .unwrap()
            ),
            ["A03", "B01"],
            "{name}"
        );
        assert_eq!(
            codes(
                store
                    .list_customers(&page(None, Some(CustomerClass::Vip)))
                    .await
                    .unwrap()
            ),
            ["A02"],
            "{name}"
        );
        let by_name = CustomerFilter {
            name_contains: Some("B0".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            codes(store.list_customers(&by_name).await.unwrap()),
            ["B01"],
            "{name}"
        );
        let pct = CustomerFilter {
            name_contains: Some("%".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(
            store.list_customers(&pct).await.unwrap().is_empty(),
            "{name}: % is literal"
        );

        assert!(matches!(
            store
                .delete_customer("B01", Some(7), &by("dm", T0 + 5))
                .await,
            Err(StoreError::Conflict)
        ));
        store
            .delete_customer("B01", Some(1), &by("dm", T0 + 5))
            .await
            .unwrap();
        assert!(
            store.customer_for_number(&many[0]).await.unwrap().is_none(),
            "{name}"
        );
        assert_eq!(store.customer_counts().await.unwrap(), (3, 3), "{name}");
        let h = store.customer_history("B01").await.unwrap();
        assert_eq!(
            h.last().map(|a| a.action.as_str()),
            Some("delete"),
            "{name}"
        );
        // the freed numbers can go to another customer
        assert!(matches!(
            store
                .save_customer(
                    &customer("B02", "", &many[0]),
                    Expect::Any,
                    &by("dm", T0 + 6)
                )
                .await
                .unwrap(),
            Saved::Created(_)
        ));
        store.close().await;
    }
}
