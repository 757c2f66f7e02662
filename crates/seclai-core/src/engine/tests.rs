//! The call machine on a manual clock: deadlines, back-off, limits and
//! bounds decided without sleeping.

use super::*;
use crate::render::{CallOptions, prepare};
use seclai_gen::ops::{CancelExperiment, GetAgent};

fn setup(options: CallOptions) -> (Arc<ManualClock>, ClientConfig, Prepared) {
    let clock = Arc::new(ManualClock::new());
    let config = ClientConfig::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .read_timeout(Duration::from_secs(30))
        .max_response_bytes(10)
        .clock(clock.clone())
        .build_with_env(&|_| None)
        .unwrap();
    let prepared = prepare(&config, &GetAgent::new("a"), &options).unwrap();
    (clock, config, prepared)
}

fn attempt(step: Step) -> Attempt {
    match step {
        Step::Send(a) => a,
        other => panic!("expected an attempt, got {other:?}"),
    }
}

fn timeout() -> TransportError {
    TransportError::new(TransportKind::Timeout, "read timed out")
}

#[test]
fn the_deadline_caps_every_wait_and_ends_the_call_with_its_own_error() {
    let options = CallOptions {
        deadline: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let (clock, config, prepared) = setup(options);
    let mut m = CallMachine::new(&config, prepared, Expect::Whole);
    let a = attempt(m.start());
    assert_eq!(
        a.timeouts.head,
        Duration::from_millis(300),
        "read timeout capped by the deadline"
    );
    assert_eq!(a.timeouts.total, Some(Duration::from_millis(300)));
    assert_eq!(a.headers["x-api-key"], "k");
    clock.advance(Duration::from_millis(300));
    match m.on_error(timeout()) {
        Step::Done(Err(Error::Deadline { deadline, elapsed })) => {
            assert_eq!(deadline, Duration::from_millis(300));
            assert_eq!(elapsed, Duration::from_millis(300));
        }
        other => panic!("expected the deadline's error, got {other:?}"),
    }
}

#[test]
fn a_retry_that_would_sleep_past_the_deadline_gives_up_at_once() {
    let options = CallOptions {
        deadline: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let (clock, config, prepared) = setup(options);
    let mut m = CallMachine::new(&config, prepared, Expect::Whole);
    attempt(m.start());
    clock.advance(Duration::from_millis(1500));
    let mut h = HeaderMap::new();
    h.insert("retry-after", "5".parse().unwrap());
    assert!(matches!(
        m.on_head(StatusCode::SERVICE_UNAVAILABLE, h),
        Step::Done(Err(Error::Deadline { .. }))
    ));
}

#[test]
fn retries_sleep_then_send_again_and_count() {
    let (_, config, prepared) = setup(CallOptions::default());
    let mut m = CallMachine::new(&config, prepared, Expect::Whole);
    attempt(m.start());
    let Step::Sleep(d) = m.on_head(StatusCode::BAD_GATEWAY, HeaderMap::new()) else {
        panic!("a GET is retried on 502");
    };
    assert!(d <= Duration::from_secs(8));
    attempt(m.on_slept());
    assert!(matches!(
        m.on_head(StatusCode::OK, HeaderMap::new()),
        Step::ReadBody(_)
    ));
}

#[test]
fn a_post_that_may_have_arrived_is_not_resent() {
    let (_, config, _) = setup(CallOptions::default());
    let prepared = prepare(
        &config,
        &CancelExperiment::new("e"),
        &CallOptions::default(),
    )
    .unwrap();
    let mut m = CallMachine::new(&config, prepared, Expect::Whole);
    attempt(m.start());
    assert!(matches!(
        m.on_error(timeout()),
        Step::Done(Err(Error::Transport(_)))
    ));
}

#[test]
fn answers_over_the_size_limit_are_refused() {
    let (_, config, prepared) = setup(CallOptions::default());
    let mut m = CallMachine::new(&config, prepared, Expect::Whole);
    attempt(m.start());
    let Step::ReadBody(read) = m.on_head(StatusCode::OK, HeaderMap::new()) else {
        panic!("expected a body read");
    };
    assert_eq!(read.limit, 10);
    match m.on_body(Ok(Bytes::from_static(b"01234567890"))) {
        Step::Done(Err(Error::Transport(e))) => assert_eq!(e.kind, TransportKind::TooLarge),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn error_bodies_are_read_bounded_and_become_api_errors() {
    let (_, config, prepared) = setup(CallOptions::default());
    let mut m = CallMachine::new(&config, prepared, Expect::Stream);
    attempt(m.start());
    let Step::ReadBody(read) = m.on_head(StatusCode::NOT_FOUND, HeaderMap::new()) else {
        panic!("an error body is read");
    };
    assert_eq!(read.limit, MAX_ERROR_BODY_READ);
    assert_eq!(read.timeout, Duration::from_secs(30));
    match m.on_body(Ok(Bytes::from_static(b"{\"detail\":\"nope\"}"))) {
        Step::Done(Err(e)) => assert!(e.is_not_found()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn streamed_reads_stop_at_the_deadline_whatever_arrives() {
    let options = CallOptions {
        deadline: Some(Duration::from_secs(6)),
        idle_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let (clock, config, prepared) = setup(options);
    let mut m = CallMachine::new(&config, prepared, Expect::Stream);
    attempt(m.start());
    let Step::Open(head) = m.on_head(StatusCode::OK, HeaderMap::new()) else {
        panic!("a 2xx stream opens");
    };
    let bounds = head.bounds;
    assert_eq!(bounds.next_read().unwrap(), Duration::from_secs(2));
    // A keep-alive every second: each read is short, the deadline still comes.
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1));
        assert!(bounds.next_read().is_ok());
    }
    assert_eq!(bounds.next_read().unwrap(), Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert!(matches!(bounds.next_read(), Err(Error::Deadline { .. })));
    assert!(matches!(bounds.timed_out(), Error::Deadline { .. }));
}

#[test]
fn idle_timeouts_name_the_idle_timeout() {
    let clock = SharedClock::default();
    let bounds = ReadBounds::idle(Duration::from_secs(3), clock);
    assert!(matches!(
        bounds.timed_out(),
        Error::Stream(StreamError::IdleTimeout { after }) if after == Duration::from_secs(3)
    ));
}
