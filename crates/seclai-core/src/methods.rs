//! The one definition of every operation method, expanded by each client
//! from the generated `for_each_operation!` table.
//!
//! A client crate writes:
//!
//! ```text
//! macro_rules! methods { ($($t:tt)*) => { seclai_core::operation_methods!(Client, Call; $($t)*); } }
//! seclai_core::seclai_gen::for_each_operation!(methods);
//! ```
//!
//! and gets `client.get_agent(id)`, `client.list_agents().limit(50)`, … on
//! its own `Client` and `Call<O>` types (`Call::new(client, op)` and a
//! public-in-crate `op` field are all the macro needs). Operations flagged
//! `helper` are skipped: a hand-written helper owns the name.

/// See the [module documentation](crate::methods).
#[macro_export]
macro_rules! operation_methods {
    ($client:ident, $call:ident; $(
        ($name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?], [$($opt:ident : $opt_ty:ty),*], $kind:ident, $flag:ident, $role:ident);
    )*) => {
        $(
            $crate::operation_methods!(@method $client, $call, $flag, $name, $op, [$($req : $req_ty),*], [$($body)?]);
            $crate::operation_methods!(@setters $call, $flag, $role, $op, [$($opt : $opt_ty),*]);
        )*
    };
    (@method $client:ident, $call:ident, helper, $($rest:tt)*) => {};
    (@method $client:ident, $call:ident, plain, $name:ident, $op:ident, [$($req:ident : $req_ty:ty),*], [$($body:ty)?]) => {
        impl $client {
            #[doc = concat!("Sends [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), "): see it for the endpoint, inputs and answer.")]
            pub fn $name(&self, $($req: impl Into<$req_ty>,)* $(body: &$body)?) -> $call<$crate::seclai_gen::ops::$op> {
                $call::new(
                    self.clone(),
                    $crate::seclai_gen::ops::$op::new($($req,)* $(<$body as ::core::clone::Clone>::clone(body))?),
                )
            }
        }
    };
    (@setters $call:ident, helper, $role:ident, $($rest:tt)*) => {};
    (@setters $call:ident, plain, alias, $($rest:tt)*) => {};
    (@setters $call:ident, plain, primary, $op:ident, [$($opt:ident : $opt_ty:ty),*]) => {
        impl $call<$crate::seclai_gen::ops::$op> {
            $(
                #[doc = concat!(
                    "Set the optional `", stringify!($opt), "` input; its default, allowed values and limits ",
                    "are in the docs of [`ops::", stringify!($op), "`](crate::ops::", stringify!($op), ")."
                )]
                pub fn $opt(mut self, value: impl Into<$opt_ty>) -> Self {
                    self.op = self.op.$opt(value);
                    self
                }
            )*
        }
    };
}
