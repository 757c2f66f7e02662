//! The blocking driver: performs the engine's steps with ureq. Every
//! decision (what to send, how long to wait, whether to retry, what an
//! answer means) comes from `seclai_core`; this file only does I/O.

use crate::body::{Download, ItemIter, RunStream};
use crate::client::{Client, classify};
use bytes::Bytes;
use seclai_core::call::{Driver, PageWalk};
use seclai_core::engine::{
    Answer, Attempt, AttemptBody, BodyRead, CallMachine, Head, RefreshRequest,
};
use seclai_core::run_events::RunEventDecoder;
use seclai_core::stream::{DownloadFeed, EventFeed};
use seclai_core::wait::{Waiter, Watched};
use seclai_core::{Error, Result, TransportError, TransportKind};
use serde::de::DeserializeOwned;
use std::io::Read;

type Response = http::Response<ureq::Body>;

/// How a driven call ended: a whole answer, or an opened response.
type Driven = std::result::Result<Answer, (Response, Head)>;

impl Driver for Client {
    type Out<T: Send + 'static> = Result<T>;
    type Events = RunStream;
    type Download = Download;
    type Items<T: Send + 'static> = ItemIter<T>;

    fn config(&self) -> &seclai_core::ClientConfig {
        &self.inner.config
    }

    fn run<T, F>(&self, machine: Result<CallMachine>, finish: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Answer) -> Result<T> + Send + 'static,
    {
        finish(self.answer(machine)?)
    }

    fn events(&self, machine: Result<CallMachine>, decoder: RunEventDecoder) -> Result<RunStream> {
        let (resp, head) = self.open(machine)?;
        let feed = EventFeed::new(head, decoder, self.inner.config.max_response_bytes());
        Ok(RunStream::new(feed, resp.into_body().into_reader()))
    }

    fn download(&self, machine: Result<CallMachine>) -> Result<Download> {
        let (resp, head) = self.open(machine)?;
        Ok(Download::new(
            DownloadFeed::new(head),
            resp.into_body().into_reader(),
        ))
    }

    fn items<T: DeserializeOwned + Send + 'static>(&self, walk: PageWalk<T>) -> ItemIter<T> {
        let client = self.clone();
        let mut walk = Some(walk);
        ItemIter::new(Box::new(std::iter::from_fn(move || {
            seclai_core::__next_item!(&client, &mut walk, [])
        })))
    }

    fn collect<T: DeserializeOwned + Send + 'static>(&self, walk: PageWalk<T>) -> Result<Vec<T>> {
        self.items(walk).collect()
    }

    fn wait<T>(&self, waiter: Waiter<T>) -> Result<T>
    where
        T: Watched + DeserializeOwned + Send + 'static,
    {
        seclai_core::__drive_wait!(self, waiter, [])
    }
}

impl Client {
    fn answer(&self, machine: Result<CallMachine>) -> Result<Answer> {
        match self.drive(machine?)? {
            Ok(a) => Ok(a),
            Err(_) => Err(Error::InvalidRequest("expected a whole answer".into())),
        }
    }

    fn open(&self, machine: Result<CallMachine>) -> Result<(Response, Head)> {
        match self.drive(machine?)? {
            Err(opened) => Ok(opened),
            Ok(_) => Err(Error::InvalidRequest("expected a streamed answer".into())),
        }
    }

    /// The one loop (from `seclai_core`), inside the call's span.
    fn drive(&self, machine: CallMachine) -> Result<Driven> {
        #[cfg(feature = "tracing")]
        let span = seclai_core::engine::span(&machine);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        seclai_core::__drive_call!(self, machine, [])
    }

    fn io_fetch_token(
        &self,
    ) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> {
        Err("this client has no async token provider".into())
    }

    fn io_await_refresh(&self, wait: seclai_core::sso::RefreshWait) -> Result<()> {
        wait.wait()
    }

    fn io_read_whole(
        &self,
        resp: Response,
        read: BodyRead,
    ) -> std::result::Result<Bytes, TransportError> {
        let body = resp.into_body();
        let hint = body.content_length();
        read_whole(&mut body.into_reader(), read, hint)
    }

    fn io_sleep(&self, d: std::time::Duration) {
        std::thread::sleep(d)
    }

    fn io_next_event(&self, events: &mut RunStream) -> Option<Result<seclai_core::RunEvent>> {
        events.next()
    }

    /// Send one attempt; ureq applies each of its bounds per phase.
    fn io_send(&self, a: Attempt) -> std::result::Result<Response, TransportError> {
        let build = |e: http::Error| {
            TransportError::new(
                TransportKind::Other,
                format!("cannot build the request: {e}"),
            )
            .with_maybe_sent(false)
        };
        let builder = http::Request::builder().method(a.method).uri(&a.url);
        let (t, h) = (a.timeouts, a.headers);
        match a.body {
            AttemptBody::None => self.run(with(builder.body(()).map_err(build)?, h), t),
            AttemptBody::Bytes(b) => self.run(with(builder.body(b.as_ref()).map_err(build)?, h), t),
            AttemptBody::Multipart(m) => {
                let body = ureq::SendBody::from_owned_reader(m);
                self.run(with(builder.body(body).map_err(build)?, h), t)
            }
        }
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        req: http::Request<S>,
        t: seclai_core::engine::AttemptTimeouts,
    ) -> std::result::Result<Response, TransportError> {
        let agent = &self.inner.http;
        let head = t.total.map_or(t.head, |total| total.min(t.head));
        let req = agent
            .configure_request(req)
            .http_status_as_error(false)
            // Never follow a redirect, whatever a supplied agent says: the
            // credential headers would go to another origin.
            .max_redirects(0)
            .timeout_connect(Some(t.connect))
            .timeout_recv_response(Some(head))
            .timeout_recv_body(t.total)
            .timeout_per_read(Some(t.idle))
            .timeout_per_write(Some(t.idle))
            .build();
        agent.run(req).map_err(classify)
    }

    /// Send the SSO token refresh and read its (bounded) answer.
    fn io_refresh(
        &self,
        r: RefreshRequest,
    ) -> std::result::Result<(http::StatusCode, http::HeaderMap, Bytes), TransportError> {
        let agent = &self.inner.http;
        let req = agent
            .configure_request(r.request)
            .http_status_as_error(false)
            .timeout_global(Some(r.timeout))
            .build();
        let mut resp = agent.run(req).map_err(classify)?;
        let (status, headers) = (resp.status(), std::mem::take(resp.headers_mut()));
        let read = BodyRead {
            limit: r.limit,
            timeout: r.timeout,
            idle: r.timeout,
        };
        let body = read_whole(&mut resp.into_body().into_reader(), read, None)?;
        Ok((status, headers, body))
    }
}

fn with<S>(mut r: http::Request<S>, headers: http::HeaderMap) -> http::Request<S> {
    *r.headers_mut() = headers;
    r
}

/// Read a whole body: at most `read.limit + 1` bytes (one more tells the
/// engine the limit was passed; nothing after it is read), checking the
/// read's overall timeout after every read so a trickle cannot stretch it
/// (a silent server hits the per-read timeout set on the request).
pub(crate) fn read_whole(
    reader: &mut dyn Read,
    read: BodyRead,
    hint: Option<u64>,
) -> std::result::Result<Bytes, TransportError> {
    /// Bytes read between two looks at the clock.
    const STRIDE: u64 = 64 * 1024;
    let started = std::time::Instant::now();
    let cap = read.limit.saturating_add(1) as u64;
    // Sized from Content-Length when known (capped, so a lying header
    // cannot make us reserve much); `read_to_end` fills spare capacity
    // without zeroing it first.
    let mut out = Vec::with_capacity(hint.unwrap_or(0).min(1 << 20).min(cap) as usize);
    loop {
        let want = STRIDE.min(cap - out.len() as u64);
        let n = reader
            .take(want)
            .read_to_end(&mut out)
            .map_err(|e| classify(ureq::Error::from(e)).with_maybe_sent(true))?;
        if (n as u64) < want || out.len() as u64 >= cap {
            return Ok(Bytes::from(out));
        }
        if started.elapsed() > read.timeout {
            return Err(TransportError::new(
                TransportKind::Timeout,
                "timed out reading the response body",
            ));
        }
    }
}
