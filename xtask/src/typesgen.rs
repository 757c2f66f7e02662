//! Types: progenitor (typify) is given only the components; every string
//! enum is replaced by our own open enum; the output is then adjusted with
//! `syn` (no prose, `#[serde(default)]` on every `Option`, tri-state nullable
//! fields in PATCH/PUT bodies, `schemars` behind a feature).

use crate::error::{GenError, Result};
use crate::model::{OpModel, rust_ident};
use crate::normalize::{Obj, is_string_enum};
use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use progenitor_impl::{GenerationSettings, Generator, InterfaceStyle, TypeImpl};
use quote::{format_ident, quote};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use syn::visit_mut::VisitMut;

/// The `types` module body.
pub fn generate(doc: &Value, ops: &[OpModel]) -> Result<TokenStream> {
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let enums: BTreeMap<String, Vec<String>> = schemas
        .iter()
        .filter_map(|(name, s)| {
            let o = s.as_object()?;
            is_string_enum(o).then(|| {
                let vals = o["enum"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                (name.clone(), vals)
            })
        })
        .collect();

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_map_type("::std::collections::BTreeMap");
    for name in enums.keys() {
        settings.with_replacement(
            name,
            format!("crate::types::{name}"),
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        );
    }
    let components_only = json!({
        "openapi": "3.0.3",
        "info": {"title": "seclai", "version": "0"},
        "paths": {},
        "components": {"schemas": Value::Object(schemas.clone())},
    });
    let spec: openapiv3::OpenAPI = serde_json::from_value(components_only).map_err(|e| {
        GenError::at(
            "/components/schemas",
            format!("the normalized components are not valid OpenAPI 3.0: {e}"),
        )
    })?;
    let mut generator = Generator::new(&settings);
    let typify = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        generator
            .generate_tokens(&spec)
            .map(|_| generator.get_type_space().to_stream())
    }));
    let tokens = match typify {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            return Err(GenError::at(
                "/components/schemas",
                format!("progenitor rejected the types: {e}"),
            ));
        }
        Err(_) => {
            return Err(GenError::at(
                "/components/schemas",
                "progenitor panicked on the types; add a normalizer rule for the construct (run with RUST_BACKTRACE=1)",
            ));
        }
    };
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| {
        GenError::at(
            "/components/schemas",
            format!("generated types do not parse: {e}"),
        )
    })?;

    let tri_state = tri_state_fields(&schemas, ops);
    let mut fix = Fixer { tri_state };
    fix.visit_file_mut(&mut file);

    let open = enums.iter().map(|(name, vals)| open_enum(name, vals));
    Ok(quote! {
        #file
        #(#open)*
    })
}

/// PATCH/PUT body types and their optional, nullable top-level fields.
fn tri_state_fields(schemas: &Obj, ops: &[OpModel]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for op in ops
        .iter()
        .filter(|o| o.method == "PATCH" || o.method == "PUT")
    {
        let Some(name) = op.body.as_deref().and_then(|b| b.strip_prefix("types::")) else {
            continue;
        };
        let Some(s) = schemas.get(name) else { continue };
        let required: BTreeSet<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fields: BTreeSet<String> = s
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter(|(k, p)| {
                        !required.contains(k.as_str())
                            && p.get("nullable") == Some(&Value::Bool(true))
                            && p.get("default").is_none_or(Value::is_null)
                    })
                    .map(|(k, _)| rust_ident(k).trim_start_matches("r#").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if !fields.is_empty() {
            out.insert(name.to_string(), fields);
        }
    }
    out
}

struct Fixer {
    tri_state: BTreeMap<String, BTreeSet<String>>,
}

fn is_option(ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    p.path.segments.last().is_some_and(|s| s.ident == "Option")
}

fn has_serde_default(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("serde")
            && a.meta.require_list().is_ok_and(|l| {
                l.tokens
                    .to_string()
                    .split(',')
                    .any(|t| t.trim().starts_with("default"))
            })
    })
}

impl VisitMut for Fixer {
    fn visit_attributes_mut(&mut self, attrs: &mut Vec<syn::Attribute>) {
        attrs.retain(|a| !a.path().is_ident("doc"));
        let mut had_schemars = false;
        for a in attrs.iter_mut() {
            if !a.path().is_ident("derive") {
                continue;
            }
            let Ok(list) = a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            let (schemars, rest): (Vec<_>, Vec<_>) = list
                .into_iter()
                .partition(|p| p.segments.last().is_some_and(|s| s.ident == "JsonSchema"));
            if !schemars.is_empty() {
                had_schemars = true;
                *a = syn::parse_quote!(#[derive(#(#rest),*)]);
            }
        }
        if had_schemars {
            attrs.push(syn::parse_quote!(#[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]));
        }
    }

    fn visit_item_struct_mut(&mut self, s: &mut syn::ItemStruct) {
        let tri = self
            .tri_state
            .get(&s.ident.to_string())
            .cloned()
            .unwrap_or_default();
        for field in s.fields.iter_mut() {
            let ident = field
                .ident
                .as_ref()
                .map(|i| i.to_string().trim_start_matches("r#").to_string())
                .unwrap_or_default();
            if tri.contains(&ident) && is_option(&field.ty) {
                let inner = field.ty.clone();
                field.ty = syn::parse_quote!(::std::option::Option<#inner>);
                field
                    .attrs
                    .retain(|a| !a.path().is_ident("serde") || has_rename(a));
                field.attrs.push(syn::parse_quote!(
                    #[serde(default, skip_serializing_if = "::std::option::Option::is_none", deserialize_with = "super::support::tri_state")]
                ));
            } else if is_option(&field.ty) && !has_serde_default(&field.attrs) {
                field.attrs.push(syn::parse_quote!(#[serde(default)]));
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, s);
    }
}

fn has_rename(a: &syn::Attribute) -> bool {
    a.meta
        .require_list()
        .is_ok_and(|l| l.tokens.to_string().trim_start().starts_with("rename"))
}

/// Variant identifier for an enum value.
pub fn variant_ident(value: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base = value.to_upper_camel_case();
    if base.is_empty() {
        base = "Empty".into();
    }
    if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
        base = format!("V{base}");
    }
    if base == "Unknown" || base == "Self" {
        base = format!("{base}Value");
    }
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

/// An open string enum: the known values plus `Unknown(String)`.
pub fn open_enum(name: &str, values: &[String]) -> TokenStream {
    let ident = format_ident!("{}", name);
    let mut taken = BTreeSet::new();
    let variants: Vec<_> = values
        .iter()
        .map(|v| format_ident!("{}", variant_ident(v, &mut taken)))
        .collect();
    let doc = "Open enum: the values this spec lists, plus `Unknown` for any other string.";
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "schemars", derive(::schemars::JsonSchema))]
        pub enum #ident {
            #(
                #[doc = concat!("`", #values, "`")]
                #[serde(rename = #values)]
                #variants,
            )*
            /// A value this version of the SDK does not know.
            #[serde(untagged)]
            Unknown(String),
        }
        impl #ident {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#variants => #values, )*
                    Self::Unknown(s) => s.as_str(),
                }
            }
        }
        impl ::std::convert::AsRef<str> for #ident {
            fn as_ref(&self) -> &str { self.as_str() }
        }
        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(match s {
                    #( #values => Self::#variants, )*
                    other => Self::Unknown(other.to_string()),
                })
            }
        }
        impl ::std::convert::From<&str> for #ident {
            fn from(s: &str) -> Self { match s.parse() { Ok(v) => v, Err(e) => match e {} } }
        }
        impl super::support::QueryValue for #ident {
            fn write_query(&self, name: &str, q: &mut super::support::Query) { q.pair(name, self.as_str()); }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_are_valid_and_unique() {
        let mut t = BTreeSet::new();
        assert_eq!(variant_ident("in_progress", &mut t), "InProgress");
        assert_eq!(variant_ident("2026-07-01", &mut t), "V20260701");
        assert_eq!(variant_ident("", &mut t), "Empty");
        assert_eq!(variant_ident("unknown", &mut t), "UnknownValue");
        assert_eq!(variant_ident("in-progress", &mut t), "InProgress2");
    }
}
