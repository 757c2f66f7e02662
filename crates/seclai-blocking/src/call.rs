//! Call builders: [`Call`] for typed operations, [`RawCall`] for `request()`.

use crate::Client;
use seclai_core::render::prepare;
use seclai_core::{CallOptions, Response, Result};
use seclai_gen::Operation;

/// One operation call being set up: optional inputs and per-call options
/// chain on it; [`send`](Self::send) sends it and blocks until the answer is
/// decoded.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is sent"]
pub struct Call<O: Operation> {
    pub(crate) client: Client,
    pub(crate) op: O,
    pub(crate) options: CallOptions,
}

impl<O: Operation> Call<O> {
    /// Wrap a descriptor (any `seclai_blocking::ops` value) for sending.
    pub fn new(client: Client, op: O) -> Self {
        Call {
            client,
            op,
            options: CallOptions::default(),
        }
    }

    seclai_core::call_option_setters!();

    /// The descriptor as configured so far.
    pub fn descriptor(&self) -> &O {
        &self.op
    }

    /// Send and decode the answer, blocking the current thread.
    pub fn send(self) -> Result<O::Output> {
        self.send_with_meta().map(Response::into_value)
    }

    /// Send, and return the answer with status, request id and rate limits.
    pub fn send_with_meta(self) -> Result<Response<O::Output>> {
        let prepared = prepare(self.client.config(), &self.op, &self.options)?;
        self.client.execute(prepared, |x, status, headers, body| {
            x.finish(status, headers, body)
        })
    }
}

/// An untyped request built by [`Client::request`].
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is sent"]
pub struct RawCall {
    client: Client,
    raw: seclai_core::raw::RawRequest,
}

impl RawCall {
    pub(crate) fn new(client: Client, method: http::Method, path: String) -> Self {
        RawCall {
            client,
            raw: seclai_core::raw::RawRequest::new(method, path),
        }
    }

    seclai_core::raw_request_setters!();

    /// Send, blocking; JSON answers decode to a value, text to a JSON string,
    /// an empty body to `null`.
    pub fn send(self) -> Result<serde_json::Value> {
        self.send_with_meta().map(Response::into_value)
    }

    /// Send and return the answer with its metadata.
    pub fn send_with_meta(self) -> Result<Response<serde_json::Value>> {
        let prepared = self.raw.prepare(self.client.config())?;
        self.client.execute(prepared, |x, status, headers, body| {
            x.finish_raw(status, headers, body)
        })
    }
}
