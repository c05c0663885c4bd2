//! `#[derive(Decode, Encode)]` for till-core's JSON layer (`till_core::json`).
//!
//! The generated code is small by design: a type's decoder is one call to
//! the non-generic `Reader::object` with a table of its JSON names and a
//! closure that matches a field's index to its reader; its encoder writes
//! each key and value in turn. No visitor, no field enum, no per-type
//! state machine: the JSON grammar lives once, in `json::Reader`.
//!
//! Attributes (`#[json(...)]`, the subset of serde's that till uses, with
//! serde's meaning so the wire format is unchanged):
//!
//! - on a type: `rename_all = "camelCase"`;
//! - on a field: `rename = "name"`, `default`, `default = "path"`,
//!   `skip_serializing_if = "path"`, `skip_serializing`,
//!   `decode_with = "path"` (a `fn(&mut Reader, &mut T) -> Result<(), DecodeError>`
//!   that reads over the field, like `Decode::decode_in`).
//!
//! Enums are externally tagged as serde does it: a unit variant is its
//! name as a string, a newtype or struct variant `{"Name": value}`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr};

#[derive(Default)]
struct FieldAttrs {
    rename: Option<String>,
    default: Option<Option<syn::Path>>,
    skip_if: Option<syn::Path>,
    skip: bool,
    decode_with: Option<syn::Path>,
}

fn field_attrs(attrs: &[syn::Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("json")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("default") {
                if meta.input.peek(syn::Token![=]) {
                    let p: LitStr = meta.value()?.parse()?;
                    out.default = Some(Some(p.parse()?));
                } else {
                    out.default = Some(None);
                }
            } else if meta.path.is_ident("skip_serializing_if") {
                let p: LitStr = meta.value()?.parse()?;
                out.skip_if = Some(p.parse()?);
            } else if meta.path.is_ident("skip_serializing") {
                out.skip = true;
            } else if meta.path.is_ident("decode_with") {
                let p: LitStr = meta.value()?.parse()?;
                out.decode_with = Some(p.parse()?);
            } else {
                return Err(meta.error("unknown json attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn rename_all(attrs: &[syn::Attribute]) -> syn::Result<Option<String>> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("json")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let v = meta.value()?.parse::<LitStr>()?.value();
                if v != "camelCase" {
                    return Err(meta.error("only rename_all = \"camelCase\" is supported"));
                }
                out = Some(v);
                Ok(())
            } else {
                Err(meta.error("unknown json attribute on a type"))
            }
        })?;
    }
    Ok(out)
}

/// `snake_case` field name to `camelCase`, as serde does it.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `PascalCase` variant name to `camelCase`.
fn camel_variant(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Field {
    member: Tokens,
    binding: syn::Ident,
    ty: syn::Type,
    json: String,
    attrs: FieldAttrs,
}

fn fields_of(fields: &Fields, camel_case: bool) -> syn::Result<Vec<Field>> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let attrs = field_attrs(&f.attrs)?;
        let (member, name) = match &f.ident {
            Some(id) => {
                let raw = id.to_string();
                let raw = raw.trim_start_matches("r#").to_string();
                (quote!(#id), raw)
            }
            None => {
                let idx = syn::Index::from(i);
                (quote!(#idx), i.to_string())
            }
        };
        let json = match &attrs.rename {
            Some(r) => r.clone(),
            None if camel_case => camel(&name),
            None => name,
        };
        out.push(Field {
            member,
            binding: format_ident!("__f{}", i),
            ty: f.ty.clone(),
            json,
            attrs,
        });
    }
    Ok(out)
}

/// The body of `decode_in` for a named struct or struct variant: every
/// member is read into its field (`place` names it: a field of `__place`,
/// or a variant's binding), with no copy of the value, then each field that
/// was absent gets its default, or the type's `absent()` (`None` for an
/// `Option`, an error for a required field).
fn decode_in_object(fields: &[Field], place: impl Fn(&Field) -> Tokens) -> syn::Result<Tokens> {
    if fields.len() > 64 {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            "Decode: at most 64 fields (the reader's duplicate mask)",
        ));
    }
    let names: Vec<&str> = fields.iter().map(|f| f.json.as_str()).collect();
    let arms = fields.iter().enumerate().map(|(i, f)| {
        let p = place(f);
        match &f.attrs.decode_with {
            Some(path) => quote!(#i => #path(__r, &mut #p)?,),
            None => quote!(#i => ::till_core::json::Decode::decode_in(__r, &mut #p)?,),
        }
    });
    let missing = fields.iter().enumerate().map(|(i, f)| {
        let (p, ty) = (place(f), &f.ty);
        let bit = 1u64 << i;
        let value = match &f.attrs.default {
            Some(None) => quote!(::core::default::Default::default()),
            Some(Some(path)) => quote!(#path()),
            None if f.attrs.decode_with.is_some() => {
                return quote! {
                    if __seen & #bit == 0 {
                        return ::core::result::Result::Err(::till_core::json::DecodeError::Invalid);
                    }
                }
            }
            None => quote!(<#ty as ::till_core::json::Decode>::absent()?),
        };
        quote!(if __seen & #bit == 0 { #p = #value; })
    });
    Ok(quote! {
        const NAMES: &[&str] = &[#(#names),*];
        let __seen = __r.object(NAMES, &mut |__r, __i| {
            match __i {
                #(#arms)*
                _ => __r.skip()?,
            }
            ::core::result::Result::Ok(())
        })?;
        #(#missing)*
        ::core::result::Result::Ok(())
    })
}

/// A placeholder of the fields: each field type's placeholder.
fn placeholder_fields(fields: &[Field], named: bool) -> Tokens {
    let values = fields.iter().map(|f| {
        let (m, ty) = (&f.member, &f.ty);
        let v = quote!(<#ty as ::till_core::json::Decode>::placeholder());
        if named {
            quote!(#m: #v)
        } else {
            v
        }
    });
    if named {
        quote!({ #(#values),* })
    } else {
        quote!(( #(#values),* ))
    }
}

/// The name for `Writer::member`, which writes it between quotes as it
/// is. A name that would need an escape is a compile error (none of
/// till's does).
fn member(json: &str) -> Tokens {
    assert!(
        !json.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
        "json name {json:?} needs an escape"
    );
    quote!(#json)
}

/// Statements that write `fields` (read through `access`) as one object.
fn encode_object(fields: &[Field], access: impl Fn(&Field) -> Tokens) -> Tokens {
    let writes = fields.iter().filter(|f| !f.attrs.skip).map(|f| {
        let value = access(f);
        let key = member(&f.json);
        let write = quote! {
            __w.member(#key)?;
            ::till_core::json::Encode::encode(#value, __w)?;
        };
        match &f.attrs.skip_if {
            Some(path) => quote!(if !#path(#value) { #write }),
            None => write,
        }
    });
    quote! {
        __w.begin_object()?;
        #(#writes)*
        __w.end_object()
    }
}

#[proc_macro_derive(Decode, attributes(json))]
pub fn derive_decode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match decode_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[proc_macro_derive(Encode, attributes(json))]
pub fn derive_encode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match encode_impl(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The type's generics with `bound` added to every type parameter.
fn bounded(input: &DeriveInput, bound: Tokens) -> syn::Generics {
    let mut generics = input.generics.clone();
    for p in generics.type_params_mut() {
        p.bounds.push(syn::parse_quote!(#bound));
    }
    generics
}

fn decode_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let generics = bounded(input, quote!(::till_core::json::Decode));
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let camel_case = rename_all(&input.attrs)?.is_some();
    if let Data::Struct(s) = &input.data {
        if let Fields::Named(_) = &s.fields {
            // Read into the caller's value: one copy of a large answer in
            // the stack, not one per level it passes.
            let fields = fields_of(&s.fields, camel_case)?;
            let body = decode_in_object(&fields, |f| {
                let m = &f.member;
                quote!(__place.#m)
            })?;
            let placeholder = placeholder_fields(&fields, true);
            return Ok(decode_in_place_impl(
                input,
                &body,
                &quote!(Self #placeholder),
            ));
        }
    }
    let body = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => unreachable!("handled above"),
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                quote!(::core::result::Result::Ok(Self(
                    ::till_core::json::Decode::decode(__r)?
                )))
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    name,
                    "Decode: named structs and newtypes only",
                ))
            }
        },
        Data::Enum(e) => {
            let mut names = Vec::new();
            let mut unit_arms = Vec::new();
            let mut data_arms = Vec::new();
            for (i, v) in e.variants.iter().enumerate() {
                let vname = &v.ident;
                let json = if camel_case {
                    camel_variant(&vname.to_string())
                } else {
                    vname.to_string()
                };
                names.push(json);
                match &v.fields {
                    Fields::Unit => unit_arms.push(quote!(#i => Self::#vname,)),
                    // A data variant is read in place: its placeholder is
                    // written over the caller's value, then each member
                    // into its field (no copy of a large variant per level).
                    Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                        let ty = u.unnamed.first().map(|f| &f.ty);
                        data_arms.push(quote!(#i => {
                            *__place = Self::#vname(<#ty as ::till_core::json::Decode>::placeholder());
                            if let Self::#vname(__v) = __place {
                                ::till_core::json::Decode::decode_in(__r, __v)?;
                            }
                        }));
                    }
                    Fields::Named(_) => {
                        let fields = fields_of(&v.fields, false)?;
                        let body = decode_in_object(&fields, |f| {
                            let b = &f.binding;
                            quote!((*#b))
                        })?;
                        let placeholder = placeholder_fields(&fields, true);
                        let bind = fields.iter().map(|f| {
                            let (m, b) = (&f.member, &f.binding);
                            quote!(#m: #b)
                        });
                        data_arms.push(quote!(#i => {
                            *__place = Self::#vname #placeholder;
                            if let Self::#vname { #(#bind),* } = __place {
                                (|| -> ::core::result::Result<(), ::till_core::json::DecodeError> { #body })()?;
                            }
                        }));
                    }
                    Fields::Unnamed(_) => {
                        return Err(syn::Error::new_spanned(
                            v,
                            "Decode: tuple variants of one field only",
                        ))
                    }
                }
            }
            let units = (!unit_arms.is_empty()).then(|| {
                quote! {
                    if __r.peek()? == ::till_core::json::Kind::String {
                        let __i = __r.name(VARIANTS)?;
                        *__place = match __i {
                            #(#unit_arms)*
                            _ => return ::core::result::Result::Err(::till_core::json::DecodeError::Invalid),
                        };
                        return ::core::result::Result::Ok(());
                    }
                }
            });
            let tagged = if data_arms.is_empty() {
                quote!(::core::result::Result::Err(
                    ::till_core::json::DecodeError::WrongType
                ))
            } else {
                quote! {
                    let __i = __r.begin_tagged(VARIANTS)?;
                    match __i {
                        #(#data_arms)*
                        _ => return ::core::result::Result::Err(::till_core::json::DecodeError::Invalid),
                    }
                    __r.end_tagged()?;
                    ::core::result::Result::Ok(())
                }
            };
            quote! {
                const VARIANTS: &[&str] = &[#(#names),*];
                #units
                #tagged
            }
        }
        Data::Union(_) => return Err(syn::Error::new_spanned(name, "Decode: no unions")),
    };
    let placeholder = match &input.data {
        Data::Struct(s) => {
            let p = placeholder_fields(&fields_of(&s.fields, false)?, false);
            quote!(Self #p)
        }
        Data::Enum(e) => match e.variants.first() {
            Some(v) => {
                let vname = &v.ident;
                match &v.fields {
                    Fields::Unit => quote!(Self::#vname),
                    Fields::Named(_) => {
                        let p = placeholder_fields(&fields_of(&v.fields, false)?, true);
                        quote!(Self::#vname #p)
                    }
                    Fields::Unnamed(_) => {
                        let p = placeholder_fields(&fields_of(&v.fields, false)?, false);
                        quote!(Self::#vname #p)
                    }
                }
            }
            None => {
                return Err(syn::Error::new_spanned(
                    name,
                    "Decode: an enum without variants",
                ))
            }
        },
        Data::Union(_) => unreachable!("refused above"),
    };
    if let Data::Enum(_) = &input.data {
        return Ok(decode_in_place_impl(input, &body, &placeholder));
    }
    Ok(quote! {
        impl #impl_g ::till_core::json::Decode for #name #ty_g #where_g {
            #[inline(never)]
            fn decode(__r: &mut ::till_core::json::Reader<'_>) -> ::core::result::Result<Self, ::till_core::json::DecodeError> {
                #body
            }
            fn placeholder() -> Self {
                #placeholder
            }
        }
    })
}

/// A `Decode` that reads over the caller's value (`body` is `decode_in`'s,
/// over `__place`); `decode` reads over a placeholder.
fn decode_in_place_impl(input: &DeriveInput, body: &Tokens, placeholder: &Tokens) -> Tokens {
    let name = &input.ident;
    let generics = bounded(input, quote!(::till_core::json::Decode));
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    quote! {
        impl #impl_g ::till_core::json::Decode for #name #ty_g #where_g {
            fn decode(__r: &mut ::till_core::json::Reader<'_>) -> ::core::result::Result<Self, ::till_core::json::DecodeError> {
                let mut __place = <Self as ::till_core::json::Decode>::placeholder();
                Self::decode_in(__r, &mut __place)?;
                ::core::result::Result::Ok(__place)
            }
            #[inline(never)]
            fn decode_in(__r: &mut ::till_core::json::Reader<'_>, __place: &mut Self) -> ::core::result::Result<(), ::till_core::json::DecodeError> {
                #body
            }
            fn placeholder() -> Self {
                #placeholder
            }
        }
    }
}

fn encode_impl(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let generics = bounded(input, quote!(::till_core::json::Encode));
    let (impl_g, ty_g, where_g) = generics.split_for_impl();
    let camel_case = rename_all(&input.attrs)?.is_some();
    let body = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => {
                let fields = fields_of(&s.fields, camel_case)?;
                encode_object(&fields, |f| {
                    let m = &f.member;
                    quote!(&self.#m)
                })
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                quote!(::till_core::json::Encode::encode(&self.0, __w))
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    name,
                    "Encode: named structs and newtypes only",
                ))
            }
        },
        Data::Enum(e) => {
            let mut arms = Vec::new();
            for v in &e.variants {
                let vname = &v.ident;
                let json = if camel_case {
                    camel_variant(&vname.to_string())
                } else {
                    vname.to_string()
                };
                let key = member(&json);
                arms.push(match &v.fields {
                    Fields::Unit => quote!(Self::#vname => __w.str(#json),),
                    Fields::Unnamed(u) if u.unnamed.len() == 1 => quote! {
                        Self::#vname(__v) => {
                            __w.begin_object()?;
                            __w.member(#key)?;
                            ::till_core::json::Encode::encode(__v, __w)?;
                            __w.end_object()
                        }
                    },
                    Fields::Named(_) => {
                        let fields = fields_of(&v.fields, false)?;
                        let bindings: Vec<_> = fields
                            .iter()
                            .map(|f| {
                                let (m, b) = (&f.member, &f.binding);
                                quote!(#m: #b)
                            })
                            .collect();
                        let inner = encode_object(&fields, |f| {
                            let b = &f.binding;
                            quote!(#b)
                        });
                        quote! {
                            Self::#vname { #(#bindings),* } => {
                                __w.begin_object()?;
                                __w.member(#key)?;
                                #inner?;
                                __w.end_object()
                            }
                        }
                    }
                    Fields::Unnamed(_) => {
                        return Err(syn::Error::new_spanned(
                            v,
                            "Encode: tuple variants of one field only",
                        ))
                    }
                });
            }
            quote!(match self { #(#arms)* })
        }
        Data::Union(_) => return Err(syn::Error::new_spanned(name, "Encode: no unions")),
    };
    Ok(quote! {
        impl #impl_g ::till_core::json::Encode for #name #ty_g #where_g {
            fn encode(&self, __w: &mut ::till_core::json::Writer<'_>) -> ::core::result::Result<(), ::till_core::json::EncodeError> {
                #body
            }
        }
    })
}
