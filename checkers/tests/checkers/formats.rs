//! Every format reads its valid forms and names the line of a malformed one.

use checkers::format::{self, Format};
use checkers::history::{History, Key, Kind, Process, ProcessId, Record};
use checkers::model::{CasOp, KvOp};
use serde_json::json;

fn parse(text: &str) -> Result<(Format, Vec<Record>), checkers::InputError> {
    format::read(text.as_bytes(), None)
}

fn err_line(text: &str, format: Option<Format>) -> (usize, String) {
    let e = format::read(text.as_bytes(), format).expect_err("malformed input must be rejected");
    (e.line().expect("file errors carry a line"), e.message)
}

#[test]
fn jsonl_reads_the_documented_schema() {
    let text = r#"{"index":0,"time":1200,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,2]}

{"index":1,"time":1300,"process":"nemesis","type":"info","f":"partition","value":{"n1":["n2"]}}
{"index":2,"time":1500,"process":3,"type":"info","f":"cas","key":"7","value":[1,2],"error":"timeout","extra":1}
"#;
    let (f, r) = parse(text).unwrap();
    assert_eq!(f, Format::Jsonl);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].line, 1);
    assert_eq!(r[1].line, 3);
    assert_eq!(r[0].key, Some(Key::from("7")));
    assert_eq!(r[0].process, Process::Client(ProcessId(3)));
    assert_eq!(r[1].process, Process::Nemesis);
    assert_eq!(r[2].error, Some(json!("timeout")));
    let h: History<CasOp> = History::from_records(&r).unwrap();
    assert_eq!(h.ops()[0].payload(), Some(&CasOp::Cas { from: 1, to: 2 }));
    assert_eq!(h.ops()[0].time, 1200);
}

#[test]
fn jsonl_malformed_lines_are_named() {
    let good = r#"{"process":1,"type":"invoke","f":"read","value":null}"#;
    for (bad, what) in [
        (r#"{"process":1,"type":"invoke","f":"read""#, "EOF"),
        (r#"{"process":1,"type":"begin","f":"read"}"#, "begin"),
        (r#"{"process":-1,"type":"ok","f":"read"}"#, "nemesis"),
        (r#"{"type":"ok","f":"read"}"#, "process"),
        (
            r#"{"process":1,"type":"ok","f":"read","time":"soon"}"#,
            "time",
        ),
        ("[1,2]", "op object"),
    ] {
        let text = format!("{good}\n{bad}\n");
        let (line, msg) = err_line(&text, Some(Format::Jsonl));
        assert_eq!(line, 2, "{bad}: {msg}");
        assert!(msg.contains(what), "{bad}: {msg}");
    }
}

#[test]
fn porcupine_kv_lines_are_edn() {
    let text = "{:process 2, :type :invoke, :f :get, :key \"0\", :value nil}\n\
                {:process 2, :type :ok, :f :get, :key \"0\", :value \"x 0 0 y\"}\n";
    let (f, r) = parse(text).unwrap();
    assert_eq!(f, Format::Edn);
    assert_eq!(r[1].line, 2);
    assert_eq!(r[1].value, json!("x 0 0 y"));
    let h: History<KvOp> = History::from_records(&r).unwrap();
    assert_eq!(
        h.ops()[1].payload(),
        Some(&KvOp::Get(Some("x 0 0 y".into())))
    );
}

#[test]
fn jepsen_edn_vector_and_tagged_records() {
    let vector = "[{:type :invoke, :f :cas, :value [1 2], :process 0, :time 10, :index 0}\n \
                  {:type :info, :f :cas, :value [1 2], :process 0, :time 20, :index 1, :error :timed-out}\n \
                  {:type :info, :f :start, :value nil, :process :nemesis, :time 30, :index 2}]\n";
    let (_, r) = parse(vector).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[1].line, 2);
    assert_eq!(r[1].kind, Kind::Info);
    assert_eq!(r[1].error, Some(json!("timed-out")));
    assert_eq!(r[2].process, Process::Nemesis);
    assert_eq!(r[2].time, Some(30));
    let tagged = "#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 1, :f :write, :value 3}\n\
                  #jepsen.history.Op{:index 1, :time 9, :type :ok, :process 1, :f :write, :value 3}\n";
    let (f, r) = parse(tagged).unwrap();
    assert_eq!(f, Format::Edn);
    assert_eq!(r.len(), 2);
    let h: History<CasOp> = History::from_records(&r).unwrap();
    assert_eq!(h.ops()[1].payload(), Some(&CasOp::Write(3)));
}

#[test]
fn edn_malformed_forms_are_named() {
    let good = "{:process 1, :type :invoke, :f :read, :value nil}";
    for (bad, what) in [
        (
            "{:process 1, :type :ok, :f :read, :value nil",
            "expected } to close the map opened on line 2",
        ),
        ("{:process 1, :type :okay, :f :read}", ":okay"),
        ("{:process -1, :type :ok, :f :read}", ":process"),
        ("{:type :ok, :f :read}", ":process"),
        ("{:process 1, :type :ok, :f 3}", ":f"),
        ("[1 2 3]", "op map"),
        ("{:process 1, :type :ok, :f :read, :index -3}", ":index"),
    ] {
        let text = format!("{good}\n{bad}\n");
        let (line, msg) = err_line(&text, Some(Format::Edn));
        assert_eq!(line, 2, "{bad}: {msg}");
        assert!(msg.contains(what), "{bad}: {msg}");
    }
    let (line, msg) = err_line(
        "[{:process 1, :type :invoke, :f :read}\n",
        Some(Format::Edn),
    );
    assert_eq!(line, 2, "{msg}");
    assert!(msg.contains(']'), "{msg}");
    let deep = format!("{good}\n{}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let (line, msg) = err_line(&deep, Some(Format::Edn));
    assert_eq!(line, 2);
    assert!(msg.contains("nested"), "{msg}");
}

#[test]
fn jepsen_log_lines_tabs_or_spaces() {
    let text = "some preamble the log has\n\
                INFO  jepsen.util - 3\t:invoke\t:write\t4\n\
                INFO  jepsen.util - 3\t:ok\t:write\t4\n\
                INFO  jepsen.util - 1 :invoke :cas [4 5]\n\
                2017-01-01 10:00:00,000{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:info\t:cas\t[4 5]\t:timed-out\n\
                INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
                INFO  jepsen.util - 2\t:invoke\t:read\tnil\n\
                INFO  jepsen.util - 2\t:fail\t:read\tnil\t:timed-out\n";
    let (f, r) = parse(text).unwrap();
    assert_eq!(f, Format::JepsenLog);
    assert_eq!(r.len(), 7);
    assert_eq!(r[0].line, 2);
    assert_eq!(r[2].value, json!([4, 5]));
    assert_eq!(r[3].error, Some(json!("timed-out")));
    assert_eq!(r[4].process, Process::Nemesis);
    let h: History<CasOp> = History::from_records(&r).unwrap();
    assert_eq!(h.calls().len(), 3);
}

#[test]
fn jepsen_log_malformed_lines_are_named() {
    for (bad, what) in [
        ("INFO  jepsen.util - x\t:invoke\t:write\t4", "process"),
        ("INFO  jepsen.util - 3\t:began\t:write\t4", "type"),
        ("INFO  jepsen.util - 3\t:invoke\twrite\t4", "f keyword"),
        ("INFO  jepsen.util - 3\t:invoke\t:cas\t[4 5", "EDN value"),
        ("INFO  jepsen.util - 3\t:ok", "f keyword"),
    ] {
        let text = format!("INFO  jepsen.util - 3\t:invoke\t:write\t4\n{bad}\n");
        let (line, msg) = err_line(&text, Some(Format::JepsenLog));
        assert_eq!(line, 2, "{bad}: {msg}");
        assert!(msg.contains(what), "{bad}: {msg}");
    }
    let (line, _) = err_line("just a log\n", Some(Format::JepsenLog));
    assert_eq!(line, 1);
}

#[test]
fn detection_recognises_every_form() {
    let op = "{:process 0, :type :invoke, :f :read, :value nil}";
    for (text, want) in [
        (format!("[{op}]"), Format::Edn),
        (format!("({op})"), Format::Edn),
        (format!("{op}\n{op}"), Format::Edn),
        (format!("; a comment\n({op})"), Format::Edn),
        (format!("#_{op}\n{op}"), Format::Edn),
        (format!("#jepsen.history.Op{op}"), Format::Edn),
        (
            r#"{"process":0,"type":"invoke","f":"read"}"#.to_owned(),
            Format::Jsonl,
        ),
        (
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil".to_owned(),
            Format::JepsenLog,
        ),
        (
            "INFO [2019-04-01 11:25:23,719] jepsen worker 0 - jepsen.util 0  :invoke :read nil"
                .to_owned(),
            Format::JepsenLog,
        ),
        (
            "WARN something else first\nINFO [x] jepsen worker 0 - jepsen.util 0 :invoke :read nil"
                .to_owned(),
            Format::JepsenLog,
        ),
    ] {
        assert_eq!(Format::detect(&text), Ok(want), "{text}");
    }
}

#[test]
fn detection_and_encoding_errors() {
    assert!(err_line("", None).1.contains("empty"));
    assert!(err_line("\n\nhello\n", None).0 == 3);
    let (line, msg) = err_line("{\"process\":1}\n\u{0}\n", None);
    assert_eq!(line, 1, "{msg}");
    let bytes = b"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n\xff\xfe\n";
    let e = format::read(bytes, None).unwrap_err();
    assert_eq!(e.line(), Some(2));
    assert!(e.message.contains("UTF-8"));
    assert_eq!("porcupine-kv".parse::<Format>(), Ok(Format::Edn));
    assert!("xml".parse::<Format>().is_err());
}

#[test]
fn history_pairing_errors_name_the_line() {
    let cases = [
        // double invoke
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n", 2, "outstanding"),
        // completion without invoke
        ("{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n", 1, "no outstanding invoke"),
        // different f
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n", 2, "same f"),
        // reuse after info
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n{\"process\":1,\"type\":\"info\",\"f\":\"write\",\"value\":1}\n{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n", 3, "retired"),
        // bad payload
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[1]}\n", 1, "[from, to]"),
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"frobnicate\"}\n", 1, "expected f"),
        // key mismatch
        ("{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":1}\n{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":2,\"value\":null}\n", 2, "key"),
    ];
    for (text, line, what) in cases {
        let (_, r) = parse(text).unwrap();
        let e = History::<CasOp>::from_records(&r).unwrap_err();
        assert_eq!(e.line(), Some(line), "{text}: {e}");
        assert!(e.message.contains(what), "{text}: {e}");
    }
}

#[test]
fn export_to_edn_reads_back_the_same_records() {
    let (_, original) = parse(
        "{\"index\":0,\"time\":1,\"process\":3,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"k\",\"value\":\"a \\\"q\\\"\"}\n\
         {\"index\":1,\"time\":2,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"value\":{\"n1\":[\"n2\"]}}\n\
         {\"index\":2,\"time\":3,\"process\":3,\"type\":\"info\",\"f\":\"append\",\"key\":7,\"value\":\"a\",\"error\":[\"timeout\",5]}\n",
    )
    .unwrap();
    let edn = format::edn::write(&original);
    let back = format::edn::parse(&edn).unwrap();
    assert_eq!(back.len(), original.len());
    for (a, b) in original.iter().zip(&back) {
        assert_eq!(
            (a.index, a.time, a.process, a.kind, &a.f, &a.key, &a.value, &a.error),
            (b.index, b.time, b.process, b.kind, &b.f, &b.key, &b.value, &b.error),
            "{edn}"
        );
    }
}

#[test]
fn every_golden_file_parses_in_its_detected_format() {
    for name in [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ] {
        let r = crate::support::records(&format!("porcupine-kv/{name}.txt"));
        assert!(r.len() > 50, "{name}");
        assert!(
            r.iter().enumerate().all(|(i, r)| r.line == i + 1),
            "{name}: one op per line"
        );
    }
}
