//! The customer directory in the core (JO8, issue 19), on SQLite and PostgreSQL: a directory
//! file imported as a whole (GBK CSV here; XLSX and UTF-8 in hotline-tabular's tests), again
//! without changes, and with a number another customer owns; then a ticket created over gRPC
//! by the IVR for a listed number takes the directory's class (big → 加急 and a senior; VIP →
//! its own repair time limit; a typed class is overridden), and a queued call's screen pop
//! shows the customer and goes to a senior.

use hotline_core::auth::Principal;
use hotline_core::desk::queue::Caller;
use hotline_core::error::CoreError;
use hotline_domain::rules::DeadlineKind;
use hotline_domain::{CustomerClass, Role};
use hotline_proto::v1 as pb;
use hotline_proto::v1::ticket_service_client::TicketServiceClient;
use hotline_testkit::TestCore;

const DIRECTORY: &str = "客户编码,客户名称,类别,分公司,电话号码,联系人,备注\r\n\
C001,大华公司,大客户,海淀分公司,\"01062345678;01062345679\",张经理:13800000000,4小时到场\r\n\
C002,专线银行,专线,朝阳分公司,01070000001,,\r\n\
C003,贵宾酒店,VIP,西城分公司,01080000001,,\r\n\
C004,错行公司,金牌,,01090000001,,\r\n";

fn gbk(s: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(s);
    assert!(!unmappable);
    bytes.into_owned()
}

fn admin() -> Principal {
    Principal {
        agent_id: "admin".into(),
        role: Role::Admin,
    }
}

#[tokio::test]
async fn jo8_directory_import_gives_tickets_and_calls_their_customer_class() {
    for tc in TestCore::backends("customers").await {
        let db = tc
            .database_url()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        let core = tc
            .with_config(|c| c.service_account = Some(("ivr".into(), "ivr-secret-1".into())))
            .start()
            .await;
        let desk = &core.core.desk;
        let r = desk
            .import_customers(&admin(), "客户.csv", &gbk(DIRECTORY))
            .await
            .unwrap();
        assert_eq!(r.encoding, "gb18030", "{db}");
        assert_eq!(
            (r.created, r.updated, r.unchanged),
            (3, 0, 0),
            "{db}: {r:?}"
        );
        assert_eq!(r.refused.len(), 1, "{db}: {r:?}");
        assert_eq!((r.refused[0].line, r.refused[0].code.as_str()), (5, "C004"));
        assert!(r.refused[0].reason.contains("class"), "{:?}", r.refused[0]);
        // the same file again changes nothing
        let again = desk
            .import_customers(&admin(), "客户.csv", &gbk(DIRECTORY))
            .await
            .unwrap();
        assert_eq!(
            (again.created, again.updated, again.unchanged),
            (0, 0, 3),
            "{db}"
        );
        // a later file listing C001's number under another customer: refused, naming C001
        let clash =
            "客户编码,客户名称,电话号码\nC005,重号公司,01062345678\nC006,新公司,01090000006\n";
        let r = desk
            .import_customers(&admin(), "more.csv", clash.as_bytes())
            .await
            .unwrap();
        assert_eq!(r.created, 1, "{db}: {r:?}");
        assert_eq!(r.refused.len(), 1, "{db}: {r:?}");
        assert_eq!(r.refused[0].line, 2);
        assert!(
            r.refused[0].reason.contains("已属于客户 C001"),
            "{:?}",
            r.refused[0]
        );
        // a file that is not a table: INVALID_ARGUMENT-class error on `file`
        match desk
            .import_customers(&admin(), "x.csv", b"\xff\xfe\x00\x01garbage")
            .await
        {
            Err(CoreError::Invalid(e)) => assert_eq!(e.field, "file", "{e}"),
            other => panic!("{db}: {other:?}"),
        }
        match desk
            .import_customers(&admin(), "x.csv", "名字,地址\n甲,乙\n".as_bytes())
            .await
        {
            Err(CoreError::Invalid(e)) => assert!(e.reason.contains("客户编码"), "{e}"),
            other => panic!("{db}: {other:?}"),
        }

        // tickets from the IVR: no customer typed, the directory decides
        let mut tickets = core.client_as(core.token("ivr"), TicketServiceClient::with_interceptor);
        let mut create = async |number: &str, class: &str, fault: &str| {
            tickets
                .create_ticket(pb::CreateTicketRequest {
                    faulty_number: number.into(),
                    fault_type: fault.into(),
                    channel: "ivr".into(),
                    customer_class: class.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
        };
        let big = create("01062345679", "", "no_dial_tone").await;
        let t = big.ticket.expect("ticket");
        let c = t.customer.expect("customer");
        assert_eq!(
            (c.class.as_str(), c.name.as_str(), c.branch.as_str()),
            ("big", "大华公司", "海淀分公司"),
            "{db}"
        );
        assert!(t.urgent, "{db}: a big customer's report is 加急");
        assert_eq!(t.status, "escalated", "{db}: JO8 to a senior");

        let vip = create("01080000001", "", "noise").await;
        let view = desk.get(vip.ticket.as_ref().unwrap().id).await.unwrap();
        assert_eq!(view.ticket.customer.class, CustomerClass::Vip, "{db}");
        assert_eq!(
            view.ticket.status.as_str(),
            "new",
            "{db}: a VIP stays with the junior flow"
        );
        assert!(!view.ticket.urgent);
        let repair = view
            .deadlines
            .iter()
            .find(|d| d.deadline.kind == DeadlineKind::Repair)
            .expect("repair deadline");
        assert_eq!(
            repair.deadline.due_at.0 - view.ticket.received_at.0,
            12 * 3_600_000,
            "{db}: the VIP row of the time-limit table"
        );
        // a class typed by the caller does not beat the directory
        let leased = create("01070000001", "ordinary", "leased_line_down").await;
        let c = leased.ticket.unwrap().customer.unwrap();
        assert_eq!(c.class, "leased_line", "{db}");
        // an unlisted number keeps what was typed
        let plain = create("01099990000", "", "noise").await;
        assert_eq!(plain.ticket.unwrap().customer.unwrap().class, "ordinary");

        // the screen pop of a queued call from a big customer's line
        let info = desk
            .screen_pop(Caller {
                call_id: "call-c001@test".into(),
                caller_number: "01062345678".into(),
                faulty_number: String::new(),
                senior: false,
                reason: String::new(),
            })
            .await
            .unwrap();
        assert!(info.senior, "{db}: JO8 routes the call to a senior");
        assert_eq!(info.reason, "目录客户: 大用户");
        let c = info.customer.expect("customer on the screen pop");
        assert_eq!(
            (c.name.as_str(), c.class),
            ("大华公司", CustomerClass::Big),
            "{db}"
        );
        // ... and one from an unlisted line stays as the IVR put it
        let info = desk
            .screen_pop(Caller {
                call_id: "call-x@test".into(),
                caller_number: "01055550000".into(),
                faulty_number: String::new(),
                senior: false,
                reason: "menu_0".into(),
            })
            .await
            .unwrap();
        assert!(!info.senior && info.customer.is_none(), "{db}: {info:?}");

        let h = desk.customer_history("C001").await.unwrap();
        assert_eq!(h.len(), 1, "{db}: imported once, unchanged the second time");
        assert_eq!(h[0].source, "import:客户.csv");
        core.shutdown().await;
    }
}
