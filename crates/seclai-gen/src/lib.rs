//! Generated code for the Seclai API: request and response [`types`], one
//! transport-free descriptor per operation in [`ops`], and the
//! [`for_each_operation!`] table the clients build their methods from.
//!
//! Everything under `generated/` is written by `cargo xtask generate`; this
//! file is the only hand-written one. There is no I/O here: a descriptor
//! knows its method, path, query and body, and a transport sends it.
//!
//! ```
//! use seclai_gen::{Operation, ops::GetAgent};
//! let op = GetAgent::new("a/b?c");
//! assert_eq!(op.path_and_query(), "/agents/a%2Fb%3Fc");
//! ```

#[rustfmt::skip]
#[allow(
    missing_docs,
    unused_imports,
    dead_code,
    clippy::all,
    clippy::pedantic,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]
mod generated;

pub use generated::support::{
    InputFact, InputLocation, Integer, Kind, Method, Operation, Paginated, Pagination, QueryValue,
};
pub use generated::{DEFAULT_VERSION, KNOWN_VERSIONS, LATEST, ops, support, types};
