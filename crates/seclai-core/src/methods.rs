//! The one definition of every operation method, expanded from the
//! generated `for_each_operation!` table.
//!
//! A client crate writes:
//!
//! ```text
//! macro_rules! methods { ($($t:tt)*) => { seclai_core::operation_methods!(Client; $($t)*); } }
//! seclai_core::seclai_gen::for_each_operation!(methods);
//! ```
//!
//! and gets `client.get_agent(id)`, `client.run_streaming_agent(id, &body)`,
//! `client.upload_file_to_source(id, upload)`, … on its own `Client`, each
//! returning a [`Call`](crate::call::Call) of the operation's kind: JSON
//! calls, event streams, downloads and uploads alike come from the table.
//! The setters of optional inputs are defined once, on `Call`, by
//! [`operation_setters!`](crate::operation_setters) in this crate.
//! Operations of kind JSON flagged `helper` are skipped: a hand-written
//! helper owns the name.

/// See the [module documentation](crate::methods).
#[macro_export]
macro_rules! operation_methods {
    ($client:ident; $(
        ($name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?], [$($opt:ident : $opt_ty:ty),*], $kind:ident, $flag:ident, $role:ident);
    )*) => {
        $(
            $crate::operation_methods!(@method $client, $kind, $flag, $name, $op, [$($req : $req_ty),*], [$($body)?]);
        )*
    };
    (@method $client:ident, json, helper, $($rest:tt)*) => {};
    (@method $client:ident, json, plain, $name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?]) => {
        impl $client {
            #[doc = concat!("Calls [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), "): see it for the endpoint, inputs and answer.")]
            pub fn $name(&self, $($req: impl Into<$req_ty>,)* $(body: &$body)?) -> $crate::call::Call<$client, $crate::seclai_gen::ops::$op> {
                $crate::call::Call::new(
                    self.clone(),
                    $crate::seclai_gen::ops::$op::new($($req,)* $(<$body as ::core::clone::Clone>::clone(body))?),
                )
            }
        }
    };
    (@method $client:ident, event_stream, $flag:ident, $name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?]) => {
        impl $client {
            #[doc = concat!("Opens the event stream of [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), "): a `", stringify!($name), "` call whose answer is read event by event.")]
            pub fn $name(&self, $($req: impl Into<$req_ty>,)* $(body: &$body)?) -> $crate::call::Call<$client, $crate::seclai_gen::ops::$op, $crate::call::Events> {
                $crate::call::Call::new(
                    self.clone(),
                    $crate::seclai_gen::ops::$op::new($($req,)* $(<$body as ::core::clone::Clone>::clone(body))?),
                )
                .into_events()
            }
        }
    };
    (@method $client:ident, binary, $flag:ident, $name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?]) => {
        impl $client {
            #[doc = concat!("Downloads the answer of [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), "), streamed.")]
            pub fn $name(&self, $($req: impl Into<$req_ty>,)* $(body: &$body)?) -> $crate::call::Call<$client, $crate::seclai_gen::ops::$op, $crate::call::Download> {
                $crate::call::Call::new(
                    self.clone(),
                    $crate::seclai_gen::ops::$op::new($($req,)* $(<$body as ::core::clone::Clone>::clone(body))?),
                )
                .into_download()
            }
        }
    };
    (@method $client:ident, multipart, $flag:ident, $name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?]) => {
        impl $client {
            #[doc = concat!("Uploads a file with [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), "), streamed from its source.")]
            pub fn $name(&self, $($req: impl Into<$req_ty>,)* upload: $crate::multipart::Upload) -> $crate::call::Call<$client, $crate::seclai_gen::ops::$op, $crate::call::Multipart> {
                $crate::call::Call::new(
                    self.clone(),
                    $crate::seclai_gen::ops::$op::new($($req,)*),
                )
                .with_upload(upload)
            }
        }
    };
}

/// The setters of every operation's optional inputs on
/// [`Call`](crate::call::Call), expanded once in this crate.
#[macro_export]
#[doc(hidden)]
macro_rules! operation_setters {
    ($(
        ($name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?], [$($opt:ident : $opt_ty:ty),*], $kind:ident, $flag:ident, $role:ident);
    )*) => {
        $(
            $crate::operation_setters!(@setters $role, $op, [$($opt : $opt_ty),*]);
        )*
    };
    (@setters alias, $($rest:tt)*) => {};
    (@setters primary, $op:ident, []) => {};
    (@setters primary, $op:ident, [$($opt:ident : $opt_ty:ty),+]) => {
        impl<C, K> $crate::call::Call<C, $crate::seclai_gen::ops::$op, K> {
            $(
                #[doc = concat!(
                    "Set the optional `", stringify!($opt), "` input; its default, allowed values and limits ",
                    "are in the docs of [`ops::", stringify!($op), "`](crate::seclai_gen::ops::", stringify!($op), ")."
                )]
                pub fn $opt(self, value: impl Into<$opt_ty>) -> Self {
                    self.map_target(|op| op.$opt(value))
                }
            )*
        }
    };
}

seclai_gen::for_each_operation!(operation_setters);
