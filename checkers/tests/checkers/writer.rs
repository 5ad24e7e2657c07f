//! `HistoryWriter` output reads back as the same typed history.

use checkers::format::{self, Format};
use checkers::history::{Fault, History, HistoryWriter, Kind, Op};
use checkers::model::CasOp;
use serde_json::json;

#[test]
fn written_history_reads_back_identically() {
    let ops = vec![
        Op::client(0, 100, 0, Kind::Invoke, CasOp::Cas { from: 1, to: 2 }).with_key("7"),
        Op::nemesis(
            1,
            150,
            Kind::Info,
            Fault {
                f: "partition".into(),
                value: json!({"n1": ["n2", "n3"]}),
            },
        ),
        Op::client(2, 200, 0, Kind::Info, CasOp::Cas { from: 1, to: 2 })
            .with_key("7")
            .with_error(json!("timeout")),
        Op::client(3, 300, 5, Kind::Invoke, CasOp::Read(None)).with_key(7i64),
        Op::client(4, 400, 5, Kind::Ok, CasOp::Read(Some(2))).with_key(7i64),
    ];
    let history = History::new(ops.clone()).expect("well-formed");
    let mut w = HistoryWriter::new(Vec::new());
    for op in history.ops() {
        w.append(op).expect("writing to a Vec");
    }
    assert_eq!(w.written(), 5);
    let bytes = w.into_inner();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert!(text.starts_with(r#"{"index":0,"time":100,"process":0,"type":"invoke","f":"cas","key":"7","value":[1,2]}"#), "{text}");
    assert!(
        text.contains(r#""process":"nemesis","type":"info","f":"partition""#),
        "{text}"
    );
    let (f, records) = format::read(&bytes, None).unwrap();
    assert_eq!(f, Format::Jsonl);
    let back: History<CasOp> = History::from_records(&records).unwrap();
    assert_eq!(back.ops(), history.ops());
}

#[test]
fn each_op_reaches_the_file_before_append_returns() {
    let dir = std::env::temp_dir().join(format!("checkers-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    let mut w = HistoryWriter::create(&path).unwrap();
    w.append(&Op::client(0, 1, 0, Kind::Invoke, CasOp::Write(1)))
        .unwrap();
    // Read while the writer is still open: the line must already be there.
    let seen = std::fs::read_to_string(&path).unwrap();
    assert_eq!(seen.lines().count(), 1);
    w.sync().unwrap();
    drop(w);
    std::fs::remove_dir_all(&dir).ok();
}
