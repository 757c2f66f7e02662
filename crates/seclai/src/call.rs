//! Call builders: [`Call`] for typed operations, [`RawCall`] for `request()`.

use crate::Client;
use seclai_core::render::prepare;
use seclai_core::{CallOptions, Response, Result};
use seclai_gen::Operation;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

/// A boxed, `Send`, `'static` future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One operation call being set up: optional inputs and per-call options
/// chain on it; `.await` (or `.send().await`) sends it.
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<O: Operation> {
    pub(crate) client: Client,
    pub(crate) op: O,
    pub(crate) options: CallOptions,
}

impl<O: Operation> Call<O> {
    /// Wrap a descriptor (any `seclai::ops` value) for sending.
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

    /// Send and decode the answer.
    pub async fn send(self) -> Result<O::Output> {
        self.send_with_meta().await.map(Response::into_value)
    }

    /// Send, and return the answer with status, request id and rate limits.
    pub async fn send_with_meta(self) -> Result<Response<O::Output>> {
        let prepared = prepare(self.client.config(), &self.op, &self.options)?;
        self.client
            .execute(prepared, |x, status, headers, body| {
                x.finish(status, headers, body)
            })
            .await
    }
}

impl<O: Operation> IntoFuture for Call<O> {
    type Output = Result<O::Output>;
    type IntoFuture = BoxFuture<Result<O::Output>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// An untyped request built by [`Client::request`].
#[derive(Debug, Clone)]
#[must_use = "a call does nothing until it is awaited"]
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

    /// Send; JSON answers decode to a value, text to a JSON string, empty to `null`.
    pub async fn send(self) -> Result<serde_json::Value> {
        self.send_with_meta().await.map(Response::into_value)
    }

    /// Send and return the answer with its metadata.
    pub async fn send_with_meta(self) -> Result<Response<serde_json::Value>> {
        let prepared = self.raw.prepare(self.client.config())?;
        self.client
            .execute(prepared, |x, status, headers, body| {
                x.finish_raw(status, headers, body)
            })
            .await
    }
}

impl IntoFuture for RawCall {
    type Output = Result<serde_json::Value>;
    type IntoFuture = BoxFuture<Result<serde_json::Value>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
