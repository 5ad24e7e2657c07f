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
