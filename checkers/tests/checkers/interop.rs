//! Histories as Jepsen, Knossos and Porcupine write them (`testdata/jepsen`,
//! `testdata/knossos`): each form reads, and checks to the verdict its file name says.

use std::time::Duration;

use checkers::format::Format;
use checkers::history::{History, Kind, Process};
use checkers::model::{CasOp, CasRegister, Register, RegisterOp};
use checkers::verdict::Validity;
use serde_json::json;

use crate::support::{check, testdata};

fn read(rel: &str) -> (Format, Vec<checkers::history::Record>) {
    let path = testdata(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    checkers::format::read(&bytes, None).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn verdict_of<M: checkers::model::Model>(rel: &str, model: &M) -> Validity {
    let (_, records) = read(rel);
    let history = History::<M::Op>::from_records(&records).unwrap_or_else(|e| panic!("{rel}: {e}"));
    check(&history, model, true, Duration::from_secs(10)).valid
}

#[test]
fn jepsen_etcd_logs_with_timeouts_check() {
    let (format, records) = read("jepsen/etcd-timeouts-ok.log");
    assert_eq!(format, Format::JepsenLog);
    // `2 :info :cas :timed-out`: the cas keeps its input, the keyword is the error.
    let info = records
        .iter()
        .find(|r| r.kind == Kind::Info && r.f == "cas")
        .expect("an indeterminate cas");
    assert_eq!(
        (&info.value, &info.error),
        (&json!([3, 4]), &Some(json!("timed-out")))
    );
    let history = History::<CasOp>::from_records(&records).expect("well-formed");
    assert_eq!(history.calls().len(), 9);
    assert_eq!(
        verdict_of("jepsen/etcd-timeouts-ok.log", &CasRegister),
        Validity::Valid
    );
    assert_eq!(
        verdict_of("jepsen/etcd-timeouts-bad.log", &CasRegister),
        Validity::Invalid
    );
}

#[test]
fn jepsen_logback_logs_with_spaces_and_a_nemesis_check() {
    let (format, records) = read("jepsen/logback-partition-ok.log");
    assert_eq!(format, Format::JepsenLog);
    assert_eq!(records.len(), 18, "{records:#?}");
    let nemesis: Vec<_> = records
        .iter()
        .filter(|r| r.process == Process::Nemesis)
        .collect();
    assert_eq!(nemesis.len(), 4);
    assert_eq!(nemesis[1].value[0], json!("isolated"));
    // Times come from the timestamps, relative to the first op.
    assert_eq!(records[0].time, Some(0));
    assert_eq!(records[1].time, Some(6_000_000));
    // `str` prints a string error without quotes.
    let fail = records
        .iter()
        .find(|r| r.kind == Kind::Fail)
        .expect("a failed read");
    assert_eq!(fail.error, Some(json!("connection refused: n1:2379")));
    let info = records
        .iter()
        .find(|r| r.kind == Kind::Info && r.f == "write")
        .expect("info");
    assert_eq!(
        (&info.value, &info.error),
        (&json!(4), &Some(json!("indeterminate: Read timed out")))
    );
    let history = History::<RegisterOp>::from_records(&records).expect("well-formed");
    assert_eq!(history.calls().len(), 7);
    assert_eq!(
        verdict_of("jepsen/logback-partition-ok.log", &Register),
        Validity::Valid
    );
    assert_eq!(
        verdict_of("jepsen/logback-partition-bad.log", &Register),
        Validity::Invalid
    );
}

#[test]
fn knossos_lists_with_comments_and_discards_check() {
    let (format, records) = read("knossos/cas-register-list-bad.edn");
    assert_eq!(format, Format::Edn);
    assert_eq!(records.len(), 8, "the #_ discarded op is not read");
    assert_eq!(records[0].line, 4);
    assert_eq!(
        verdict_of("knossos/cas-register-list-ok.edn", &Register),
        Validity::Valid
    );
    assert_eq!(
        verdict_of("knossos/cas-register-list-bad.edn", &Register),
        Validity::Invalid
    );
}

#[test]
fn jepsen_history_edn_bare_maps_and_records_check() {
    let (format, records) = read("knossos/history-ok.edn");
    assert_eq!(format, Format::Edn);
    assert_eq!(records.len(), 16);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.process == Process::Nemesis)
            .count(),
        4
    );
    assert_eq!(records[6].error, Some(json!("timeout")));
    assert_eq!(records[7].error, Some(json!(["unavailable", "no leader"])));
    assert_eq!(records[11].time, Some(15_200_400_000));
    assert_eq!(
        verdict_of("knossos/history-ok.edn", &CasRegister),
        Validity::Valid
    );
    assert_eq!(
        verdict_of("knossos/history-bad.edn", &CasRegister),
        Validity::Invalid
    );
}

/// One register history in each source format: `write 1`, then `read → <read>`.
fn write_then_read(read: &str) -> [(Format, String); 3] {
    let json_read = if read == "nil" { "null" } else { read };
    [
        (
            Format::Jsonl,
            format!(
                "{{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}}\n\
                 {{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}}\n\
                 {{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}\n\
                 {{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":{json_read}}}\n"
            ),
        ),
        (
            Format::Edn,
            format!(
                "({{:type :invoke, :f :write, :value 1, :process 0}}\n \
                 {{:type :ok, :f :write, :value 1, :process 0}}\n \
                 {{:type :invoke, :f :read, :value nil, :process 1}}\n \
                 {{:type :ok, :f :read, :value {read}, :process 1}})\n"
            ),
        ),
        (
            Format::JepsenLog,
            format!(
                "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
                 INFO  jepsen.util - 0\t:ok\t:write\t1\n\
                 INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
                 INFO  jepsen.util - 1\t:ok\t:read\t{read}\n"
            ),
        ),
    ]
}

fn verdict_of_text(text: &str, want: Format) -> Validity {
    let (format, records) = checkers::format::read(text.as_bytes(), None).expect(text);
    assert_eq!(format, want, "{text}");
    let history = History::<RegisterOp>::from_records(&records).expect(text);
    check(&history, &Register, true, Duration::from_secs(5)).valid
}

#[test]
fn an_ok_read_of_nil_means_never_written_in_every_format() {
    // Knossos would accept this nil read (its models take nil as "unknown"); faultline,
    // like Porcupine, reads nil as "the register holds nothing", which after an
    // acknowledged write is a lost write.
    for (format, text) in write_then_read("nil") {
        assert_eq!(
            verdict_of_text(&text, format),
            Validity::Invalid,
            "{format}"
        );
    }
    for (format, text) in write_then_read("1") {
        assert_eq!(verdict_of_text(&text, format), Validity::Valid, "{format}");
    }
    // Before any write, nil is the initial value.
    let first = "({:type :invoke, :f :read, :value nil, :process 1}\n \
                 {:type :ok, :f :read, :value nil, :process 1})";
    assert_eq!(verdict_of_text(first, Format::Edn), Validity::Valid);
}

#[test]
fn ops_are_ordered_by_file_position_not_time() {
    // By position: write 1 completes, then the read sees 1: valid. Sorted by :time
    // (or :index) the read would come first and see a value not yet written.
    let by_position = "\
{:index 7, :time 900, :type :invoke, :process 0, :f :write, :value 1}
{:index 8, :time 950, :type :ok, :process 0, :f :write, :value 1}
{:index 1, :time 100, :type :invoke, :process 1, :f :read, :value nil}
{:index 2, :time 200, :type :ok, :process 1, :f :read, :value 1}
";
    assert_eq!(verdict_of_text(by_position, Format::Edn), Validity::Valid);
    // And the other way round: the times say "concurrent", the file says "after".
    let stale = "\
{:index 0, :time 100, :type :invoke, :process 0, :f :write, :value 1}
{:index 3, :time 400, :type :ok, :process 0, :f :write, :value 1}
{:index 1, :time 200, :type :invoke, :process 1, :f :read, :value nil}
{:index 2, :time 300, :type :ok, :process 1, :f :read, :value nil}
";
    assert_eq!(verdict_of_text(stale, Format::Edn), Validity::Invalid);
}

#[test]
fn non_integer_processes_are_the_nemesis() {
    let text = "\
[{:type :invoke, :f :write, :value 1, :process 0}
 {:type :info, :f :start, :value nil, :process :nemesis}
 {:type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\"}}], :process :nemesis}
 {:type :info, :f :bump, :value {\"n1\" 30}, :process :clock}
 {:type :info, :f :kill, :value \"n2\", :process \"n2-killer\"}
 {:type :ok, :f :write, :value 1, :process 0}]
";
    let (_, records) = checkers::format::read(text.as_bytes(), None).expect("reads");
    let nemesis = records
        .iter()
        .filter(|r| r.process == Process::Nemesis)
        .count();
    assert_eq!(nemesis, 4);
    // Never paired, never checked: the history is the one write.
    let history = History::<RegisterOp>::from_records(&records).expect("well-formed");
    assert_eq!(history.calls().len(), 1);
    assert_eq!(
        check(&history, &Register, true, Duration::from_secs(5)).valid,
        Validity::Valid
    );
}

#[test]
fn knossos_multi_register_histories_check_as_a_whole() {
    use checkers::model::{is_multi_register_txn, MultiRegister};
    let (_, records) = read("knossos/multi-register-ok.edn");
    assert!(records
        .iter()
        .filter(|r| r.process != Process::Nemesis)
        .all(is_multi_register_txn));
    assert_eq!(
        verdict_of("knossos/multi-register-ok.edn", &MultiRegister::default()),
        Validity::Valid
    );
    assert_eq!(
        verdict_of(
            "knossos/multi-register-torn-read.edn",
            &MultiRegister::default()
        ),
        Validity::Invalid
    );
    // The same history split per register is fine: the model must not partition.
    let per_register = "\
{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":1}
{\"process\":2,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"y\",\"value\":1}
{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\",\"value\":null}
{\"process\":3,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"y\",\"value\":null}
{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":1}
{\"process\":3,\"type\":\"ok\",\"f\":\"read\",\"key\":\"y\",\"value\":null}
{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":1}
{\"process\":2,\"type\":\"ok\",\"f\":\"write\",\"key\":\"y\",\"value\":1}
";
    assert_eq!(
        verdict_of_text(per_register, Format::Jsonl),
        Validity::Valid
    );
    // With every register starting at 0 (Knossos's (multi-register {:x 0 …})), the
    // nil read of z is impossible.
    assert_eq!(
        verdict_of(
            "knossos/multi-register-ok.edn",
            &MultiRegister::new(Some(0))
        ),
        Validity::Invalid
    );
}

#[test]
fn an_initial_value_is_what_reads_see_before_any_write() {
    use checkers::model::Initial;
    let text = "\
{:process 0, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :read, :value 0}
{:process 1, :type :invoke, :f :cas, :value [0 3]}
{:process 1, :type :ok, :f :cas, :value [0 3]}
";
    let (_, records) = checkers::format::read(text.as_bytes(), None).expect("reads");
    let history = History::<CasOp>::from_records(&records).expect("well-formed");
    let valid = |v| check(&history, &v, true, Duration::from_secs(5)).valid;
    assert_eq!(valid(Initial::new(CasRegister, Some(0))), Validity::Valid);
    assert_eq!(valid(Initial::new(CasRegister, None)), Validity::Invalid);
    assert_eq!(
        check(&history, &CasRegister, true, Duration::from_secs(5)).valid,
        Validity::Invalid
    );
}

#[test]
fn a_runs_history_exports_to_edn_with_keywords_and_reads_back_equal() {
    use checkers::faults::{FaultEvent, FaultKind, FaultOutcome};
    use checkers::history::{Fault, HistoryWriter, Op};
    use checkers::model::{KvOp, MicroOp, MultiRegisterOp, MutexOp};

    // What a run's interpreter appends: typed ops of the workload, nemesis events,
    // errors as the targets word them.
    let mut w = HistoryWriter::new(Vec::new());
    let fault = |event: FaultEvent| Fault {
        f: event.f(),
        value: serde_json::to_value(&event).expect("an event is JSON"),
    };
    let partition = FaultEvent::start(FaultKind::Partition, "majority", FaultOutcome::Installed)
        .with_nodes(["n1", "n2", "n3"])
        .with_grudge(
            [
                ("n1", vec!["n3"]),
                ("n2", vec!["n3"]),
                ("n3", vec!["n1", "n2"]),
            ]
            .into_iter()
            .map(|(n, from)| (n.to_owned(), from.into_iter().map(str::to_owned).collect()))
            .collect(),
        );
    let txn = MultiRegisterOp(vec![
        MicroOp::Read(checkers::history::Key::from("x"), None),
        MicroOp::Write(checkers::history::Key::Int(7), 2),
    ]);
    w.append(&Op::client(0, 10, 0, Kind::Invoke, RegisterOp::Write(3)).with_key(7))
        .unwrap();
    w.append(&Op::<RegisterOp>::nemesis(
        1,
        15,
        Kind::Info,
        fault(partition),
    ))
    .unwrap();
    w.append(
        &Op::client(2, 20, 0, Kind::Info, RegisterOp::Write(3))
            .with_key(7)
            .with_error(json!("timed-out")),
    )
    .unwrap();
    w.append(&Op::client(
        3,
        30,
        1,
        Kind::Invoke,
        CasOp::Cas { from: 1, to: 2 },
    ))
    .unwrap();
    w.append(
        &Op::client(4, 40, 1, Kind::Fail, CasOp::Cas { from: 1, to: 2 })
            .with_error(json!(["unavailable", "no leader: \"n2\" is down"])),
    )
    .unwrap();
    w.append(&Op::client(5, 50, 2, Kind::Invoke, KvOp::Append("x 0 1 y".into())).with_key("k 1"))
        .unwrap();
    w.append(&Op::client(6, 60, 2, Kind::Ok, KvOp::Append("x 0 1 y".into())).with_key("k 1"))
        .unwrap();
    w.append(&Op::client(7, 70, 3, Kind::Invoke, MutexOp::Acquire))
        .unwrap();
    w.append(
        &Op::client(8, 80, 3, Kind::Info, MutexOp::Acquire)
            .with_error(json!("connection reset by peer")),
    )
    .unwrap();
    w.append(&Op::client(9, 90, 4, Kind::Invoke, txn.clone()))
        .unwrap();
    w.append(&Op::client(10, 95, 4, Kind::Ok, txn)).unwrap();
    w.append(&Op::<RegisterOp>::nemesis(
        11,
        99,
        Kind::Info,
        fault(FaultEvent::heal_all()),
    ))
    .unwrap();
    let jsonl = w.into_inner();

    let (_, original) = checkers::format::read(&jsonl, Some(Format::Jsonl)).expect("jsonl");
    let edn = checkers::format::edn::write(&original);
    for kept in [
        ":type :invoke",
        ":type :ok",
        ":f :write",
        ":f :start-partition",
        ":process :nemesis",
        ":error :timed-out",
        ":error [:unavailable \"no leader: \\\"n2\\\" is down\"]",
        ":error \"connection reset by peer\"",
        ":value [[:read :x nil] [:write 7 2]]",
        ":key \"k 1\"",
        ":value \"x 0 1 y\"",
    ] {
        assert!(edn.contains(kept), "{kept} in\n{edn}");
    }
    let (format, back) = checkers::format::read(edn.as_bytes(), None).expect("the export reads");
    assert_eq!(format, Format::Edn);
    assert_eq!(back.len(), original.len());
    for (a, b) in original.iter().zip(&back) {
        assert_eq!(
            (a.index, a.time, a.process, a.kind, &a.f, &a.key, &a.value, &a.error),
            (b.index, b.time, b.process, b.kind, &b.f, &b.key, &b.value, &b.error),
            "{edn}"
        );
    }
    // The fault events survive as typed events.
    assert_eq!(
        checkers::faults::events(&back),
        checkers::faults::events(&original)
    );
}
