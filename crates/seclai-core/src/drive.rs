//! The drivers' loops, written once. Each client expands these with its
//! own way of waiting (`[.await]` for the async client, `[]` for the
//! blocking one) and its own I/O primitives, which are all it implements:
//!
//! - `io_fetch_token()`: the client's async token provider, if any;
//! - `io_await_refresh(wait)`: wait for another call's SSO refresh;
//! - `io_refresh(request)`: send the SSO refresh, read its answer;
//! - `io_send(attempt)`: send one attempt, return the response at its head;
//! - `io_read_whole(response, read)`: read a whole body within its bounds;
//! - `io_sleep(duration)`;
//! - `io_next_event(&mut stream)`: the next item of an event stream.
//!
//! Every decision stays in the machines ([`CallMachine`](crate::engine::CallMachine),
//! [`Waiter`](crate::wait::Waiter), [`PageWalk`](crate::call::PageWalk)).

/// Run a [`CallMachine`](crate::engine::CallMachine) to its end:
/// `Ok(Ok(answer))` for a whole answer, `Ok(Err((response, head)))` for an
/// opened one.
#[macro_export]
#[doc(hidden)]
macro_rules! __drive_call {
    ($io:expr, $machine:expr, [$($aw:tt)*]) => {{
        use $crate::engine::Step;
        let io = $io;
        let mut m = $machine;
        let mut resp = None;
        let mut step = m.start();
        loop {
            step = match step {
                Step::FetchToken => {
                    let token = io.io_fetch_token()$($aw)*;
                    m.on_token(token)
                }
                Step::AwaitCredentials(wait) => {
                    let waited = io.io_await_refresh(wait)$($aw)*;
                    m.on_credentials(waited)
                }
                Step::Refresh(r) => {
                    let answer = io.io_refresh(r)$($aw)*;
                    m.on_refresh(answer)
                }
                Step::Send(attempt) => match io.io_send(attempt)$($aw)* {
                    Ok(mut r) => {
                        let (status, headers) = (r.status(), ::std::mem::take(r.headers_mut()));
                        resp = Some(r);
                        m.on_head(status, headers)
                    }
                    Err(e) => m.on_error(e),
                },
                Step::ReadBody(read) => match resp.take() {
                    Some(r) => {
                        let body = io.io_read_whole(r, read)$($aw)*;
                        m.on_body(body)
                    }
                    None => m.on_body(Ok($crate::__bytes::Bytes::new())),
                },
                Step::Sleep(d) => {
                    resp = None;
                    io.io_sleep(d)$($aw)*;
                    m.on_slept()
                }
                Step::Open(head) => {
                    break match resp.take() {
                        Some(r) => Ok(Err((r, head))),
                        None => Err($crate::Error::InvalidRequest("no response to open".into())),
                    };
                }
                Step::Done(r) => break r.map(Ok),
            }
        }
    }};
}

/// Run a [`Waiter`](crate::wait::Waiter) to its end.
#[macro_export]
#[doc(hidden)]
macro_rules! __drive_wait {
    ($io:expr, $waiter:expr, [$($aw:tt)*]) => {{
        use $crate::wait::WaitStep;
        let io = $io;
        let mut waiter = $waiter;
        let mut events = None;
        let mut step = waiter.start();
        loop {
            step = match step {
                WaitStep::OpenEvents(m) => {
                    let decoder = $crate::run_events::RunEventDecoder::verdict_only();
                    match $crate::call::Driver::events(io, m, decoder)$($aw)* {
                        Ok(s) => {
                            events = Some(s);
                            waiter.on_opened(Ok(()))
                        }
                        Err(e) => waiter.on_opened(Err(e)),
                    }
                }
                WaitStep::NextEvent => {
                    let item = match events.as_mut() {
                        Some(s) => io.io_next_event(s)$($aw)*,
                        None => None,
                    };
                    waiter.on_event(item)
                }
                WaitStep::Fetch(m) => {
                    events = None;
                    let answer = io.answer(m)$($aw)*;
                    waiter.on_answer(answer)
                }
                WaitStep::Sleep(d) => {
                    events = None;
                    io.io_sleep(d)$($aw)*;
                    waiter.on_slept()
                }
                WaitStep::Done(r) => break r,
            }
        }
    }};
}

/// The next item of a [`PageWalk`](crate::call::PageWalk): `Some(item)`,
/// or `None` at the end (the walk is then `None` too).
#[macro_export]
#[doc(hidden)]
macro_rules! __next_item {
    ($io:expr, $walk:expr, [$($aw:tt)*]) => {{
        use $crate::call::PageStep;
        let walk: &mut Option<_> = $walk;
        loop {
            let Some(w) = walk.as_mut() else { break None };
            match w.next_step() {
                PageStep::Item(item) => break Some(Ok(item)),
                PageStep::Fail(e) => {
                    *walk = None;
                    break Some(Err(e));
                }
                PageStep::End => {
                    *walk = None;
                    break None;
                }
                PageStep::Fetch(m) => {
                    let answer = $io.answer(m)$($aw)*;
                    if let Some(w) = walk.as_mut() {
                        w.on_page(answer);
                    }
                }
            }
        }
    }};
}
