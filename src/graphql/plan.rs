//! Compiled plans: queries answered without async-graphql's per-field executor.
//!
//! async-graphql resolves every field of every object through a boxed future, a name match and
//! a `Value` tree that is then serialised; on a page of fifty payments that is most of the
//! request's CPU. A query whose selections all fall inside what a plan knows is compiled once
//! per document and runs as one read written straight to JSON bytes. This module is what any
//! plan needs: field collection over a document (`object`, `collect`), arguments from literals
//! or variables (`Arg`), and the JSON writers. The one plan there is, the payment history, is
//! `payments::history_plan`.
//!
//! Safety rests on three rules:
//! - A plan runs only after the same document has once executed through async-graphql with no
//!   error, so validation (which is per document) has passed; until then, and for anything the
//!   compiler does not know (directives, other fields, other types), the executor runs it.
//! - Anything unexpected at run time (an anonymous or non-admin viewer, a variable that does not
//!   coerce, a bad cursor, a database error) falls back to the executor, which answers with its
//!   usual error. These are reads, so running one again is harmless.
//! - `tests/api/history_plan.rs` compares both paths byte for byte on the same data.

use std::cell::Cell;

use async_graphql::{
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
    resolver_utils::enum_value,
    InputType, Name, ScalarType, Value, Variables,
};
use chrono::{DateTime, Utc};

/// Fields a plan may collect in all (fragments expanded); a document past it is the executor's.
pub const MAX_PLAN_FIELDS: usize = 2_000;

/// Why a plan handed the request back to the executor.
#[derive(Debug)]
pub struct Fallback;

/// A response key, kept as the JSON bytes `"key":`.
pub struct Key(pub Box<[u8]>);

impl Key {
    pub fn new(name: &str) -> Self {
        let mut bytes = Vec::with_capacity(name.len() + 3);
        write_str(&mut bytes, name);
        bytes.push(b':');
        Key(bytes.into_boxed_slice())
    }
}

/// Where an argument's value comes from.
#[derive(Default)]
pub enum Arg {
    #[default]
    Absent,
    Literal(Value),
    /// A variable, with its declared default and whether its type is non-null.
    Variable {
        name: Name,
        default: Option<Value>,
        required: bool,
    },
}

impl Arg {
    pub fn parse<T: InputType>(&self, variables: &Variables) -> Result<T, Fallback> {
        let value = match self {
            Arg::Absent => None,
            Arg::Literal(v) => Some(v.clone()),
            // An unset variable without a default leaves the argument unset. Every argument
            // compiled here treats unset and null alike (`first` falls back to 20 either way).
            Arg::Variable {
                name,
                default,
                required,
            } => match variables.get(name).or(default.as_ref()) {
                Some(v) => Some(v.clone()),
                // A non-null variable left unset is a request error: the executor's to give.
                None if *required => return Err(Fallback),
                None => None,
            },
        };
        T::parse(value).map_err(|_| Fallback)
    }
}

/// The document being compiled, and how many more fields it may collect.
pub struct Compiler<'a> {
    pub doc: &'a ExecutableDocument,
    fields_left: Cell<usize>,
}

impl<'a> Compiler<'a> {
    pub fn new(doc: &'a ExecutableDocument) -> Self {
        Compiler {
            doc,
            fields_left: Cell::new(MAX_PLAN_FIELDS),
        }
    }
}

/// A scalar field: no arguments, no selections.
pub fn leaf<T>(fields: &[&Field], value: T) -> Option<T> {
    fields
        .iter()
        .all(|f| f.arguments.is_empty() && f.selection_set.node.items.is_empty())
        .then_some(value)
}

/// The selection sets of an object field selected (perhaps several times) without arguments.
pub fn sets<'a>(fields: &[&'a Field]) -> Option<Vec<&'a SelectionSet>> {
    fields
        .iter()
        .map(|f| {
            (f.arguments.is_empty() && !f.selection_set.node.items.is_empty())
                .then_some(&f.selection_set.node)
        })
        .collect()
}

/// The response keys of an object of type `on`, in order, each compiled by `each` from its
/// field name and every field selected under that key (GraphQL merges them).
pub fn object<'a, T>(
    doc: &Compiler<'a>,
    sets: &[&'a SelectionSet],
    on: &str,
    mut each: impl FnMut(&str, &[&'a Field]) -> Option<T>,
) -> Option<Vec<(Key, T)>> {
    let mut groups = Vec::new();
    for set in sets {
        collect(doc, set, on, &mut groups, 0)?;
    }
    groups
        .into_iter()
        .map(|(key, fields)| {
            let name = fields.first()?.name.node.as_str();
            if fields.iter().any(|f| f.name.node != name) {
                return None;
            }
            Some((Key::new(key.as_str()), each(name, &fields)?))
        })
        .collect()
}

/// GraphQL's field collection for a concrete type: fragments flattened, fields grouped by
/// response key in first-seen order. Directives (`@skip`, `@include`) are the executor's.
pub fn collect<'a>(
    doc: &Compiler<'a>,
    set: &'a SelectionSet,
    on: &str,
    groups: &mut Vec<(Name, Vec<&'a Field>)>,
    depth: usize,
) -> Option<()> {
    if depth > super::MAX_RECURSIVE_DEPTH {
        return None;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                if !field.directives.is_empty() {
                    return None;
                }
                let left = doc.fields_left.get().checked_sub(1)?;
                doc.fields_left.set(left);
                let key = &field.response_key().node;
                match groups.iter_mut().find(|(k, _)| k == key) {
                    Some((_, fields)) => fields.push(field),
                    None => groups.push((key.clone(), vec![field])),
                }
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                let same_type = fragment
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node == on);
                if !fragment.directives.is_empty() || !same_type {
                    return None;
                }
                collect(doc, &fragment.selection_set.node, on, groups, depth + 1)?;
            }
            Selection::FragmentSpread(spread) => {
                let spread = &spread.node;
                let fragment = &doc.doc.fragments.get(&spread.fragment_name.node)?.node;
                if !spread.directives.is_empty()
                    || !fragment.directives.is_empty()
                    || fragment.type_condition.node.on.node != on
                {
                    return None;
                }
                collect(doc, &fragment.selection_set.node, on, groups, depth + 1)?;
            }
        }
    }
    Some(())
}

pub fn write_object<T>(
    out: &mut Vec<u8>,
    fields: &[(Key, T)],
    mut value: impl FnMut(&mut Vec<u8>, &T),
) {
    out.push(b'{');
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&key.0);
        value(out, field);
    }
    out.push(b'}');
}

/// A JSON string, escaped exactly as async-graphql's responses are (both use serde_json).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string into a Vec cannot fail; keep the JSON well-formed regardless.
        out.extend_from_slice(b"null");
    }
}

pub fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// An enum value by its GraphQL name, as the executor names it.
pub fn write_enum<T: async_graphql::resolver_utils::EnumType>(out: &mut Vec<u8>, value: T) {
    match enum_value(value) {
        Value::Enum(name) => write_str(out, name.as_str()),
        _ => out.extend_from_slice(b"null"),
    }
}

/// A timestamp in the `DateTime` scalar's own format.
pub fn write_time(out: &mut Vec<u8>, at: &DateTime<Utc>) {
    match ScalarType::to_value(at) {
        Value::String(s) => write_str(out, &s),
        _ => out.extend_from_slice(b"null"),
    }
}
