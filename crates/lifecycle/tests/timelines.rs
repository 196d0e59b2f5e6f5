//! Golden timelines: scripted container behaviour through the pure machine, compared line by line
//! with what the kubelet does (kubelet-semantics.md).

mod support;

use podvisor_lifecycle::observation::ProbeOutcome;
use podvisor_lifecycle::plan::{ProbeType, RestartPolicy};

use support::*;

#[test]
fn single_container_completes_and_pod_succeeds() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Never, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            exits: Some((s(2), 0)),
            ..Default::default()
        },
    );
    sim.run(s(60));
    insta_like(&sim.timeline(), "
     0.0 event Normal Scheduled: Successfully assigned default/web to node
     0.0 sandbox create
     0.0 event Normal Pulled spec.containers{app}: Container image \"busybox\" already present on machine and can be accessed by the pod
     0.0 start app #0
     0.0 event Normal Created spec.containers{app}: Container created
     0.0 event Normal Started spec.containers{app}: Container started
     2.0 app exited 0
     2.0 sandbox remove");
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Succeeded"));
}

fn insta_like(actual: &str, expected: &str) {
    let norm = |s: &str| {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, e) = (norm(actual), norm(expected));
    assert!(
        a == e,
        "timeline differs.\n--- expected\n{e}\n--- actual\n{a}\n"
    );
}

const NOISE: &[&str] = &["Scheduled", "Pulled", "Created", "Started"];

fn with_pre_stop(
    mut c: podvisor_lifecycle::plan::ContainerPlan,
) -> podvisor_lifecycle::plan::ContainerPlan {
    c.pre_stop = Some(exec("sleep 10"));
    c
}

#[test]
fn pre_stop_and_sigterm_are_sequential_and_share_the_grace_period() {
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (ms(12_500), true),
            on_term: Some((s(1), 0)),
            ..Default::default()
        },
    );
    sim.delete(s(5), None).run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     5.0 delete grace=None
     5.0 event Normal Killing spec.containers{app}: Stopping container app
     5.0 app PreStop run
    17.5 app SIGTERM
    18.5 app exited 0
    18.5 sandbox remove",
    );
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Succeeded"));
}

#[test]
fn pre_stop_outliving_the_grace_period_gets_sigterm_at_the_deadline_and_sigkill_two_seconds_later()
{
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        10,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(100), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), None).run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     1.0 delete grace=None
     1.0 event Normal Killing spec.containers{app}: Stopping container app
     1.0 app PreStop run
    11.0 app SIGTERM
    13.0 app SIGKILL
    13.0 app exited 137 signal 9
    13.0 sandbox remove",
    );
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Failed"));
}

#[test]
fn sh_as_pid_1_ignores_sigterm_and_dies_at_sigkill_after_the_whole_grace_period() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(2), None).run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     2.0 delete grace=None
     2.0 event Normal Killing spec.containers{app}: Stopping container app
     2.0 app SIGTERM
    32.0 app SIGKILL
    32.0 app exited 137 signal 9
    32.0 sandbox remove",
    );
}

#[test]
fn force_delete_gives_pre_stop_one_second_and_sigterm_two() {
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(100), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), Some(0)).run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     1.0 delete grace=Some(0)
     1.0 event Normal Killing spec.containers{app}: Stopping container app
     1.0 app PreStop run
     2.0 app SIGTERM
     4.0 app SIGKILL
     4.0 app exited 137 signal 9
     4.0 sandbox remove",
    );
}

#[test]
fn the_second_container_is_created_only_after_the_first_ones_post_start_returned() {
    let mut a = regular("first");
    a.post_start = Some(exec("sleep 3"));
    let p = plan(
        vec![],
        vec![a, regular("second")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "first",
        Behaviour {
            post_start: (s(3), true),
            ..Default::default()
        },
    );
    sim.run(s(10));
    insta_like(
        &sim.lines_without(&["Scheduled", "Pulled", "Created"]),
        "
     0.0 sandbox create
     0.0 start first #0
     0.0 event Normal Started spec.containers{first}: Container started
     0.0 first PostStart run
     3.0 start second #0
     3.0 event Normal Started spec.containers{second}: Container started",
    );
}

#[test]
fn post_start_failure_kills_through_the_normal_path_and_restarts() {
    let mut a = with_pre_stop(regular("app"));
    a.post_start = Some(exec("exit 1"));
    let p = plan(vec![], vec![a], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p)
        .behave(
            "app",
            Behaviour {
                post_start: (s(1), false),
                pre_stop: (s(2), true),
                on_term: Some((ms(100), 143)),
                ..Default::default()
            },
        )
        .behave_instance("app", 1, Behaviour::default());
    sim.run(s(10));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     0.0 app PostStart run
     1.0 event Warning FailedPostStartHook spec.containers{app}: PostStartHook failed
     1.0 event Normal Killing spec.containers{app}: FailedPostStartHook
     1.0 app PreStop run
     3.0 app SIGTERM
     3.1 app exited 143
     3.1 start app #1
     3.1 app PostStart run",
    );
}

#[test]
fn crash_loop_back_off_restarts_at_0_10_20_40_seconds() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            exits: Some((s(1), 1)),
            ..Default::default()
        },
    );
    sim.run(s(80));
    let starts: Vec<String> = sim
        .lines
        .iter()
        .filter(|l| l.contains("start app") || l.contains("BackOff"))
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(starts, vec![
        "0.0 start app #0",
        "1.0 start app #1",
        "2.0 event Warning BackOff spec.containers{app}: Back-off restarting failed container app in pod web_default(uid-1)",
        "12.0 start app #2",
        "13.0 event Warning BackOff spec.containers{app}: Back-off restarting failed container app in pod web_default(uid-1)",
        "33.0 start app #3",
        "34.0 event Warning BackOff spec.containers{app}: Back-off restarting failed container app in pod web_default(uid-1)",
        "74.0 start app #4",
        "75.0 event Warning BackOff spec.containers{app}: Back-off restarting failed container app in pod web_default(uid-1)",
    ]);
    // In back-off the container waits with the kubelet's reason and message.
    let mut sim = Sim::new(plan(
        vec![],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    ))
    .behave(
        "app",
        Behaviour {
            exits: Some((s(1), 1)),
            ..Default::default()
        },
    );
    sim.run(s(5));
    let st = sim.machine.status();
    let cs = &st.container_statuses.unwrap()[0];
    let w = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(
        w.message.as_deref(),
        Some("back-off 10s restarting failed container=app pod=web_default(uid-1)")
    );
    assert_eq!(cs.restart_count, 1);
    assert_eq!(
        cs.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert_eq!(st.phase.as_deref(), Some("Running"));
}

#[test]
fn init_containers_run_serially_before_regular_containers() {
    let p = plan(
        vec![init("init-a"), init("init-b")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p)
        .behave(
            "init-a",
            Behaviour {
                exits: Some((s(1), 0)),
                ..Default::default()
            },
        )
        .behave(
            "init-b",
            Behaviour {
                exits: Some((s(2), 0)),
                ..Default::default()
            },
        );
    sim.run(s(10));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start init-a #0
     1.0 init-a exited 0
     1.0 start init-b #0
     3.0 init-b exited 0
     3.0 start app #0",
    );
    let st = sim.machine.status();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    let init = st.init_container_statuses.unwrap();
    assert!(init.iter().all(|s| s.ready
        && s.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref()
            == Some("Completed")));
}

#[test]
fn a_failed_init_container_with_restart_policy_never_fails_the_pod() {
    let p = plan(
        vec![init("init")],
        vec![regular("app")],
        RestartPolicy::Never,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "init",
        Behaviour {
            exits: Some((s(1), 3)),
            ..Default::default()
        },
    );
    sim.run(s(10));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start init #0
     1.0 init exited 3
     1.0 sandbox remove",
    );
    let st = sim.machine.status();
    assert_eq!(st.phase.as_deref(), Some("Failed"));
}

#[test]
fn liveness_failure_at_threshold_kills_with_pre_stop_and_restarts() {
    let mut a = with_pre_stop(regular("app"));
    a.liveness_probe = Some(probe(10, 3));
    let p = plan(vec![], vec![a], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(1), true),
            ..Default::default()
        },
    );
    sim.probe_script = Some(Box::new(|_, _, restart, attempt| {
        if restart == 0 && attempt >= 1 {
            ProbeOutcome::Failure("boom".into())
        } else {
            ProbeOutcome::Success
        }
    }));
    sim.run(s(41));
    insta_like(&sim.lines_without(NOISE), "
     0.0 sandbox create
     0.0 start app #0
     0.0 app Liveness probe start
    10.0 event Warning Unhealthy spec.containers{app}: Liveness probe failed: boom
    20.0 event Warning Unhealthy spec.containers{app}: Liveness probe failed: boom
    30.0 event Warning Unhealthy spec.containers{app}: Liveness probe failed: boom
    30.0 event Normal Killing spec.containers{app}: Container app failed liveness probe, will be restarted
    30.0 app PreStop run
    31.0 app SIGTERM
    31.0 app exited 143
    31.0 start app #1
    31.0 app Liveness probe start");
}

#[test]
fn sidecars_start_in_order_and_stop_after_the_main_container_in_reverse_order() {
    let mut log = sidecar("log");
    log.pre_stop = Some(exec("sleep 1"));
    let mut startup = probe(1, 3);
    startup.period_seconds = 1;
    let mut mesh = sidecar("mesh");
    mesh.startup_probe = Some(startup);
    let p = plan(
        vec![log, mesh],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p)
        .behave(
            "app",
            Behaviour {
                pre_stop: (s(3), true),
                on_term: Some((s(1), 0)),
                ..Default::default()
            },
        )
        .behave(
            "log",
            Behaviour {
                pre_stop: (s(1), true),
                ..Default::default()
            },
        )
        .behave(
            "mesh",
            Behaviour {
                on_term: Some((ms(500), 0)),
                ..Default::default()
            },
        );
    sim.probe_script = Some(Box::new(|name, _, _, attempt| {
        if name == "mesh" && attempt < 2 {
            ProbeOutcome::Failure("not yet".into())
        } else {
            ProbeOutcome::Success
        }
    }));
    sim.delete(s(5), None).run(s(60));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start log #0
     0.0 start mesh #0
     0.0 mesh Startup probe start
     0.0 event Warning Unhealthy spec.initContainers{mesh}: Startup probe failed: not yet
     1.0 event Warning Unhealthy spec.initContainers{mesh}: Startup probe failed: not yet
     2.0 start app #0
     5.0 delete grace=None
     5.0 event Normal Killing spec.initContainers{log}: Stopping container log
     5.0 log PreStop run
     5.0 event Normal Killing spec.initContainers{mesh}: Stopping container mesh
     5.0 event Normal Killing spec.containers{app}: Stopping container app
     5.0 app PreStop run
     8.0 app SIGTERM
     9.0 app exited 0
     9.0 mesh SIGTERM
     9.5 mesh exited 0
     9.5 log SIGTERM
     9.5 log exited 143
     9.5 sandbox remove",
    );
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Succeeded"));
}

#[test]
fn readiness_gates_the_ready_condition_and_deletion_alone_does_not_flip_it() {
    let mut a = regular("app");
    a.readiness_probe = Some(probe(5, 1));
    let p = plan(vec![], vec![a], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p);
    sim.probe_script = Some(Box::new(|_, _, _, attempt| {
        if attempt == 0 {
            ProbeOutcome::Failure("503".into())
        } else {
            ProbeOutcome::Success
        }
    }));
    let ready = |sim: &Sim| {
        sim.machine
            .status()
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap()
            .status
    };
    sim.run(s(1));
    assert_eq!(ready(&sim), "False");
    sim.run(s(6));
    assert_eq!(ready(&sim), "True");
    let st = sim.machine.status();
    assert!(st.container_statuses.unwrap()[0].ready);
    let _ = ProbeType::Readiness;
}

fn kubectl_status(sim: &Sim) -> (String, String, i32) {
    let mut pod = sim.machine.pod();
    if sim.machine.is_deleting() {
        pod.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
    }
    let row = podvisor_lifecycle::printer::pod_row(&pod);
    (row.ready, row.status, row.restarts)
}

#[test]
fn kubectl_status_column_follows_print_pod() {
    // Initializing: Init:0/2, then Init:1/2.
    let p = plan(
        vec![init("a"), init("b")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p)
        .behave(
            "a",
            Behaviour {
                exits: Some((s(2), 0)),
                ..Default::default()
            },
        )
        .behave(
            "b",
            Behaviour {
                exits: Some((s(2), 0)),
                ..Default::default()
            },
        )
        .behave(
            "app",
            Behaviour {
                on_term: None,
                ..Default::default()
            },
        );
    sim.run(s(1));
    assert_eq!(kubectl_status(&sim), ("0/1".into(), "Init:0/2".into(), 0));
    sim.run(s(3));
    assert_eq!(kubectl_status(&sim), ("0/1".into(), "Init:1/2".into(), 0));
    sim.run(s(5));
    assert_eq!(kubectl_status(&sim), ("1/1".into(), "Running".into(), 0));
    sim.delete(s(6), None).run(s(6));
    assert_eq!(kubectl_status(&sim).1, "Terminating");

    // A failing init container in back-off.
    let p = plan(
        vec![init("a")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "a",
        Behaviour {
            exits: Some((s(1), 1)),
            ..Default::default()
        },
    );
    sim.run(s(3));
    assert_eq!(
        kubectl_status(&sim),
        ("0/1".into(), "Init:CrashLoopBackOff".into(), 1)
    );

    // Completed and Error.
    let mut sim = Sim::new(plan(vec![], vec![regular("app")], RestartPolicy::Never, 30)).behave(
        "app",
        Behaviour {
            exits: Some((s(1), 0)),
            ..Default::default()
        },
    );
    sim.run(s(3));
    assert_eq!(kubectl_status(&sim), ("0/1".into(), "Completed".into(), 0));
    let mut sim = Sim::new(plan(vec![], vec![regular("app")], RestartPolicy::Never, 30)).behave(
        "app",
        Behaviour {
            exits: Some((s(1), 2)),
            ..Default::default()
        },
    );
    sim.run(s(3));
    assert_eq!(kubectl_status(&sim), ("0/1".into(), "Error".into(), 0));
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Failed"));

    // CrashLoopBackOff.
    let mut sim = Sim::new(plan(
        vec![],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    ))
    .behave(
        "app",
        Behaviour {
            exits: Some((s(1), 2)),
            ..Default::default()
        },
    );
    sim.run(s(3));
    assert_eq!(
        kubectl_status(&sim),
        ("0/1".into(), "CrashLoopBackOff".into(), 1)
    );
}

#[test]
fn a_recovered_pod_reports_lost_containers_and_restarts_them_after_init_runs_again() {
    let p = plan(
        vec![init("init")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    // First life: init done, app running, restarted twice.
    let mut first = Sim::new(p.clone()).behave(
        "init",
        Behaviour {
            exits: Some((s(1), 0)),
            ..Default::default()
        },
    );
    first.run(s(3));
    let mut previous = first.machine.status();
    for cs in previous.container_statuses.iter_mut().flatten() {
        cs.restart_count = 2;
    }
    let wall = podvisor_lifecycle::time::WallClock {
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    let node = podvisor_lifecycle::machine::NodeInfo {
        node_name: "node".into(),
        host_ip: "127.0.0.1".into(),
    };
    let machine = podvisor_lifecycle::machine::PodMachine::recover(
        p,
        wall,
        node,
        podvisor_lifecycle::time::Timestamp::ZERO,
        &previous,
    );
    let mut sim = Sim::new(plan(
        vec![init("init")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    ))
    .behave(
        "init",
        Behaviour {
            exits: Some((s(1), 0)),
            ..Default::default()
        },
    );
    sim.machine = machine;
    sim.run(s(5));
    insta_like(
        &sim.lines_without(&["Pulled", "Created", "Started"]),
        "
     0.0 event Normal SandboxChanged: Pod sandbox changed, it will be killed and re-created.
     0.0 sandbox create
     0.0 start init #1
     1.0 init exited 0
     1.0 start app #3",
    );
    let st = sim.machine.status();
    let cs = &st.container_statuses.unwrap()[0];
    assert_eq!(cs.restart_count, 3);
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (137, Some("ContainerStatusUnknown"))
    );
    assert!(cs.state.as_ref().unwrap().running.is_some());
}

// ---------------------------------------------------------------- kill deadlines on the action

fn at(secs_f: f64) -> podvisor_lifecycle::time::Timestamp {
    podvisor_lifecycle::time::Timestamp::from_millis((secs_f * 1000.0).round() as u64)
}

fn signal_lines(sim: &Sim) -> Vec<(String, String, f64, Option<f64>)> {
    sim.signals
        .iter()
        .map(|r| {
            (
                r.container.clone(),
                r.signal.as_str().to_string(),
                r.at.since_start().as_secs_f64(),
                r.kill_deadline.map(|d| d.since_start().as_secs_f64()),
            )
        })
        .collect()
}

#[test]
fn the_stop_signal_carries_the_sigkill_deadline_left_after_pre_stop() {
    // G = 30, preStop took 10 s: SIGTERM at 15 s, SIGKILL due 20 s later.
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(10), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(5), None).run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 15.0, Some(35.0)),
            ("app".into(), "SIGKILL".into(), 35.0, None),
        ]
    );
}

#[test]
fn a_force_delete_gives_the_stop_signal_a_two_second_deadline() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(3), Some(0)).run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 3.0, Some(5.0)),
            ("app".into(), "SIGKILL".into(), 5.0, None),
        ]
    );
    // With a preStop that outlives the 1 s budget: SIGTERM at +1 s, SIGKILL 2 s later.
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(100), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), Some(0)).run(s(120));
    assert_eq!(
        signal_lines(&sim)[0],
        ("app".into(), "SIGTERM".into(), 2.0, Some(4.0))
    );
}

#[test]
fn each_container_gets_its_own_deadline() {
    // `next_wakeup()` is the earliest of both; the action says which belongs to which.
    let p = plan(
        vec![],
        vec![regular("plain"), with_pre_stop(regular("hooked"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p)
        .behave(
            "plain",
            Behaviour {
                on_term: None,
                ..Default::default()
            },
        )
        .behave(
            "hooked",
            Behaviour {
                pre_stop: (ms(12_500), true),
                on_term: None,
                ..Default::default()
            },
        );
    sim.delete(s(5), None).run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("plain".into(), "SIGTERM".into(), 5.0, Some(35.0)),
            // preStop took 12.5 s, truncated to 12: 18 s left.
            ("hooked".into(), "SIGTERM".into(), 17.5, Some(35.5)),
            ("plain".into(), "SIGKILL".into(), 35.0, None),
            ("hooked".into(), "SIGKILL".into(), 35.5, None),
        ]
    );
}

#[test]
fn a_sidecar_deadline_is_what_is_left_after_waiting_for_the_main_container() {
    let p = plan(
        vec![sidecar("log")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p)
        .behave(
            "app",
            Behaviour {
                on_term: Some((ms(4_700), 0)),
                ..Default::default()
            },
        )
        .behave(
            "log",
            Behaviour {
                on_term: None,
                ..Default::default()
            },
        );
    sim.delete(s(10), None).run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 10.0, Some(40.0)),
            // Waited 4.7 s (4 whole seconds) for app: 26 s left.
            ("log".into(), "SIGTERM".into(), 14.7, Some(40.7)),
            ("log".into(), "SIGKILL".into(), 40.7, None),
        ]
    );
}

#[test]
fn a_stop_signal_of_sigkill_has_no_deadline_and_a_custom_one_is_sent() {
    use podvisor_lifecycle::signal::Signal;
    let mut a = regular("a");
    a.stop_signal = Signal::SIGKILL;
    let mut b = regular("b");
    b.stop_signal = Signal::SIGUSR1;
    let p = plan(vec![], vec![a, b], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "b",
        Behaviour {
            on_term: Some((s(1), 0)),
            ..Default::default()
        },
    );
    sim.delete(s(2), None).run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("a".into(), "SIGKILL".into(), 2.0, None),
            ("b".into(), "SIGUSR1".into(), 2.0, Some(32.0)),
        ]
    );
}

#[test]
fn a_liveness_kill_deadline_uses_the_probe_level_grace() {
    let mut a = regular("app");
    let mut live = probe(10, 1);
    live.termination_grace_period_seconds = Some(7);
    a.liveness_probe = Some(live);
    let p = plan(vec![], vec![a], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            on_term: None,
            ..Default::default()
        },
    );
    sim.probe_script = Some(Box::new(|_, _, restart, _| {
        if restart == 0 {
            ProbeOutcome::Failure("boom".into())
        } else {
            ProbeOutcome::Success
        }
    }));
    sim.run(s(30));
    assert_eq!(
        signal_lines(&sim)[..2],
        [
            ("app".into(), "SIGTERM".into(), 0.0, Some(7.0)),
            ("app".into(), "SIGKILL".into(), 7.0, None),
        ]
    );
    assert_eq!(sim.signals[0].kill_deadline, Some(at(7.0)));
}

// ---------------------------------------------------------------- TerminatePod's final status

/// `(name, state, reason)` of each status: init containers in spec order, then regular ones.
fn final_states(sim: &Sim) -> Vec<(String, &'static str, String)> {
    let st = sim.machine.status();
    st.init_container_statuses
        .iter()
        .flatten()
        .chain(st.container_statuses.iter().flatten())
        .map(|s| {
            let state = s.state.clone().unwrap_or_default();
            let (kind, reason) = match (&state.waiting, &state.running, &state.terminated) {
                (Some(w), _, _) => ("waiting", w.reason.clone()),
                (_, Some(_), _) => ("running", None),
                (_, _, Some(t)) => ("terminated", t.reason.clone()),
                _ => ("none", None),
            };
            (s.name.clone(), kind, reason.unwrap_or_default())
        })
        .collect()
}

#[test]
fn a_pod_deleted_during_init_reports_lost_only_what_had_started() {
    // init-a runs when the pod is deleted; the sidecar, init-b and app never started.
    let p = plan(
        vec![init("init-a"), sidecar("side"), init("init-b")],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "init-a",
        Behaviour {
            exits: Some((s(60), 0)),
            on_term: Some((ms(500), 143)),
            ..Default::default()
        },
    );
    sim.delete(s(2), None).run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start init-a #0
     2.0 delete grace=None
     2.0 event Normal Killing spec.initContainers{init-a}: Stopping container init-a
     2.0 init-a SIGTERM
     2.5 init-a exited 143
     2.5 sandbox remove",
    );
    let w = |n: &str| (n.to_string(), "waiting", "PodInitializing".to_string());
    assert_eq!(
        final_states(&sim),
        vec![
            ("init-a".to_string(), "terminated", "Error".to_string()),
            w("side"),
            w("init-b"),
            w("app"),
        ]
    );
    assert_eq!(sim.machine.status().phase.as_deref(), Some("Failed"));
}

#[test]
fn a_pod_deleted_while_its_last_sidecar_is_not_started_keeps_the_regular_containers_waiting() {
    // init-a completed, the sidecar runs (its startup probe never succeeds), the regular
    // containers never started: the pod is not initialized (its last init container is a sidecar
    // that is not started), so app stays waiting; the sidecar, started, is stopped and terminated.
    let mut side = sidecar("side");
    let mut startup = probe(1, 100);
    startup.period_seconds = 1;
    side.startup_probe = Some(startup);
    let p = plan(
        vec![init("init-a"), side],
        vec![regular("app")],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "init-a",
        Behaviour {
            exits: Some((s(1), 0)),
            ..Default::default()
        },
    );
    sim.probe_script = Some(Box::new(|_, _, _, _| {
        ProbeOutcome::Failure("not yet".into())
    }));
    sim.delete(s(3), None).run(s(120));
    assert_eq!(
        final_states(&sim),
        vec![
            ("init-a".to_string(), "terminated", "Completed".to_string()),
            ("side".to_string(), "terminated", "Error".to_string()),
            ("app".to_string(), "waiting", "PodInitializing".to_string()),
        ]
    );
}

#[test]
fn a_container_whose_post_start_failed_is_reported_waiting_until_its_kill_returns() {
    let mut a = with_pre_stop(regular("app"));
    a.post_start = Some(exec("exit 1"));
    let p = plan(vec![], vec![a], RestartPolicy::Never, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            post_start: (s(1), false),
            pre_stop: (s(2), true),
            on_term: Some((ms(100), 143)),
            ..Default::default()
        },
    );
    let app = |sim: &Sim| {
        let st = sim.machine.status();
        let cs = st.container_statuses.unwrap().remove(0);
        (st.phase.unwrap(), cs)
    };
    // During postStart and during the kill after it failed (preStop from 1 s to 3 s, then
    // SIGTERM) the worker is inside startContainer: the status is the one from before it.
    for at in [ms(500), ms(1500), ms(3050)] {
        sim.run(at);
        let (phase, cs) = app(&sim);
        let waiting = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
        assert_eq!(
            waiting.reason.as_deref(),
            Some("ContainerCreating"),
            "at {at:?}"
        );
        assert_eq!(
            (cs.started, cs.ready, cs.restart_count),
            (Some(false), false, 0)
        );
        assert!(cs.container_id.is_none() && cs.last_state.is_none());
        assert_eq!(phase, "Pending");
    }
    sim.run(s(10));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     0.0 app PostStart run
     1.0 event Warning FailedPostStartHook spec.containers{app}: PostStartHook failed
     1.0 event Normal Killing spec.containers{app}: FailedPostStartHook
     1.0 app PreStop run
     3.0 app SIGTERM
     3.1 app exited 143
     3.1 sandbox remove",
    );
    let (phase, cs) = app(&sim);
    let t = cs.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (143, Some("Error")));
    assert_eq!(phase, "Failed");
}

// ---------------------------------------------------------------- a shorter grace while killing
//
// The pod worker records a shorter grace (calculateEffectiveGracePeriod) and cancels the running
// sync's context, but SyncTerminatingPod runs killPod on a context of its own (the pod worker's
// is dropped: TODO #113606), so kills already in flight keep the grace they began with: a preStop
// keeps its budget and a stop signal already sent keeps its SIGKILL deadline. The next sync
// would use the shorter grace, but after a successful killPod the pod is terminated and there is
// none. The API shows the lower deletionGracePeriodSeconds at once (0 for a force delete).

#[test]
fn a_force_delete_during_a_running_pre_stop_does_not_shorten_the_kill_in_flight() {
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(100), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), None);
    sim.delete(s(5), Some(0));
    assert_eq!(sim.machine.deletion(), Some((at(1.0), 0)));
    sim.run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     1.0 delete grace=None
     1.0 event Normal Killing spec.containers{app}: Stopping container app
     1.0 app PreStop run
     5.0 delete grace=Some(0)
    31.0 app SIGTERM
    33.0 app SIGKILL
    33.0 app exited 137 signal 9
    33.0 sandbox remove",
    );
    assert_eq!(sim.machine.deletion(), Some((at(1.0), 0)));
}

#[test]
fn a_force_delete_after_the_stop_signal_keeps_its_sigkill_deadline() {
    let p = plan(vec![], vec![regular("app")], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(2), None);
    assert_eq!(sim.machine.deletion(), Some((at(2.0), 30)));
    sim.delete(s(5), Some(0));
    sim.run(s(120));
    insta_like(
        &sim.lines_without(NOISE),
        "
     0.0 sandbox create
     0.0 start app #0
     2.0 delete grace=None
     2.0 event Normal Killing spec.containers{app}: Stopping container app
     2.0 app SIGTERM
     5.0 delete grace=Some(0)
    32.0 app SIGKILL
    32.0 app exited 137 signal 9
    32.0 sandbox remove",
    );
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 2.0, Some(32.0)),
            ("app".into(), "SIGKILL".into(), 32.0, None),
        ]
    );
    assert_eq!(sim.machine.deletion(), Some((at(2.0), 0)));
}

#[test]
fn a_second_graceful_delete_with_a_shorter_grace_lowers_the_api_value_but_not_the_kill() {
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(10), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), None);
    sim.delete(s(3), Some(5));
    assert_eq!(sim.machine.deletion(), Some((at(1.0), 5)));
    // A longer one later changes nothing.
    sim.delete(s(4), Some(60));
    assert_eq!(sim.machine.deletion(), Some((at(1.0), 5)));
    sim.run(s(120));
    // preStop took 10 s of the 30 it began with: SIGTERM at 11, SIGKILL 20 s later.
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 11.0, Some(31.0)),
            ("app".into(), "SIGKILL".into(), 31.0, None),
        ]
    );
}

#[test]
fn a_shorter_grace_that_arrives_before_the_worker_began_killing_is_the_one_used() {
    // The worker is busy in startContainer (postStart) when both deletions arrive: the kill that
    // follows uses the shortest grace requested.
    let mut a = regular("app");
    a.post_start = Some(exec("sleep 10"));
    let p = plan(vec![], vec![a], RestartPolicy::Always, 30);
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            post_start: (s(10), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(2), None);
    sim.delete(s(4), Some(3));
    sim.run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 10.0, Some(13.0)),
            ("app".into(), "SIGKILL".into(), 13.0, None),
        ]
    );
    assert_eq!(sim.machine.deletion(), Some((at(2.0), 3)));
}

#[test]
fn a_force_delete_is_shown_as_zero_and_killed_with_one_second_of_pre_stop() {
    let p = plan(
        vec![],
        vec![with_pre_stop(regular("app"))],
        RestartPolicy::Always,
        30,
    );
    let mut sim = Sim::new(p).behave(
        "app",
        Behaviour {
            pre_stop: (s(100), true),
            on_term: None,
            ..Default::default()
        },
    );
    sim.delete(s(1), Some(0));
    // What the API server shows; the kubelet's pod worker uses max(0, 1) = 1 s.
    assert_eq!(sim.machine.deletion(), Some((at(1.0), 0)));
    sim.run(s(120));
    assert_eq!(
        signal_lines(&sim),
        vec![
            ("app".into(), "SIGTERM".into(), 2.0, Some(4.0)),
            ("app".into(), "SIGKILL".into(), 4.0, None),
        ]
    );
}
