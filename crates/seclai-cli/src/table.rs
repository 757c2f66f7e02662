//! One command per operation of the generated table: what each command is
//! (name, method, path, inputs, kind) and how it runs. Nothing here is
//! written per operation; `seclai_gen::for_each_operation!` expands
//! `cli_table!` once with every operation.

use crate::error::CliError;
use crate::input;
use crate::sdk::{self, Ctx};
use clap::ArgMatches;
use seclai_gen::{Operation, Pagination, ops};

/// What sending a command takes: its kind decides the helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON request and answer.
    Json,
    /// A file upload.
    Multipart,
    /// A streamed run.
    EventStream,
    /// A file download.
    Binary,
}

/// One command made from one entry of the operation table.
pub struct OpSpec {
    /// The SDK method name (`get_agent`).
    pub name: &'static str,
    /// The HTTP method.
    pub method: http::Method,
    /// The path template (`/agents/{agent_id}`).
    pub path: &'static str,
    /// How it pages.
    pub pagination: Pagination,
    /// What kind of call it is.
    pub kind: Kind,
    /// Another name of an operation listed under its own name too.
    pub alias: bool,
    /// Path parameters, in path order.
    pub required: &'static [&'static str],
    /// The request body's type, if it takes a JSON body.
    pub body: Option<&'static str>,
    /// Optional (query) inputs and their Rust types.
    pub optional: &'static [(&'static str, &'static str)],
    /// What the spec says of each input (limits, defaults, allowed values).
    pub facts: &'static [seclai_gen::InputFact],
    /// Parse the matches, send, print.
    pub run: fn(&Ctx, &ArgMatches) -> Result<(), CliError>,
}

impl OpSpec {
    /// The command name (`get-agent`).
    pub fn command(&self) -> String {
        self.name.replace('_', "-")
    }
}

/// A Rust type as written in the table, shortened for help (`$crate::types::X` → `X`).
pub fn short_type(ty: &str) -> String {
    let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    ty.rsplit("::").next().unwrap_or(&ty).to_string()
}

/// The `--flag` of an optional input; one whose name a global option
/// already uses gets a `query-` prefix (`list-sources --query-account-id`).
pub fn flag_name(input: &str) -> String {
    let flag = input::bare(input).replace('_', "-");
    if crate::app::GLOBAL_LONGS.contains(&flag.as_str())
        || crate::app::KIND_LONGS.contains(&flag.as_str())
    {
        format!("query-{flag}")
    } else {
        flag
    }
}

/// Where an input goes.
#[derive(Debug, Clone, Copy)]
pub enum Location {
    /// A path segment.
    Path,
    /// A query parameter.
    Query,
}

/// The help line of one input. The only place input help is written, so
/// richer per-input facts (defaults, limits, allowed values) plug in here.
pub fn input_help(op: &OpSpec, input: &str, ty: &str, location: Location) -> String {
    let name = input::bare(input);
    let fact = op
        .facts
        .iter()
        .find(|f| f.name == name || f.name.replace('-', "_") == name);
    if let Some(f) = fact.filter(|f| !f.facts.is_empty()) {
        return format!("{name}: {}", f.facts);
    }
    let place = match location {
        Location::Path => "path",
        Location::Query => "query",
    };
    format!("{name} ({place}, {})", short_type(ty))
}

/// The resource group of a command in `seclai --help`.
pub fn group(spec: &OpSpec) -> &'static str {
    let mut segs = spec.path.trim_start_matches('/').split('/');
    let mut first = segs.next().unwrap_or("");
    if first == "v2" {
        first = segs.next().unwrap_or("");
    }
    match first {
        "agents" | "agent-runs"
            if spec.path.contains("/runs")
                || first == "agent-runs"
                || spec.name.contains("run") =>
        {
            "Agent runs"
        }
        "agents" => "Agents",
        "ai-assistant" => "AI assistant",
        "alerts" => "Alerts",
        "contents" => "Contents",
        "docs-search" | "search" => "Search",
        "email-domains" => "Email domains",
        "governance" => "Governance",
        "knowledge_bases" => "Knowledge bases",
        "memory_banks" => "Memory banks",
        "models" => "Models",
        "solutions" => "Solutions",
        "sources" => "Sources",
        "me" | "version" => "Account",
        _ => "Other",
    }
}

/// Build the table; see the module docs.
macro_rules! cli_table {
    ($( ($name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?], [$($opt:ident : $opt_ty:ty),*], $kind:ident, $flag:ident, $role:ident); )*) => {
        /// Every command of the operation table, in table order.
        pub fn all() -> Vec<OpSpec> {
            vec![$(
                OpSpec {
                    name: stringify!($name),
                    method: <ops::$op as Operation>::METHOD,
                    path: <ops::$op as Operation>::PATH,
                    pagination: <ops::$op as Operation>::PAGINATION,
                    kind: cli_table!(@kind $kind),
                    alias: cli_table!(@alias $role),
                    required: &[$(stringify!($req)),*],
                    body: cli_table!(@body $($body)?),
                    optional: &[$((stringify!($opt), stringify!($opt_ty))),*],
                    facts: <ops::$op as Operation>::INPUTS,
                    run: |ctx, m| {
                        #[allow(unused_mut)]
                        let mut op = ops::$op::new(
                            $(input::required(m, stringify!($req))?,)*
                            $(input::body::<$body>(m)?)?
                        );
                        $(
                            if let Some(v) = input::optional::<$opt_ty>(m, stringify!($opt))? {
                                op = op.$opt(v);
                            }
                        )*
                        cli_table!(@send $kind, ctx, m, op)
                    },
                },
            )*]
        }
    };
    (@kind json) => { Kind::Json };
    (@kind multipart) => { Kind::Multipart };
    (@kind event_stream) => { Kind::EventStream };
    (@kind binary) => { Kind::Binary };
    (@alias alias) => { true };
    (@alias primary) => { false };
    (@body) => { None };
    (@body $body:ty) => { Some(stringify!($body)) };
    (@send json, $ctx:ident, $m:ident, $op:ident) => {
        if $m.try_get_one::<bool>("all").ok().flatten().copied().unwrap_or(false) {
            #[allow(unused_imports)]
            use sdk::{AllPages, NotPaged};
            (&sdk::Pages::new($op)).print_all($ctx)
        } else {
            sdk::json($ctx, $m, $op)
        }
    };
    (@send multipart, $ctx:ident, $m:ident, $op:ident) => { sdk::upload($ctx, $m, $op) };
    (@send event_stream, $ctx:ident, $m:ident, $op:ident) => { sdk::stream($ctx, $m, $op) };
    (@send binary, $ctx:ident, $m:ident, $op:ident) => { sdk::download($ctx, $m, $op) };
}

seclai_gen::for_each_operation!(cli_table);
