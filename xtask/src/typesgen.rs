//! Types: progenitor (typify) is given only the components; every string
//! enum is replaced by our own open enum; the output is then adjusted with
//! `syn` (no prose, `#[serde(default)]` on every `Option`, tri-state nullable
//! fields in PATCH/PUT bodies, `schemars` behind a feature).

use crate::error::{GenError, Result};
use crate::facts;
use crate::model::{OpModel, rust_ident};
use crate::normalize::{FACTS, Obj, is_string_enum};
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
    let mut stripped = Value::Object(schemas.clone());
    strip_facts(&mut stripped);
    let components_only = json!({
        "openapi": "3.0.3",
        "info": {"title": "seclai", "version": "0"},
        "paths": {},
        "components": {"schemas": stripped},
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
    let has_default = existing_defaults(&file);
    // A component named like a prelude type would be shadowed by it.
    let shorten = !schemas.keys().any(|k| {
        matches!(
            k.as_str(),
            "String" | "Option" | "Vec" | "Box" | "BTreeMap" | "Default"
        )
    });
    let mut fix = Fixer {
        shorten,
        tri_state,
        info: type_info(doc, &schemas, ops),
        has_default,
        extra: Vec::new(),
    };
    fix.visit_file_mut(&mut file);
    let extra = fix.extra;

    let open = enums.iter().map(|(name, vals)| open_enum(name, vals));
    Ok(quote! {
        #file
        #(#extra)*
        #(#open)*
    })
}

/// Remove the facts the normalizer kept (`x-facts`) before the schemas go
/// to the type generator.
fn strip_facts(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove(FACTS);
            o.values_mut().for_each(strip_facts);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_facts),
        _ => {}
    }
}

/// What the docs and constructors of one generated type need.
#[derive(Default)]
struct TypeInfo {
    /// Type-level doc lines.
    doc: Vec<String>,
    /// JSON property name → one line of facts.
    fields: BTreeMap<String, String>,
    /// Reachable from a JSON request body: gets `new` and setters.
    request: bool,
}

/// Schema names referenced (transitively) from `v`.
fn refs_below(v: &Value, schemas: &Obj, seen: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "$ref"
                    && let Some(name) = child.as_str().and_then(|r| r.rsplit('/').next())
                {
                    if seen.insert(name.to_string())
                        && let Some(s) = schemas.get(name)
                    {
                        refs_below(s, schemas, seen);
                    }
                } else {
                    refs_below(child, schemas, seen);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| refs_below(c, schemas, seen)),
        _ => {}
    }
}

/// The Rust type names a model type string mentions (`types::X` → `X`).
fn named_types(ty: &str) -> impl Iterator<Item = &str> {
    ty.split("types::").skip(1).map(|rest| {
        rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or_default()
    })
}

fn type_info(doc: &Value, schemas: &Obj, ops: &[OpModel]) -> BTreeMap<String, TypeInfo> {
    let mut request = BTreeSet::new();
    let mut body_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for op in ops {
        for name in op.body.iter().flat_map(|b| named_types(b)) {
            body_of
                .entry(name)
                .or_default()
                .push(format!("`{}` (`{} {}`)", op.name, op.method, op.path));
            if request.insert(name.to_string())
                && let Some(s) = schemas.get(name)
            {
                refs_below(s, schemas, &mut request);
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, s) in schemas {
        let Some(o) = s.as_object() else { continue };
        let mut info = TypeInfo {
            request: request.contains(name),
            ..TypeInfo::default()
        };
        if let Some(props) = o.get("properties").and_then(Value::as_object) {
            info.doc.push(format!("{}.", facts::object_line(o)));
            let required: BTreeSet<&str> = o
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (prop, p) in props {
                let Some(p) = p.as_object() else { continue };
                let line = facts::line(doc, p, required.contains(prop.as_str()));
                info.fields.insert(prop.clone(), line);
            }
        } else {
            info.doc
                .push(format!("JSON value: {}.", facts::kind(doc, o)));
        }
        if let Some(users) = body_of.get(name.as_str()) {
            info.doc.push(String::new());
            info.doc
                .push(format!("Request body of {}.", users.join(", ")));
        }
        out.insert(name.clone(), info);
    }
    out
}

/// Types that already implement `Default` (derived or written by typify).
fn existing_defaults(file: &syn::File) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) if derives(&s.attrs, "Default") => {
                out.insert(s.ident.to_string());
            }
            syn::Item::Impl(i)
                if i.trait_.as_ref().is_some_and(|(p, _)| {
                    p.segments.last().is_some_and(|s| s.ident == "Default")
                }) =>
            {
                if let syn::Type::Path(p) = &*i.self_ty
                    && let Some(seg) = p.path.segments.last()
                {
                    out.insert(seg.ident.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|l| {
                l.iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == name))
            })
    })
}

/// How a field gets its value when the user does not give one.
enum Init {
    /// The user must give it (`new` takes it).
    Required,
    /// `Default::default()` (`None` for options).
    Plain,
    /// The spec default, through typify's `defaults::…` function.
    Spec(syn::Path),
}

fn field_init(attrs: &[syn::Attribute]) -> Init {
    let mut init = Init::Required;
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                init = match meta.value() {
                    Ok(v) => match v
                        .parse::<syn::LitStr>()
                        .and_then(|l| l.parse::<syn::Path>())
                    {
                        Ok(p) => Init::Spec(p),
                        Err(_) => Init::Plain,
                    },
                    Err(_) => Init::Plain,
                };
            } else if meta.input.peek(syn::Token![=]) {
                let _ = meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        });
    }
    init
}

/// The JSON name of a field: its `rename`, else its identifier.
fn json_name(field: &syn::Field) -> String {
    let mut name = field
        .ident
        .as_ref()
        .map(|i| i.to_string().trim_start_matches("r#").to_string())
        .unwrap_or_default();
    for a in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Ok(l) = meta.value()?.parse::<syn::LitStr>() {
                    name = l.value();
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _ = meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        });
    }
    name
}

/// `T` of `Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn is_i64(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.is_ident("i64"))
}

/// The parameter type and conversion for a value of type `ty`: integers take
/// any primitive integer, everything else `impl Into<T>`.
fn input_of(ty: &syn::Type) -> (TokenStream, TokenStream) {
    if is_i64(ty) {
        (
            quote!(impl Into<super::support::Integer>),
            quote!(.into().get()),
        )
    } else {
        (quote!(impl Into<#ty>), quote!(.into()))
    }
}

impl Fixer {
    /// Docs on the struct and its fields; `new`, `Default` and setters.
    fn finish_struct(&mut self, s: &mut syn::ItemStruct) {
        let name = s.ident.to_string();
        let mut info = self.info.remove(&name).unwrap_or_default();
        if name == "ConversionError" && info.doc.is_empty() {
            info.doc
                .push("A value that does not convert into a generated type.".into());
        }
        for line in info.doc.iter().rev() {
            s.attrs.insert(0, syn::parse_quote!(#[doc = #line]));
        }
        let syn::Fields::Named(named) = &mut s.fields else {
            return;
        };
        let ident = s.ident.clone();
        let mut params = Vec::new();
        let mut inits = Vec::new();
        let mut setters = Vec::new();
        for field in named.named.iter_mut() {
            let json = json_name(field);
            let facts = info
                .fields
                .get(&json)
                .cloned()
                .unwrap_or_else(|| "any JSON value".into());
            let fdoc = format!("`{json}`: {facts}.");
            field.attrs.insert(0, syn::parse_quote!(#[doc = #fdoc]));
            let Some(f) = field.ident.clone() else {
                continue;
            };
            let ty = field.ty.clone();
            match field_init(&field.attrs) {
                Init::Required => {
                    let (input, convert) = input_of(&ty);
                    params.push(quote!(#f: #input));
                    inits.push(quote!(#f: #f #convert,));
                    continue;
                }
                Init::Plain if option_inner(&ty).is_some() => inits.push(quote!(#f: None,)),
                Init::Plain => inits.push(quote!(#f: Default::default(),)),
                Init::Spec(path) => inits.push(quote!(#f: #path(),)),
            }
            if !info.request || f == "new" {
                continue;
            }
            let sdoc = format!("Set `{json}`: {facts}.");
            let (value_ty, wrap): (&syn::Type, fn(TokenStream) -> TokenStream) =
                match option_inner(&ty) {
                    Some(inner) => match option_inner(inner) {
                        Some(inner2) => (inner2, |v| quote!(Some(Some(#v)))),
                        None => (inner, |v| quote!(Some(#v))),
                    },
                    None => (&ty, |v| v),
                };
            let (input, convert) = input_of(value_ty);
            let value = wrap(quote!(value #convert));
            setters.push(quote! {
                #[doc = #sdoc]
                pub fn #f(mut self, value: #input) -> Self { self.#f = #value; self }
            });
        }
        let has_default = self.has_default.contains(&name);
        if params.is_empty() && !has_default {
            self.extra.push(quote! {
                impl ::std::default::Default for #ident {
                    fn default() -> Self { Self { #(#inits)* } }
                }
            });
        }
        let new = if info.request && !params.is_empty() {
            let ndoc =
                "Takes the required fields; every other field starts at its spec default or unset.";
            quote! {
                #[doc = #ndoc]
                pub fn new(#(#params),*) -> Self { Self { #(#inits)* } }
            }
        } else {
            quote!()
        };
        if !setters.is_empty() || !new.is_empty() {
            self.extra.push(quote! {
                impl #ident {
                    #new
                    #(#setters)*
                }
            });
        }
    }
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
    /// Write std paths short (no component shadows them).
    shorten: bool,
    tri_state: BTreeMap<String, BTreeSet<String>>,
    info: BTreeMap<String, TypeInfo>,
    has_default: BTreeSet<String>,
    /// Items added after the type generator's: constructors, setters, `Default`.
    extra: Vec<TokenStream>,
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

/// `::std::string::String` → `String` and the like: prelude types and
/// `BTreeMap` (imported by the types module) read short in code and docs.
fn shorten_std_path(p: &mut syn::Path) {
    let names: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
    let short = matches!(
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["std", "string", "String"]
            | ["std", "option", "Option"]
            | ["std", "vec", "Vec"]
            | ["std", "boxed", "Box"]
            | ["std", "collections", "BTreeMap"]
            | ["std", "default", "Default"]
    );
    if short && p.leading_colon.is_some() {
        let last = p.segments.last().cloned();
        p.segments.clear();
        p.leading_colon = None;
        p.segments.extend(last);
    }
}

impl VisitMut for Fixer {
    fn visit_path_mut(&mut self, p: &mut syn::Path) {
        syn::visit_mut::visit_path_mut(self, p);
        if self.shorten {
            shorten_std_path(p);
        }
    }

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
        self.finish_struct(s);
    }

    fn visit_item_enum_mut(&mut self, e: &mut syn::ItemEnum) {
        syn::visit_mut::visit_item_enum_mut(self, e);
        let mut info = self.info.remove(&e.ident.to_string()).unwrap_or_default();
        if info.doc.is_empty() {
            // An inline `anyOf` the type generator named itself.
            info.doc.push(
                "JSON value of one of several shapes; it decodes as the first variant that fits."
                    .into(),
            );
        }
        for line in info.doc.iter().rev() {
            e.attrs.insert(0, syn::parse_quote!(#[doc = #line]));
        }
        for v in e.variants.iter_mut() {
            if !v.attrs.iter().any(|a| a.path().is_ident("doc")) {
                let d = format!("The `{}` shape.", v.ident);
                v.attrs.insert(0, syn::parse_quote!(#[doc = #d]));
            }
        }
    }

    fn visit_item_mod_mut(&mut self, m: &mut syn::ItemMod) {
        syn::visit_mut::visit_item_mod_mut(self, m);
        let d = match m.ident.to_string().as_str() {
            "defaults" => "The spec's default values, for serde and the constructors.",
            "error" => "The error of conversions into generated types.",
            _ => return,
        };
        m.attrs.insert(0, syn::parse_quote!(#[doc = #d]));
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
    let doc = format!(
        "Open string enum: {} known values, and `Unknown` for any other string (an answer never fails on a new value).",
        values.len()
    );
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
