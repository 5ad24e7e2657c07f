//! Integration tests of the report: `report.html`, the plots, and `faultline serve`.
//! One binary, a module per feature; `support` builds histories.

mod support {
    use report::{
        Anomaly, Availability, CheckerVerdict, FaultWindow, LeaderChange, Op, OpKind, Process,
        ReportInput, Summary, Validity,
    };

    pub const MS: u64 = 1_000_000;
    pub const S: u64 = 1_000_000_000;

    /// Appends ops to a history, numbering them.
    #[derive(Default)]
    pub struct History {
        pub ops: Vec<Op>,
    }

    impl History {
        pub fn push(
            &mut self,
            time: u64,
            process: Process,
            kind: OpKind,
            f: &str,
            value: &str,
            error: Option<&str>,
        ) -> u64 {
            let index = self.ops.len() as u64;
            self.ops.push(Op {
                index,
                time,
                process,
                kind,
                f: f.into(),
                value: value.into(),
                error: error.map(Into::into),
            });
            index
        }

        /// One client call; returns (invoke index, completion index).
        pub fn call(
            &mut self,
            p: u64,
            f: &str,
            (start, end): (u64, u64),
            kind: OpKind,
            input: &str,
            output: &str,
        ) -> (u64, u64) {
            let err = match kind {
                OpKind::Fail => Some("lock is held"),
                OpKind::Info => Some("timeout"),
                _ => None,
            };
            let i = self.push(start, Process::Client(p), OpKind::Invoke, f, input, None);
            let c = self.push(end, Process::Client(p), kind, f, output, err);
            (i, c)
        }
    }

    /// Availability per window as the checkers measure it, for display ops.
    pub fn availability_of(
        ops: &[Op],
        faults: &[FaultWindow],
        writes: &[&str],
    ) -> Vec<Availability> {
        let records: Vec<checkers::history::Record> = ops
            .iter()
            .map(|o| checkers::history::Record {
                line: 0,
                index: Some(o.index),
                time: Some(o.time),
                process: match o.process {
                    Process::Client(p) => {
                        checkers::history::Process::Client(checkers::history::ProcessId(p))
                    }
                    Process::Nemesis => checkers::history::Process::Nemesis,
                },
                kind: match o.kind {
                    OpKind::Invoke => checkers::history::Kind::Invoke,
                    OpKind::Ok => checkers::history::Kind::Ok,
                    OpKind::Fail => checkers::history::Kind::Fail,
                    OpKind::Info => checkers::history::Kind::Info,
                },
                f: o.f.clone(),
                key: None,
                value: serde_json::Value::Null,
                error: None,
            })
            .collect();
        checkers::faults::availability(
            &records,
            faults,
            checkers::faults::AvailabilityInput {
                writes,
                status: None,
                nodes: 5,
                round: 100 * MS,
            },
        )
    }

    pub fn summary(name: &str) -> Summary {
        Summary {
            name: name.into(),
            target: "raft --bug lock-no-lease-check".into(),
            workload: "lock".into(),
            nemesis: "pause,partition".into(),
            seed: 7,
            started: "2026-11-29T09:40:00Z".into(),
            repro: "faultline test --workload lock --nemesis pause --seed 7".into(),
        }
    }

    /// A lock run in which a pause lets two clients hold lock 0 at once.
    /// Returns the input and the indices of the anomaly's operations.
    pub fn lock_run_with_overlap() -> (ReportInput, Vec<u64>) {
        let mut h = History::default();
        // Before the fault: clean handovers.
        h.call(
            0,
            "acquire",
            (100 * MS, 110 * MS),
            OpKind::Ok,
            "lock 0 ttl 2000 ms",
            "token 1",
        );
        h.call(
            0,
            "write",
            (120 * MS, 130 * MS),
            OpKind::Ok,
            "token 1",
            "accepted seq 1",
        );
        h.call(
            0,
            "release",
            (300 * MS, 310 * MS),
            OpKind::Ok,
            "token 1",
            "",
        );
        h.call(
            1,
            "acquire",
            (200 * MS, 210 * MS),
            OpKind::Fail,
            "lock 0 ttl 2000 ms",
            "",
        );
        h.push(
            900 * MS,
            Process::Nemesis,
            OpKind::Invoke,
            "pause",
            "n1 (leader)",
            None,
        );
        h.push(
            905 * MS,
            Process::Nemesis,
            OpKind::Info,
            "pause",
            "paused n1",
            None,
        );
        // The overlap: process 2 holds token 5 while process 3 is granted token 6.
        let a1 = h.call(
            2,
            "acquire",
            (1000 * MS, 1020 * MS),
            OpKind::Ok,
            "lock 0 ttl 5000 ms",
            "token 5",
        );
        h.call(
            2,
            "write",
            (1030 * MS, 1040 * MS),
            OpKind::Ok,
            "token 5",
            "accepted seq 2",
        );
        let a2 = h.call(
            3,
            "acquire",
            (1500 * MS, 1600 * MS),
            OpKind::Ok,
            "lock 0 ttl 5000 ms",
            "token 6",
        );
        h.call(
            3,
            "write",
            (1610 * MS, 1620 * MS),
            OpKind::Ok,
            "token 6",
            "accepted seq 3",
        );
        h.call(
            2,
            "write",
            (2000 * MS, 2010 * MS),
            OpKind::Ok,
            "token 5",
            "rejected: highest 6",
        );
        let r1 = h.call(
            2,
            "release",
            (2500 * MS, 2510 * MS),
            OpKind::Ok,
            "token 5",
            "",
        );
        let r2 = h.call(
            3,
            "release",
            (2600 * MS, 2700 * MS),
            OpKind::Info,
            "token 6",
            "",
        );
        h.push(
            3000 * MS,
            Process::Nemesis,
            OpKind::Invoke,
            "resume",
            "n1",
            None,
        );
        h.push(
            3001 * MS,
            Process::Nemesis,
            OpKind::Info,
            "resume",
            "resumed n1",
            None,
        );
        h.call(
            4,
            "acquire",
            (3100 * MS, 3150 * MS),
            OpKind::Ok,
            "lock 0 ttl 2000 ms",
            "token 7",
        );
        let anomaly_ops = vec![a1.0, a1.1, r1.0, a2.0, a2.1, r2.0];
        let faults = vec![
            FaultWindow {
                fault: "pause n1".into(),
                start: 900 * MS,
                end: Some(3000 * MS),
                kind: None,
                nodes: Vec::new(),
            },
            FaultWindow {
                fault: "partition majorities-ring".into(),
                start: 3050 * MS,
                end: None,
                kind: None,
                nodes: Vec::new(),
            },
        ];
        let availability = availability_of(&h.ops, &faults, &["write"]);
        let input = ReportInput {
            summary: summary("raft-lock"),
            verdicts: vec![
                CheckerVerdict {
                    checker: "lock".into(),
                    validity: Validity::Invalid,
                    lines: vec![
                        "fencing: 3 writes accepted, 1 stale writes rejected (fencing saved you 1 times)"
                            .into(),
                    ],
                    anomalies: vec![Anomaly {
                        description: "lock \"0\" had two holders at once: process 2 (token 5) held it 1.020 s–2.500 s, and process 3 (token 6) held it 1.600 s–2.600 s".into(),
                        ops: anomaly_ops.clone(),
                        span: None,
                        ..Anomaly::default()
                    }],
                },
                CheckerVerdict {
                    checker: "split-brain".into(),
                    validity: Validity::Valid,
                    lines: vec!["2 leader changes, one leader per term".into()],
                    anomalies: vec![],
                },
            ],
            ops: h.ops,
            faults,
            leader_changes: vec![
                LeaderChange {
                    time: 50 * MS,
                    term: 2,
                    node: "n1".into(),
                },
                LeaderChange {
                    time: 1400 * MS,
                    term: 3,
                    node: "n2".into(),
                },
            ],
            availability,
            election: None,
        };
        (input, anomaly_ops)
    }

    /// The lock checker's view of [`lock_run_with_overlap`]'s client calls.
    pub fn lock_calls() -> Vec<checkers::lock::LockCall> {
        use checkers::lock::{AcquireOutcome, LockAction, LockCall, WriteOutcome};
        let call = |process, (invoke, complete): (u64, u64), action| LockCall {
            process,
            invoke: invoke * MS,
            complete: Some(complete * MS),
            lock: "0".into(),
            action,
        };
        let grant = |token, ttl_ms: u64| LockAction::Acquire {
            ttl: ttl_ms * MS,
            outcome: AcquireOutcome::Granted { token },
        };
        let write = |token, outcome| LockAction::Write { token, outcome };
        vec![
            call(0, (100, 110), grant(1, 2000)),
            call(0, (120, 130), write(1, WriteOutcome::Accepted { seq: 1 })),
            call(0, (300, 310), LockAction::Release { token: 1 }),
            call(
                1,
                (200, 210),
                LockAction::Acquire {
                    ttl: 2000 * MS,
                    outcome: AcquireOutcome::Refused,
                },
            ),
            call(2, (1000, 1020), grant(5, 5000)),
            call(2, (1030, 1040), write(5, WriteOutcome::Accepted { seq: 2 })),
            call(3, (1500, 1600), grant(6, 5000)),
            call(3, (1610, 1620), write(6, WriteOutcome::Accepted { seq: 3 })),
            call(
                2,
                (2000, 2010),
                write(5, WriteOutcome::Rejected { highest: 6 }),
            ),
            call(2, (2500, 2510), LockAction::Release { token: 5 }),
            call(3, (2600, 2700), LockAction::Release { token: 6 }),
            call(4, (3100, 3150), grant(7, 2000)),
        ]
    }

    /// A long run: `calls` client calls by 10 workers at ~200 calls/s, faults every
    /// 60 s for 20 s, timeouts and failures sprinkled in, one anomaly in the middle.
    pub fn long_run(calls: usize) -> (ReportInput, Vec<u64>) {
        let mut h = History::default();
        let workers = 10u64;
        let mut process: Vec<u64> = (0..workers).collect();
        let mut clock = vec![0u64; workers as usize];
        let mut anomaly = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15; // xorshift, fixed seed: deterministic
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in 0..calls {
            let w = n % workers as usize;
            let start = clock[w] + next() % (40 * MS);
            let r = next() % 100;
            let (kind, lat) = match r {
                0 => (OpKind::Info, 1000 * MS),
                1..=3 => (OpKind::Fail, 2 * MS),
                _ => (OpKind::Ok, MS + next() % (30 * MS)),
            };
            let f = ["read", "write", "cas"][(next() % 3) as usize];
            let (i, c) = h.call(
                process[w],
                f,
                (start, start + lat),
                kind,
                "key 3 value 42",
                "42",
            );
            if n == calls / 2 {
                anomaly = vec![i, c];
            }
            if kind == OpKind::Info {
                process[w] += workers;
            }
            clock[w] = start + lat;
        }
        // Completions must come after invocations in index order: sort by time.
        h.ops.sort_by_key(|o| (o.time, o.kind != OpKind::Invoke));
        let mut renumber = std::collections::HashMap::new();
        for (i, o) in h.ops.iter_mut().enumerate() {
            renumber.insert(o.index, i as u64);
            o.index = i as u64;
        }
        let anomaly: Vec<u64> = anomaly.iter().map(|i| renumber[i]).collect();
        let end = h.ops.iter().map(|o| o.time).max().unwrap_or(0);
        let faults: Vec<FaultWindow> = (0..end / (60 * S))
            .map(|k| FaultWindow {
                fault: format!("partition majorities-ring #{k}"),
                start: k * 60 * S + 30 * S,
                end: Some(k * 60 * S + 50 * S),
                kind: None,
                nodes: Vec::new(),
            })
            .collect();
        let availability: Vec<Availability> = availability_of(&h.ops, &faults, &["write"]);
        let input = ReportInput {
            summary: summary("raft-register-long"),
            verdicts: vec![CheckerVerdict {
                checker: "linearizable".into(),
                validity: Validity::Invalid,
                lines: vec!["key 3 is not linearizable".into()],
                anomalies: vec![Anomaly {
                    description: "read of key 3 returned 42 after a write of 43 completed".into(),
                    ops: anomaly.clone(),
                    span: None,
                    ..Anomaly::default()
                }],
            }],
            ops: h.ops,
            faults,
            leader_changes: (0..end / (60 * S))
                .map(|k| LeaderChange {
                    time: k * 60 * S + 35 * S,
                    term: k + 2,
                    node: format!("n{}", k % 5 + 1),
                })
                .collect(),
            availability,
            election: None,
        };
        (input, anomaly)
    }

    /// Checks that `svg` is well-formed XML with an `<svg>` root.
    pub fn assert_well_formed_svg(svg: &str) {
        let mut reader = quick_xml::Reader::from_str(svg);
        let mut depth = 0i64;
        let mut root = None;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Start(e)) => {
                    if depth == 0 {
                        root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    }
                    depth += 1;
                }
                Ok(quick_xml::events::Event::End(_)) => depth -= 1,
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!(
                    "not well-formed at {}: {e}\n{}",
                    reader.buffer_position(),
                    &svg[..svg.len().min(400)]
                ),
            }
        }
        assert_eq!(depth, 0, "unbalanced tags");
        assert_eq!(root.as_deref(), Some("svg"));
    }

    /// Every inline `<svg>…</svg>` in an HTML page.
    pub fn inline_svgs(html: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(s) = rest.find("<svg") {
            let e = rest[s..].find("</svg>").expect("an <svg> without </svg>") + s + 6;
            out.push(&rest[s..e]);
            rest = &rest[e..];
        }
        out
    }
}

mod html {
    use std::time::Instant;

    use report::html;
    use report::{Anomaly, OpKind, Process, ReportInput};

    use super::support::*;

    #[test]
    fn the_anomaly_its_operations_and_the_fault_windows_appear_first() {
        let (input, anomaly_ops) = lock_run_with_overlap();
        let page = html::render(&input);

        // Verdicts first, then the anomaly, the timeline, availability, stats.
        let order = [
            "id=\"verdicts\"",
            "id=\"anomalies\"",
            "id=\"timeline\"",
            "id=\"overview\"",
            "id=\"availability\"",
            "id=\"stats\"",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|s| page.find(s).unwrap_or_else(|| panic!("{s} missing")))
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "sections out of order: {at:?}"
        );
        assert!(page.contains(r#"<span class="v invalid">invalid</span>"#));

        // The anomaly in words, with each of its operations described.
        assert!(page.contains("had two holders at once: process 2 (token 5)"));
        let anomaly = &page[at[1]..at[2]];
        for want in [
            "#10 process 2 acquire lock 0 ttl 5000 ms: invoked at 1.000 s, ok at 1.020 s after 20.0 ms, returning token 5",
            "#14 process 3 acquire lock 0 ttl 5000 ms: invoked at 1.500 s, ok at 1.600 s after 100.0 ms, returning token 6",
            "#20 process 2 release token 5: invoked at 2.500 s, ok at 2.510 s",
            "#22 process 3 release token 6: invoked at 2.600 s, outcome unknown at 2.700 s after 100.0 ms (timeout)",
        ] {
            assert!(anomaly.contains(want), "missing {want:?} in\n{anomaly}");
        }
        // … and drawn: its calls are outlined on the anomaly's own timeline and on
        // the detail timeline (2 acquires + 2 releases, twice).
        let outlined = page.matches(" hl\"").count();
        assert_eq!(outlined, 8, "outlined bars");
        assert_eq!(anomaly_ops.len(), 6);
        // The info release runs on, faded.
        assert!(page.contains("class=\"info ext\""));

        // Fault windows shaded with their labels, on the timelines and in the tables.
        let svgs = inline_svgs(&page);
        assert_eq!(svgs.len(), 3, "anomaly timeline, detail timeline, overview");
        for svg in &svgs {
            assert_well_formed_svg(svg);
            assert!(
                svg.contains("<g class=\"fault\">"),
                "a timeline without faults"
            );
            assert!(svg.contains(">pause n1</text>"));
        }
        assert!(svgs[2].contains(">partition majorities-ring</text>"));
        assert!(page
            .contains("<td>partition majorities-ring</td><td>3.050 s</td><td>never healed</td>"));
        // Leader changes marked.
        assert!(svgs[0].contains(">n2 t3</text>"));
        assert!(page.contains("n2 became leader of term 3 at 1.400 s"));

        // Availability: the first ok write after the pause began (1.040 s - 0.900 s).
        assert!(
            page.contains("<td>pause n1</td><td>0.900 s</td><td>3.000 s</td><td>140.0 ms</td>"),
            "availability row"
        );
        // Stats: counts per f and outcome.
        assert!(page.contains("<tr><td>acquire</td><td>4</td><td>1</td><td>0</td><td>0</td>"));

        // Self-contained: no script, nothing fetched.
        for banned in ["<script", "<link", "@import", "src=", "url("] {
            assert!(!page.contains(banned), "{banned} in a self-contained page");
        }
        // Deterministic.
        assert_eq!(page, html::render(&input));
    }

    #[test]
    fn the_lock_checkers_own_report_names_both_holds_and_the_fencing_outcome() {
        let (mut input, _) = lock_run_with_overlap();
        let calls = lock_calls();
        let report = checkers::lock::check(&calls, 3150 * MS);
        assert_eq!(report.anomalies.len(), 1, "{:?}", report.anomalies);
        input.verdicts[0] = report::CheckerVerdict {
            checker: "lock".into(),
            validity: report::Validity::Invalid,
            lines: report.describe(),
            anomalies: report::anomalies::from_lock(&report, &input.ops),
        };
        let page = html::render(&input);
        let anomaly = &page[page.find("id=\"a1\"").expect("anomaly 1")
            ..page.find("id=\"timeline\"").expect("timeline")];
        for want in [
            "process 2 (token 5) held it 1.020 s–2.500 s",
            "process 3 (token 6) held it 1.600 s–2.600 s",
            "#10 process 2 acquire lock 0 ttl 5000 ms: invoked at 1.000 s, ok at 1.020 s",
            "#14 process 3 acquire lock 0 ttl 5000 ms: invoked at 1.500 s, ok at 1.600 s",
            "process 2 write token 5: invoked at 2.000 s, ok at 2.010 s after 10.0 ms, returning rejected: highest 6",
            "#20 process 2 release token 5",
            "#22 process 3 release token 6",
        ] {
            assert!(anomaly.contains(want), "missing {want:?} in\n{anomaly}");
        }
        assert!(page.contains("1 stale writes rejected (fencing saved you 1 times)"));
    }

    #[test]
    fn op_values_and_labels_cannot_inject_markup() {
        let (mut input, _) = lock_run_with_overlap();
        let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&";
        input.summary.name = format!("name {evil}");
        input.summary.repro = format!("faultline test {evil}");
        for op in &mut input.ops {
            op.value = format!("v {evil}");
            op.f = format!("f{evil}");
            if op.error.is_some() {
                op.error = Some(format!("e {evil}"));
            }
        }
        input.faults[0].fault = format!("pause {evil}");
        input.leader_changes[1].node = format!("n{evil}");
        input.verdicts[0].checker = format!("lock {evil}");
        input.verdicts[0].lines.push(format!("line {evil}"));
        input.verdicts[0].anomalies[0].description = format!("desc {evil}");
        input.availability[0].fault = format!("avail {evil}");
        let page = html::render(&input);
        for banned in ["<script", "<img", "'&\"", "\"'&"] {
            assert!(!page.contains(banned), "{banned:?} came through unescaped");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;&amp;"));
        // Still well-formed SVG (titles and labels escaped too).
        for svg in inline_svgs(&page) {
            assert_well_formed_svg(svg);
        }
    }

    #[test]
    fn a_100k_op_history_stays_under_5_mb_and_renders_quickly() {
        let (input, anomaly) = long_run(60_000);
        assert!(input.ops.len() >= 100_000, "{} ops", input.ops.len());
        let started = Instant::now();
        let page = html::render(&input);
        let took = started.elapsed();
        println!(
            "report.html for {} ops ({} faults): {} bytes ({:.2} MB), rendered in {:?}",
            input.ops.len(),
            input.faults.len(),
            page.len(),
            page.len() as f64 / 1e6,
            took
        );
        assert!(page.len() < 5_000_000, "{} bytes", page.len());
        // Generous: the point is that nothing is quadratic (debug builds, shared CPU).
        assert!(took.as_secs() < 30, "rendering took {took:?}");
        // The anomaly's operations are there in full.
        let first = &input.ops[anomaly[0] as usize];
        assert!(page.contains(&format!(
            "#{} process {}",
            first.index,
            match first.process {
                Process::Client(p) => p,
                Process::Nemesis => unreachable!(),
            }
        )));
        assert_eq!(page.matches(" hl\"").count(), 2);
        // The rest is summarised: the overview shades every fault.
        let svgs = inline_svgs(&page);
        let overview = svgs.last().expect("an overview");
        assert_eq!(
            overview.matches("<g class=\"fault\">").count(),
            input.faults.len()
        );
        for svg in svgs {
            assert_well_formed_svg(svg);
        }
    }

    #[test]
    fn thousands_of_anomalies_and_long_texts_stay_under_5_mb() {
        let (mut input, _) = long_run(60_000);
        let long = "v".repeat(2_000);
        for op in &mut input.ops {
            op.value = long.clone();
        }
        let n = input.ops.len() as u64;
        input.verdicts[0].anomalies = (0..5_000u64)
            .map(|k| Anomaly {
                description: format!("anomaly {k}: {}", "d".repeat(400)),
                ops: (0..60).map(|j| (k * 20 + j * 7) % n).collect(),
                span: None,
                ..Anomaly::default()
            })
            .collect();
        input.verdicts[0].lines = vec!["l".repeat(3_000); 100_000];
        let started = Instant::now();
        let page = html::render(&input);
        println!(
            "report.html with 5000 anomalies, 100k findings lines and 2000-char values: {} bytes in {:?}",
            page.len(),
            started.elapsed()
        );
        assert!(page.len() < 5_000_000, "{} bytes", page.len());
        let listed = page.matches("<section class=\"anomaly\"").count();
        assert!((1..200).contains(&listed), "{listed} anomalies listed");
        assert!(page.contains(&format!("… and {} more anomalies", 5_000 - listed)));
        assert!(page.contains("… and 20 more operations."));
        assert!(page.contains("… and 99950 more lines (see results.json)."));
    }

    #[test]
    fn a_run_without_verdicts_or_ops_still_renders() {
        let input = ReportInput {
            summary: summary("empty"),
            verdicts: vec![],
            ops: vec![],
            faults: vec![],
            leader_changes: vec![],
            availability: vec![],
            election: None,
        };
        let page = html::render(&input);
        assert!(page.contains("No checker ran: the run is incomplete."));
        assert!(page.contains(r#"<span class="v unknown">unknown</span>"#));
        for svg in inline_svgs(&page) {
            assert_well_formed_svg(svg);
        }
    }

    #[test]
    fn an_anomaly_naming_unknown_ops_or_only_a_span_is_shown() {
        let (mut input, _) = lock_run_with_overlap();
        input.verdicts[1].validity = report::Validity::Invalid;
        input.verdicts[1].anomalies.push(Anomaly {
            description: "two leaders in term 3: n2 and n4".into(),
            ops: vec![9999],
            span: Some(report::Span {
                start: 1400 * MS,
                end: 1700 * MS,
            }),
            ..Anomaly::default()
        });
        let page = html::render(&input);
        assert!(page.contains("Operations not in the history: 9999."));
        assert!(page.contains("<h3>2. split-brain: two leaders in term 3: n2 and n4</h3>"));
        // A timeline for each anomaly, then the detail and the overview.
        assert_eq!(inline_svgs(&page).len(), 4);
        let _ = OpKind::Ok;
    }

    #[test]
    fn the_input_round_trips_through_json() {
        let (input, _) = lock_run_with_overlap();
        let json = serde_json::to_string(&input).expect("serialize");
        let back: ReportInput = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, input);
        assert_eq!(html::render(&back), html::render(&input));
    }
}

mod plots {
    use std::time::Instant;

    use report::plot;

    use super::support::*;

    #[test]
    fn latency_and_rate_are_svg_with_fault_windows_shaded() {
        let (input, _) = lock_run_with_overlap();
        for (name, svg) in [
            ("latency", plot::latency_svg(&input.ops, &input.faults)),
            ("rate", plot::rate_svg(&input.ops, &input.faults)),
        ] {
            let svg = svg.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_well_formed_svg(&svg);
            // One shaded band per fault (the SVG backend writes the fill colour),
            // and each fault's label.
            assert_eq!(svg.matches("fill=\"#FBC8C4\"").count(), 2, "{name}: bands");
            assert!(svg.contains(">\npause n1\n</text>"), "{name}");
            assert!(
                svg.contains(">\npartition majorities-ring\n</text>"),
                "{name}"
            );
            // A series per (f, outcome) in the legend.
            assert!(svg.contains(">\nacquire ok\n</text>"), "{name}");
            assert!(svg.contains(">\nacquire fail\n</text>"), "{name}");
            assert!(svg.contains(">\nrelease info\n</text>"), "{name}");
            // Nothing fetched.
            assert!(!svg.contains("<script") && !svg.contains("href"), "{name}");
        }
    }

    #[test]
    fn plots_of_a_100k_op_history_stay_bounded() {
        let (input, _) = long_run(60_000);
        let started = Instant::now();
        let latency = plot::latency_svg(&input.ops, &input.faults).expect("latency");
        let rate = plot::rate_svg(&input.ops, &input.faults).expect("rate");
        println!(
            "plots for {} ops: latency.svg {} bytes, rate.svg {} bytes, in {:?}",
            input.ops.len(),
            latency.len(),
            rate.len(),
            started.elapsed()
        );
        assert!(latency.contains("1 in 3 of 60000 calls shown"));
        assert!(latency.len() < 5_000_000 && rate.len() < 5_000_000);
        assert_well_formed_svg(&latency);
        assert_well_formed_svg(&rate);
        assert_eq!(
            rate.matches("fill=\"#FBC8C4\"").count(),
            input.faults.len(),
            "bands"
        );
    }

    #[test]
    fn the_report_and_plots_are_written_into_a_run_directory() {
        let (input, _) = lock_run_with_overlap();
        let dir = std::env::temp_dir().join(format!("fl-report-plots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        report::write_artifacts(&input, &dir).expect("write artifacts");
        let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
        assert_eq!(page, report::html::render(&input));
        for name in ["latency.svg", "rate.svg"] {
            let svg = std::fs::read_to_string(dir.join(name)).expect(name);
            assert_well_formed_svg(&svg);
        }
        let missing = dir.join("no/such/dir");
        let e = report::write_artifacts(&input, &missing).expect_err("no dir");
        assert!(e.to_string().contains("no/such/dir/report.html"), "{e}");
        let e = plot::write_plots(&input.ops, &input.faults, &missing).expect_err("no dir");
        assert!(e.to_string().contains("no/such/dir/latency.svg"), "{e}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn an_empty_history_still_plots() {
        for svg in [plot::latency_svg(&[], &[]), plot::rate_svg(&[], &[])] {
            assert_well_formed_svg(&svg.expect("empty plot"));
        }
    }
}

mod serve {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, UNIX_EPOCH};

    use harness::store::{files, Store};
    use report::serve;

    /// A store with four runs, a secret file beside it and a symlink pointing out.
    struct Fixture {
        dir: PathBuf,
        store: PathBuf,
    }

    impl Fixture {
        fn new(name: &str) -> Fixture {
            let dir =
                std::env::temp_dir().join(format!("fl-report-serve-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let store_root = dir.join("store");
            std::fs::create_dir_all(&store_root).expect("scratch store");
            std::fs::write(dir.join("secret.txt"), "TOP SECRET").expect("secret");
            let store = Store::new(&store_root);
            let t0 = UNIX_EPOCH + Duration::from_secs(1_795_945_200); // 2026-11-29T09:40:00Z
            let runs = [
                ("raft-lock", 0, Some("invalid")),
                ("zk-register", 5, Some("unknown")),
                ("raft-register", 10, Some("valid")),
                ("etcd-lock", 20, None),
            ];
            for (test, secs, verdict) in runs {
                let run = store
                    .create_run(test, t0 + Duration::from_secs(secs))
                    .expect("run dir");
                run.write_json(files::TEST, &serde_json::json!({ "name": test }))
                    .expect("test.json");
                if let Some(v) = verdict {
                    run.write_json(files::RESULTS, &serde_json::json!({ "valid": v }))
                        .expect("results.json");
                }
                std::fs::write(run.file(files::HISTORY), "{\"index\":0}\n").expect("history");
                std::fs::write(
                    run.file("report.html"),
                    format!("<!DOCTYPE html><title>{test}</title>"),
                )
                .expect("report");
                std::fs::write(run.file("latency.svg"), "<svg></svg>").expect("svg");
                let node = run.node_dir("n1").expect("node dir");
                std::fs::write(node.join("raft.log"), "started\n").expect("node log");
                std::os::unix::fs::symlink("../../../secret.txt", run.file("escape"))
                    .expect("symlink");
            }
            Fixture {
                dir,
                store: store_root,
            }
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A server on 127.0.0.1:0, shut down on drop.
    struct Running {
        addr: SocketAddr,
        rt: tokio::runtime::Runtime,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    }

    impl Running {
        fn start(store: &Path) -> Running {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let server = rt
                .block_on(serve::bind(store, "127.0.0.1:0".parse().expect("addr")))
                .expect("bind");
            let addr = server.local_addr().expect("local addr");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = rt.spawn(server.run(async {
                let _ = stopped.await;
            }));
            Running {
                addr,
                rt,
                stop: Some(stop),
                task: Some(task),
            }
        }

        fn get(&self, path: &str) -> Response {
            self.request("GET", path)
        }

        /// One HTTP/1.1 request on a fresh connection, sent as written (no path
        /// normalisation, unlike real clients).
        fn request(&self, method: &str, path: &str) -> Response {
            let mut s = TcpStream::connect(self.addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            write!(
                s,
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            .expect("send");
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).expect("read response");
            Response::parse(&raw)
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
            if let Some(task) = self.task.take() {
                let done = self
                    .rt
                    .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
                if !std::thread::panicking() {
                    let result = done.expect("server stops within 10 s");
                    result.expect("server task").expect("server ran cleanly");
                }
            }
        }
    }

    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Response {
        fn parse(raw: &[u8]) -> Response {
            let text = String::from_utf8_lossy(raw);
            let (head, body) = text.split_once("\r\n\r\n").expect("a header block");
            let mut lines = head.split("\r\n");
            let status = lines
                .next()
                .and_then(|l| l.split(' ').nth(1))
                .and_then(|s| s.parse().ok())
                .expect("a status line");
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let chunked = headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
            let body = if chunked {
                dechunk(body)
            } else {
                body.to_string()
            };
            Response {
                status,
                headers,
                body,
            }
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn dechunk(mut s: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = s.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&rest[..n]);
            s = &rest[n + 2..];
        }
        out
    }

    #[test]
    fn runs_are_listed_newest_first_with_coloured_verdicts() {
        let fx = Fixture::new("index");
        let server = Running::start(&fx.store);
        let r = server.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let rows: Vec<&str> = r.body.split("<tr>").skip(2).collect();
        let tests: Vec<&str> = rows
            .iter()
            .map(|row| {
                row.trim_start_matches("<td>")
                    .split('<')
                    .next()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            tests,
            ["etcd-lock", "raft-register", "zk-register", "raft-lock"]
        );
        let verdicts = [
            ("etcd-lock", "incomplete"),
            ("raft-register", "valid"),
            ("zk-register", "unknown"),
            ("raft-lock", "invalid"),
        ];
        for ((test, verdict), row) in verdicts.iter().zip(&rows) {
            assert!(
                row.contains(&format!("<span class=\"v {verdict}\">{verdict}</span>")),
                "{test}: {row}"
            );
        }
        // The colours behind the classes.
        assert!(r.body.contains(".v.invalid{background:#c62828}"));
        assert!(r.body.contains(".v.valid{background:#2e7d32}"));
        // Time as a date, and links to the artifacts that exist.
        assert!(rows[3].contains("2026-11-29 09:40:00"));
        for link in [
            "/store/raft-lock/20261129T094000/report.html",
            "/store/raft-lock/20261129T094000/history.jsonl",
            "/store/raft-lock/20261129T094000/results.json",
            "/store/raft-lock/20261129T094000/nodes/",
            "/store/raft-lock/20261129T094000/latency.svg",
        ] {
            assert!(rows[3].contains(&format!("href=\"{link}\"")), "{link}");
        }
        assert!(!rows[0].contains("results.json"), "etcd-lock has none");
        assert!(!rows[0].contains("faultline.log"), "no log was written");
    }

    #[test]
    fn run_files_are_served_with_their_content_types_and_directories_listed() {
        let fx = Fixture::new("files");
        let server = Running::start(&fx.store);
        let base = "/store/raft-lock/20261129T094000";
        for (file, ctype, body) in [
            (
                "report.html",
                "text/html; charset=utf-8",
                "<!DOCTYPE html><title>raft-lock</title>",
            ),
            ("results.json", "application/json", "\"valid\": \"invalid\""),
            (
                "history.jsonl",
                "text/plain; charset=utf-8",
                "{\"index\":0}",
            ),
            ("latency.svg", "image/svg+xml", "<svg></svg>"),
            ("nodes/n1/raft.log", "text/plain; charset=utf-8", "started"),
        ] {
            let r = server.get(&format!("{base}/{file}"));
            assert_eq!(r.status, 200, "{file}");
            assert_eq!(r.header("content-type"), Some(ctype), "{file}");
            assert!(r.body.contains(body), "{file}: {}", r.body);
            assert!(r
                .header("content-security-policy")
                .is_some_and(|v| v.starts_with("default-src 'none'")));
        }
        let listing = server.get(&format!("{base}/"));
        assert_eq!(listing.status, 200);
        for entry in [
            "href=\"nodes/\"",
            "href=\"history.jsonl\"",
            "href=\"report.html\"",
        ] {
            assert!(listing.body.contains(entry), "{entry}");
        }
        assert!(
            listing.body.find("nodes/").unwrap_or(usize::MAX)
                < listing.body.find("history.jsonl").unwrap_or(0),
            "directories first"
        );
        // A directory without its slash redirects, so relative links work.
        let r = server.get(base);
        assert_eq!(r.status, 308);
        assert_eq!(r.header("location"), Some(&*format!("{base}/")));
        // The `latest` links are followed inside the store.
        let latest = server.get("/store/latest/report.html");
        assert_eq!(latest.status, 200);
        assert!(latest.body.contains("etcd-lock"));
        assert_eq!(server.get(&format!("{base}/no-such-file")).status, 404);
        assert_eq!(server.get("/elsewhere").status, 404);
        // HEAD: headers only; other methods refused.
        let head = server.request("HEAD", &format!("{base}/report.html"));
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), Some("39"));
        assert!(head.body.is_empty());
        assert_eq!(server.request("POST", "/").status, 405);
        assert_eq!(
            server
                .request("DELETE", &format!("{base}/report.html"))
                .status,
            405
        );
    }

    #[test]
    fn paths_out_of_the_store_are_refused() {
        let fx = Fixture::new("traversal");
        let server = Running::start(&fx.store);
        let run = "/store/raft-lock/20261129T094000";
        for (path, want) in [
            ("/store/../secret.txt".to_string(), 403),
            ("/store/%2e%2e/secret.txt".into(), 403),
            ("/store/%2E%2E%2Fsecret.txt".into(), 403),
            ("/store/raft-lock/..%2f..%2fsecret.txt".into(), 403),
            ("/store/..%5csecret.txt".into(), 403),
            (format!("{run}/../../../secret.txt"), 403),
            (format!("{run}/escape"), 403), // a symlink pointing out of the store
            ("/store/%00".into(), 403),
            ("/../secret.txt".into(), 404),
            ("/store/%ff".into(), 400),
        ] {
            let r = server.get(&path);
            assert_eq!(r.status, want, "{path}");
            assert!(!r.body.contains("TOP SECRET"), "{path} leaked the secret");
        }
        // The secret is really there: the refusals above are not "file not found".
        assert!(std::fs::read_to_string(fx.dir.join("secret.txt"))
            .is_ok_and(|s| s.contains("TOP SECRET")));
        assert!(
            std::fs::read_to_string(fx.store.join("raft-lock/20261129T094000/escape"))
                .is_ok_and(|s| s.contains("TOP SECRET"))
        );
    }

    #[test]
    fn an_empty_or_missing_store_lists_no_runs() {
        let dir = std::env::temp_dir().join(format!("fl-report-serve-none-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let server = Running::start(&dir);
        let r = server.get("/");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("No runs yet."));
    }

    #[test]
    fn binding_a_port_in_use_is_a_clear_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let e = match rt.block_on(serve::bind("store", addr)) {
            Ok(_) => panic!("bound {addr} twice"),
            Err(e) => e,
        };
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        assert!(e.to_string().contains(&format!("binding {addr}")), "{e}");
    }
}

mod assemble {
    use std::time::{Duration, UNIX_EPOCH};

    use checkers::check::{CheckerResult, Results};
    use checkers::split_brain::{LeaderChange, Recovery, SplitBrainReport};
    use checkers::verdict::Validity;
    use harness::store::{files, Store};
    use report::{self, OpKind, Process};

    use super::support::*;

    fn records_of(path: &std::path::Path) -> Vec<checkers::history::Record> {
        let bytes = std::fs::read(path).expect("history");
        checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl))
            .expect("a readable history")
            .1
    }

    /// One history line in faultline's JSON Lines format.
    fn jsonl(op: &report::Op) -> String {
        let process = match op.process {
            Process::Client(p) => serde_json::json!(p),
            Process::Nemesis => serde_json::json!("nemesis"),
        };
        use checkers::faults::{FaultEvent, FaultKind, FaultOutcome};
        let fault = match (op.process, op.f.as_str()) {
            (Process::Nemesis, "pause") => Some(
                FaultEvent::start(FaultKind::Pause, "", FaultOutcome::Installed).with_nodes(["n1"]),
            ),
            (Process::Nemesis, "resume") => {
                Some(FaultEvent::stop(FaultKind::Pause, FaultOutcome::Installed).with_nodes(["n1"]))
            }
            _ => None,
        };
        let mut line = serde_json::json!({
            "index": op.index,
            "time": op.time,
            "process": process,
            "type": op.kind.as_str(),
            "f": fault.as_ref().map_or(op.f.clone(), FaultEvent::f),
            "value": op.value,
        });
        if let Some(e) = &fault {
            line["value"] = serde_json::to_value(e).expect("a fault event serializes");
        }
        if let Some(e) = &op.error {
            line["error"] = serde_json::json!(e);
        }
        line.to_string()
    }

    #[test]
    fn a_stored_run_becomes_a_report_beside_its_results() {
        let root = std::env::temp_dir().join(format!("fl-report-assemble-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = Store::new(&root)
            .create_run("raft-lock", UNIX_EPOCH + Duration::from_secs(1_795_945_200))
            .expect("run dir");
        // test.json as `faultline test` writes it.
        run.write_json(
            files::TEST,
            &serde_json::json!({
                "target": "raft",
                "workload": "lock",
                "nemesis": ["pause"],
                "bugs": ["lock-no-lease-check"],
                "options": { "test": "raft-lock", "seed": 7 },
                "command": "faultline test --workload lock --bug lock-no-lease-check --nemesis pause --seed 7",
            }),
        )
        .expect("test.json");
        let (input, _) = lock_run_with_overlap();
        // The nemesis records one info op per event, as a run does.
        let history: String = input
            .ops
            .iter()
            .filter(|o| !(o.process == Process::Nemesis && o.kind == OpKind::Invoke))
            .map(|o| jsonl(o) + "\n")
            .collect();
        std::fs::write(run.file(files::HISTORY), history).expect("history");

        let lock = checkers::lock::check(&lock_calls(), 3150 * MS);
        let split_brain = SplitBrainReport {
            valid: true,
            anomalies: vec![],
            leader_changes: vec![LeaderChange {
                time: 1400 * MS,
                term: 3,
                node: "n2".into(),
            }],
            observations: 40,
        };
        let recovery = vec![Recovery {
            fault: "pause [n1]".into(),
            start: 905 * MS,
            leader_after: Some(500 * MS),
            write_after: Some(140 * MS),
        }];
        let mut results = Results::new(vec![
            CheckerResult {
                name: "lock".into(),
                valid: Validity::Invalid,
                summary: lock.describe(),
                details: serde_json::to_value(&lock).expect("lock report"),
                millis: 1,
            },
            CheckerResult {
                name: "split-brain".into(),
                valid: Validity::Valid,
                summary: vec!["one leader per term".into()],
                details: serde_json::json!({ "report": split_brain, "recovery": recovery }),
                millis: 1,
            },
        ]);

        // Availability is the checkers' (results.json): the report shows it as it is.
        let windows = checkers::faults::windows(&records_of(&run.file(files::HISTORY)));
        results.availability = availability_of(&input.ops, &windows, &["write"]);
        results.availability[0].leader_after = recovery[0].leader_after;
        report::write_run_report(run.path(), &results).expect("report");
        let page = std::fs::read_to_string(run.file("report.html")).expect("report.html");
        for want in [
            "<title>raft-lock — invalid — faultline</title>",
            "<td>raft (bugs: lock-no-lease-check)</td>",
            "<td>2026-11-29 09:40:00 UTC</td>",
            "faultline test --workload lock --bug lock-no-lease-check --nemesis pause --seed 7",
            "process 2 (token 5) held it 1.020 s–2.500 s",
            "#10 process 2 acquire lock 0 ttl 5000 ms: invoked at 1.000 s, ok at 1.020 s",
            "fencing saved you 1 times",
            ">pause [n1]</text>",
            "n2 became leader of term 3 at 1.400 s",
            // Availability: first ok write 135 ms after the pause, a leader after 500 ms.
            "<td>pause [n1]</td><td>0.905 s</td><td>3.001 s</td><td>135.0 ms</td><td>500.0 ms</td>",
        ] {
            assert!(page.contains(want), "missing {want:?}");
        }
        for svg in ["latency.svg", "rate.svg"] {
            let svg = std::fs::read_to_string(run.file(svg)).expect(svg);
            assert_well_formed_svg(&svg);
            assert!(svg.contains(">\npause [n1]\n</text>"));
        }
        // The same input whichever way it is built.
        let again = report::assemble(run.path(), &results).expect("assemble");
        assert_eq!(again.availability, results.availability);
        assert_eq!(again.ops.len(), input.ops.len() - 2);
        assert_eq!(again.faults.len(), 1);
        assert_eq!(
            again.ops.iter().filter(|o| o.kind == OpKind::Info).count(),
            input.ops.iter().filter(|o| o.kind == OpKind::Info).count()
        );
        std::fs::remove_dir_all(&root).expect("cleanup");
    }

    #[test]
    fn a_run_without_history_still_gets_a_report_and_a_bad_history_is_an_error() {
        let root =
            std::env::temp_dir().join(format!("fl-report-assemble-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = Store::new(&root)
            .create_run("t", UNIX_EPOCH + Duration::from_secs(1_795_945_200))
            .expect("run dir");
        let results = Results::new(vec![]);
        report::write_run_report(run.path(), &results).expect("report");
        let page = std::fs::read_to_string(run.file("report.html")).expect("report.html");
        assert!(
            page.contains("<h1>t <span"),
            "the name falls back to the test dir"
        );
        std::fs::write(run.file(files::HISTORY), "not json\n").expect("history");
        let e = report::assemble(run.path(), &results).expect_err("bad history");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("history.jsonl"), "{e}");
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}

/// Recorded runs written and checked through the real paths: a history through
/// `HistoryWriter` (fault events encoded as the run's `HistoryLog` does), a status log
/// as the observer writes it, then `harness::run::recheck` with `report::RunArtifacts`
/// (results.json, junit.xml, report.html).
mod recorded {
    use std::io::Write;
    use std::time::{Duration, SystemTime};

    use checkers::check::Results;
    use checkers::faults::{FaultEvent, FaultKind, FaultOutcome};
    use checkers::history::{Fault, HistoryWriter, Kind, Op};
    use checkers::model::CasOp;
    use checkers::split_brain::{Observation, Role};
    use harness::run::{recheck, RunOptions};
    use harness::store::{files, RunDir, Store};
    use workloads::kv::{Kv, KvError};
    use workloads::register::{RegisterOpts, RegisterWorkload};

    pub const MS: u64 = 1_000_000;

    /// The register workload needs a client type; a recheck never opens one.
    struct NeverOpened;

    impl Kv for NeverOpened {
        async fn read(&self, _: &str) -> Result<Option<String>, KvError> {
            Err(KvError::Indeterminate("a recheck opens no client".into()))
        }
        async fn write(&self, _: &str, _: &str) -> Result<(), KvError> {
            Err(KvError::Indeterminate("a recheck opens no client".into()))
        }
        async fn cas(&self, _: &str, _: &str, _: &str) -> Result<bool, KvError> {
            Err(KvError::Indeterminate("a recheck opens no client".into()))
        }
    }

    /// What a recorded run looks like.
    #[derive(Debug, Clone, Copy)]
    pub struct Scenario {
        /// How long the cluster is without a leader after the first pause (the
        /// partition's gap is three quarters of it, the observer seeing the new leader
        /// at its next 100 ms round), ms; below 1000.
        pub leader_gap: u64,
        /// n1 still claims to lead term 3 while n3 does (2.5 s to 2.7 s).
        pub two_leaders: bool,
    }

    pub const STEADY: Scenario = Scenario {
        leader_gap: 400,
        two_leaders: false,
    };

    pub fn options(test: &str, root: &std::path::Path) -> RunOptions {
        RunOptions {
            test: test.into(),
            nodes: 5,
            concurrency: 2,
            rate: None,
            time_limit: Duration::from_secs(5),
            op_timeout: Duration::from_secs(1),
            recovery_timeout: Duration::from_secs(10),
            seed: 1,
            store: root.to_path_buf(),
            observe_interval: Duration::from_millis(100),
            check_time_limit: Duration::from_secs(10),
            check_memory_limit: 1 << 30,
            ssh: None,
        }
    }

    /// A new run directory of `test` started at `at`, with its `test.json` and its
    /// recorded history and status (not yet checked).
    pub fn record_run(root: &std::path::Path, test: &str, at: SystemTime, s: Scenario) -> RunDir {
        let run = Store::new(root).create_run(test, at).expect("run dir");
        run.write_json(
            files::TEST,
            &serde_json::json!({ "options": options(test, root) }),
        )
        .expect("test.json");
        record(&run, s);
        run
    }

    /// Checks a recorded run as `faultline check <run dir>` does.
    pub fn check(run: &RunDir, test: &str, root: &std::path::Path) -> Results {
        let workload = RegisterWorkload::<NeverOpened>::new(RegisterOpts::default());
        recheck(run, &options(test, root), &workload, &report::RunArtifacts).expect("checked")
    }

    /// A 5-second run on one key: process 0 writes every 100 ms (failing while there
    /// is no leader to serve it), process 1 reads; three faults (a pause of the leader,
    /// a partition of the next leader, a pause of a follower); leaders n1 (term 1), n2
    /// (term 2) and n3 (term 3).
    fn record(run: &RunDir, s: Scenario) {
        let gap1 = s.leader_gap;
        let gap2 = s.leader_gap * 3 / 4;
        let faults: [(u64, u64, FaultEvent, FaultEvent); 3] = [
            (
                500,
                1500,
                FaultEvent::start(FaultKind::Pause, "pause:primaries", FaultOutcome::Installed)
                    .with_nodes(["n1"]),
                FaultEvent::stop(FaultKind::Pause, FaultOutcome::Installed).with_nodes(["n1"]),
            ),
            (
                2000,
                3000,
                FaultEvent::start(
                    FaultKind::Partition,
                    "partition:primaries",
                    FaultOutcome::Installed,
                )
                .with_nodes(["n2"]),
                FaultEvent::stop(FaultKind::Partition, FaultOutcome::Installed),
            ),
            (
                3500,
                4200,
                FaultEvent::start(FaultKind::Pause, "pause:one", FaultOutcome::Installed)
                    .with_nodes(["n5"]),
                FaultEvent::stop(FaultKind::Pause, FaultOutcome::Installed).with_nodes(["n5"]),
            ),
        ];
        let unavailable =
            |ms: u64| (500..500 + gap1).contains(&ms) || (2000..2000 + gap2).contains(&ms);
        let mut ops: Vec<(u64, Result<Op<CasOp>, FaultEvent>)> = Vec::new();
        let mut value = 0i64;
        for step in 0..50u64 {
            let t = step * 100 * MS;
            let kind = if unavailable(step * 100) {
                Kind::Fail
            } else {
                Kind::Ok
            };
            let write = CasOp::Write(step as i64 + 1);
            let client = |t: u64, p: u64, kind: Kind, op: CasOp| {
                (t, Ok(Op::client(0, t, p, kind, op).with_key(1i64)))
            };
            ops.push(client(t, 0, Kind::Invoke, write.clone()));
            ops.push(client(t + 10 * MS, 0, kind, write));
            if kind == Kind::Ok {
                value = step as i64 + 1;
            }
            ops.push(client(t + 50 * MS, 1, Kind::Invoke, CasOp::Read(None)));
            ops.push(client(t + 55 * MS, 1, Kind::Ok, CasOp::Read(Some(value))));
        }
        for (start, stop, begin, end) in faults {
            ops.push((start * MS, Err(begin)));
            ops.push((stop * MS, Err(end)));
        }
        ops.push((4500 * MS, Err(FaultEvent::heal_all())));
        ops.sort_by_key(|(t, _)| *t);
        let mut writer = HistoryWriter::create(&run.file(files::HISTORY)).expect("history");
        for (index, (t, op)) in ops.into_iter().enumerate() {
            let index = index as u64;
            match op {
                Ok(mut op) => {
                    op.index = index;
                    writer.append(&op).expect("append op");
                }
                Err(event) => {
                    let fault = Fault {
                        f: event.f(),
                        value: serde_json::to_value(&event).expect("a fault event serializes"),
                    };
                    writer
                        .append(&Op::<CasOp>::nemesis(index, t, Kind::Info, fault))
                        .expect("append fault");
                }
            }
        }
        writer.sync().expect("sync");

        // Status every 100 ms from five nodes, as the observer writes it.
        let leader_at = |ms: u64| -> (Option<&'static str>, u64) {
            if ms < 500 {
                (Some("n1"), 1)
            } else if ms < 500 + gap1 {
                (None, 1)
            } else if ms < 2000 {
                (Some("n2"), 2)
            } else if ms < 2000 + gap2 {
                (None, 2)
            } else {
                (Some("n3"), 3)
            }
        };
        let mut status =
            std::fs::File::create(run.file(harness::run::STATUS_FILE)).expect("status");
        for step in 0..50u64 {
            let ms = step * 100;
            for node in ["n1", "n2", "n3", "n4", "n5"] {
                let (mut leader, term) = leader_at(ms);
                if s.two_leaders && node == "n1" && (2500..2700).contains(&ms) {
                    leader = Some("n1");
                }
                let o = Observation {
                    time: ms * MS,
                    node: node.into(),
                    role: if leader == Some(node) {
                        Role::Leader
                    } else {
                        Role::Follower
                    },
                    term,
                    leader: leader.map(str::to_string),
                    voted_for: None,
                };
                serde_json::to_writer(&mut status, &o).expect("observation");
                status.write_all(b"\n").expect("newline");
            }
        }
    }
}

/// Issue 11: `results.json` and `report.html` agree on availability. One recorded run
/// (a history with three fault windows and a status log) is checked and written
/// through the real paths, then both files are read back and compared figure by figure.
mod availability_agrees {
    use std::time::{Duration, UNIX_EPOCH};

    use checkers::check::Results;
    use harness::store::files;
    use report::describe::{at, dur};

    use super::recorded::{check, record_run, MS, STEADY};

    /// The availability table of `report.html`, one row of cell texts per fault.
    fn table(page: &str) -> Vec<Vec<String>> {
        let from = page
            .find("<h2 id=\"availability\">")
            .expect("an availability section");
        let section = &page[from..];
        let section = &section[..section.find("</table>").expect("the table ends")];
        section
            .split("<tr>")
            .skip(2) // before the table, the header row
            .map(|row| {
                row.split("<td>")
                    .skip(1)
                    .map(|cell| cell.split("</td>").next().unwrap_or_default().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn results_json_and_report_html_show_the_same_availability() {
        let root = std::env::temp_dir().join(format!("fl-report-agree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let at_time = UNIX_EPOCH + Duration::from_secs(1_795_945_200);
        let run = record_run(&root, "raft-register", at_time, STEADY);
        let checked = check(&run, "raft-register", &root);

        let stored: Results =
            serde_json::from_slice(&std::fs::read(run.file(files::RESULTS)).expect("results.json"))
                .expect("results.json parses");
        assert_eq!(stored, checked);
        let page = std::fs::read_to_string(run.file("report.html")).expect("report.html");
        assert!(run.file(files::JUNIT).is_file(), "junit.xml beside them");

        // The run is what it says: three windows; a new leader 400 ms into the first
        // pause and 300 ms into the partition; the third pause left the leader alone.
        let a = &stored.availability;
        assert_eq!(a.len(), 3, "{a:#?}");
        assert_eq!(
            a.iter().map(|w| w.leader_after).collect::<Vec<_>>(),
            [Some(400 * MS), Some(300 * MS), Some(0)],
            "{a:#?}"
        );
        let rows = table(&page);
        assert_eq!(rows.len(), a.len(), "one row per window: {rows:?}");
        let opt = |d: Option<u64>| d.map_or_else(|| "—".to_string(), dur);
        for (row, w) in rows.iter().zip(a) {
            let want = vec![
                w.fault.clone(),
                at(w.start),
                w.end.map_or_else(|| "never".to_string(), at),
                opt(w.first_ok_write_after),
                opt(w.leader_after),
                w.error_rate
                    .map_or_else(|| "—".to_string(), |r| format!("{:.1} %", r * 100.0)),
                opt(w.recovered_after_heal),
            ];
            assert_eq!(row, &want, "report.html vs results.json for {}", w.fault);
        }
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}

/// Issue 15: `faultline summary` over a store with runs of two tests, each run written
/// and checked through the real paths: the new anomaly and the slower failover are
/// reported in markdown and in HTML, and a damaged or half-written run is listed as
/// incomplete without stopping the summary.
mod summary_across_runs {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use harness::store::files;
    use report::summary::{self, RunState, Summary};

    use super::recorded::{check, record_run, Scenario, STEADY};

    const DAY: u64 = 86_400;

    fn day(n: u64) -> SystemTime {
        // 2026-11-27 01:00:00 UTC plus n days.
        UNIX_EPOCH + Duration::from_secs(1_795_741_200 + n * DAY)
    }

    #[test]
    fn the_new_anomaly_and_the_slower_failover_are_reported_in_both_formats() {
        let root = std::env::temp_dir().join(format!("fl-report-summary-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let checked = |test: &str, n: u64, s: Scenario| {
            let run = record_run(&root, test, day(n), s);
            check(&run, test, &root);
            run
        };
        // raft-register: valid, (half-written: the controller was killed), valid, invalid.
        checked("raft-register", 0, STEADY);
        record_run(&root, "raft-register", day(1), STEADY);
        checked("raft-register", 2, STEADY);
        checked(
            "raft-register",
            3,
            Scenario {
                two_leaders: true,
                ..STEADY
            },
        );
        // etcd-register: valid, (damaged results.json), valid, slower failover.
        checked("etcd-register", 0, STEADY);
        let damaged = checked("etcd-register", 1, STEADY);
        let text = std::fs::read_to_string(damaged.file(files::RESULTS)).expect("results");
        std::fs::write(damaged.file(files::RESULTS), &text[..text.len() / 2]).expect("damage");
        checked("etcd-register", 2, STEADY);
        checked(
            "etcd-register",
            3,
            Scenario {
                leader_gap: 900,
                two_leaders: false,
            },
        );

        let runs = summary::load(&root, None).expect("the store lists");
        assert_eq!(runs.len(), 8);
        let s = Summary::build(runs, "store `test`");
        assert_eq!(s.counts(), (8, 2));
        let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["etcd-register", "raft-register"]);
        let (etcd, raft) = (&s.tests[0], &s.tests[1]);
        assert!(raft.regressed && etcd.regressed);

        let new_anomaly = "new since 2026-11-29 01:00:00: split-brain, two leaders in term 3: n3";
        assert!(
            raft.regressions.iter().any(|l| l.starts_with(new_anomaly)),
            "{:?}",
            raft.regressions
        );
        let slower = "failover p50 300 ms → 700 ms (time to a new leader)";
        assert!(
            etcd.regressions.iter().any(|l| l == slower),
            "{:?}",
            etcd.regressions
        );
        // The anomaly's history: first and last seen in the newest raft run.
        assert_eq!(raft.anomalies.len(), 1, "{:?}", raft.anomalies);
        assert_eq!(raft.anomalies[0].seen.label(), "split-brain/two-leaders");
        assert_eq!(raft.anomalies[0].first, raft.runs[3].stamp);
        // Incomplete runs are listed with the reason.
        match (&raft.runs[1].state, &etcd.runs[1].state) {
            (RunState::Incomplete(half), RunState::Incomplete(damaged)) => {
                assert!(half.contains("no results.json"), "{half}");
                assert!(damaged.starts_with("results.json: EOF"), "{damaged}");
            }
            other => panic!("both should be incomplete: {other:?}"),
        }

        let md = summary::markdown(&s);
        assert!(
            md.contains("## raft-register") && md.contains("## etcd-register"),
            "{md}"
        );
        assert!(
            md.contains(&format!("- **regression:** {new_anomaly}")),
            "{md}"
        );
        assert!(md.contains(&format!("- **regression:** {slower}")), "{md}");
        assert!(
            md.contains("| 2026-11-28 01:00:00 | incomplete: no results.json"),
            "{md}"
        );
        assert!(
            md.contains("| 2026-11-28 01:00:00 | incomplete: results.json: EOF"),
            "{md}"
        );
        assert!(
            md.contains(
                "| split-brain/two-leaders | 2026-11-30 01:00:00 | 2026-11-30 01:00:00 | 1 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| 2026-11-30 01:00:00 | valid | – | 3 | 700 ms |"),
            "{md}"
        );

        let html = summary::html(&s);
        assert!(
            html.contains(&format!("<li>{}", report::describe::esc(new_anomaly))),
            "{html}"
        );
        assert!(html.contains(&format!("<li>{slower}</li>")), "{html}");
        assert_eq!(html.matches("<svg").count(), 2, "a trend chart per test");
        assert!(
            html.contains("<title>2026-11-30 01:00:00: 700 ms</title>"),
            "{html}"
        );
        assert!(html.contains("<span class=\"v incomplete\">incomplete</span>"));

        // The serve page is the same summary.
        let reply = report::serve::respond(&root, "/summary");
        assert_eq!(reply.status, 200);

        // --since: a cut-off stamp leaves the older runs out.
        let recent = summary::load(&root, Some("20261129T000000")).expect("lists");
        assert_eq!(recent.len(), 4);
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}

/// Issue 18: an election run's belief lanes, from a small hand-built election history.
mod election_lanes {
    use report::{html, FaultWindow, ReportInput};

    use crate::support::{assert_well_formed_svg, inline_svgs, summary, S};

    /// One `ok` line of the resource's history (the candidates' reports).
    fn line(time: u64, process: u64, f: &str, value: &str) -> String {
        format!(r#"{{"time":{time},"process":{process},"type":"ok","f":"{f}","value":{value}}}"#)
    }

    fn report_value(candidate: &str, mode: &str, token: u64, extra: &str) -> String {
        format!(
            r#"{{"candidate":"{candidate}","mode":"{mode}","token":{token},"lease_ms":null{extra}}}"#
        )
    }

    /// Naive: c1 leads 1–6 s (paused 3–6 s), c2 takes over at 4 s and leads to 9 s;
    /// c1's write at 5.5 s is stale. Fenced: c3 leads 1–9 s alone.
    fn history() -> Vec<checkers::history::Record> {
        let naive = |c: &str, t: u64, extra: &str| report_value(c, "naive", t, extra);
        let fenced = |c: &str, t: u64, extra: &str| report_value(c, "fenced", t, extra);
        let accepted = r#","outcome":"accepted""#;
        let lines = [
            line(S, 1, "leader", &naive("c1", 10, "")),
            line(S, 3, "leader", &fenced("c3", 30, "")),
            line(2 * S, 1, "write", &naive("c1", 10, accepted)),
            line(2 * S, 3, "write", &fenced("c3", 30, accepted)),
            line(4 * S, 2, "leader", &naive("c2", 20, "")),
            line(4 * S + S / 10, 2, "write", &naive("c2", 20, accepted)),
            line(11 * S / 2, 1, "write", &naive("c1", 10, accepted)),
            line(
                6 * S,
                1,
                "step-down",
                &naive("c1", 10, r#","reason":"the service said so""#),
            ),
            line(9 * S, 2, "write", &naive("c2", 20, accepted)),
            line(9 * S, 3, "write", &fenced("c3", 30, accepted)),
        ]
        .join("\n");
        let (_, records) =
            checkers::format::read(lines.as_bytes(), Some(checkers::format::Format::Jsonl))
                .expect("a history");
        records
    }

    fn input() -> ReportInput {
        let faults = vec![FaultWindow {
            fault: "pause leader-candidate [n4]".into(),
            start: 3 * S,
            end: Some(6 * S),
            kind: None,
            nodes: vec!["n4".into()],
        }];
        let events = checkers::election::events(&history()).expect("election events");
        let election = checkers::election::check(&events, &faults);
        ReportInput {
            summary: summary("election"),
            verdicts: vec![],
            ops: vec![],
            faults,
            leader_changes: vec![],
            availability: vec![],
            election: Some(election),
        }
    }

    /// `(class, candidate, start, end)` of every bar of class `tenure` or `overlap`.
    fn bars(svg: &str) -> Vec<(String, String, u64, u64)> {
        let attr = |tag: &str, name: &str| -> Option<String> {
            let k = format!(r#"{name}=""#);
            let s = tag.find(&k)? + k.len();
            Some(tag[s..s + tag[s..].find('"').expect("a closing quote")].to_string())
        };
        let num = |tag: &str, name: &str| -> u64 {
            attr(tag, name)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {tag}"))
        };
        svg.split("<rect ")
            .skip(1)
            .map(|tag| &tag[..tag.find('>').expect("a closed tag")])
            .filter_map(|tag| {
                let class = attr(tag, "class")?;
                (class == "tenure" || class == "overlap").then(|| {
                    (
                        class,
                        attr(tag, "data-candidate").expect("a candidate"),
                        num(tag, "data-start"),
                        num(tag, "data-end"),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn each_candidate_has_a_lane_of_its_beliefs_with_the_overlap_in_red() {
        let page = html::render(&input());
        assert!(
            page.contains(r#"<h2 id="election">"#),
            "no election section"
        );
        let svgs: Vec<&str> = inline_svgs(&page)
            .into_iter()
            .filter(|s| s.contains(r#"class="tl election""#))
            .collect();
        assert_eq!(svgs.len(), 2, "one drawing per mode (naive, fenced)");
        for svg in &svgs {
            assert_well_formed_svg(svg);
        }
        // Naive: c1 believed 1–6 s, c2 4–9 s (nothing ended it: last heard at 9 s);
        // both lanes carry the red overlap 4–6 s.
        let naive = bars(svgs[0]);
        let s = |c: &str, a: u64, b: u64, class: &str| (class.to_string(), c.to_string(), a, b);
        assert_eq!(
            naive,
            [
                s("c1", S, 6 * S, "tenure"),
                s("c2", 4 * S, 9 * S, "tenure"),
                s("c1", 4 * S, 6 * S, "overlap"),
                s("c2", 4 * S, 6 * S, "overlap"),
            ],
            "{}",
            svgs[0]
        );
        // The lanes are labelled by candidate, and the pause is shaded across them.
        assert!(svgs[0].contains(">c1<title>") && svgs[0].contains(">c2<title>"));
        assert!(
            svgs[0].contains("pause leader-candidate [n4]"),
            "{}",
            svgs[0]
        );
        // Fenced: one tenure, no overlap.
        assert_eq!(bars(svgs[1]), [s("c3", S, 9 * S, "tenure")]);
        // The fencing outcome in one plain sentence per mode.
        assert!(page.contains(
            "naive: two candidates believed they led at once 1 time, and the resource \
             accepted 1 writes from a leader that had been replaced"
        ));
        assert!(page.contains(
            "fenced: no two candidates ever believed they led at once; no stale write \
             reached the resource"
        ));
    }

    #[test]
    fn a_run_without_an_election_has_no_lanes() {
        let mut input = input();
        input.election = None;
        let page = html::render(&input);
        assert!(!page.contains(r#"id="election""#));
        assert!(!page.contains("class=\"tenure\""));
    }
}
