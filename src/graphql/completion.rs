//! Responses completed as the GraphQL spec's execution would complete them (§6.4.4 "Handling
//! Field Errors", §7.1.1 ordering), whatever async-graphql's executor produced.
//!
//! async-graphql 7 leaves a field that failed out of its object instead of setting it to
//! `null`, never propagates a `null` from a non-null field to the nearest nullable parent (a
//! failing non-null root kept its siblings), turns an object whose every field was skipped
//! into `null`, and orders keys as fields finish rather than as they were selected. Clients
//! that normalise by the document (Apollo's cache, Relay) then miss fields or read `null` for
//! a whole query. This pass walks the selected operation against the schema's types and the
//! value async-graphql built, and rebuilds every object in selection order:
//! - a selected field that is missing (it failed) becomes `null`;
//! - a `null` in a non-null position makes its parent `null`, up to the nearest nullable
//!   field, or `data` itself;
//! - an object whose fields all failed or were skipped is an object again.
//!
//! Which fragments apply to an interface's value depends on what the value is, which the
//! value alone does not say: `prepare` adds a hidden `__typename` ([`TYPENAME_ALIAS`]) to
//! every selection on an abstract type, and completion reads and removes it. Introspection's
//! own objects are left as they are.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    indexmap::IndexMap,
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition,
        OperationType, Selection, SelectionSet, Type,
    },
    Name, PathSegment, Pos, Positioned, Response, ServerError, Value, Variables,
};
use async_graphql_value::Value as AstValue;

use super::schema_types::{named, SchemaTypes};
use crate::error::ErrorCode;

/// The alias of the `__typename` added to selections on interfaces and unions.
pub const TYPENAME_ALIAS: &str = "__tollgate_typename";

/// A `null` reached a non-null position: the nearest nullable position above becomes `null`.
struct Bubble;

/// One response key of an object: the field it names and every selection set merged under it.
struct Collected<'d> {
    name: &'d str,
    sets: Vec<&'d SelectionSet>,
}

type Fields<'d> = std::rc::Rc<Vec<(&'d str, Collected<'d>)>>;

struct Walk<'d> {
    types: &'d SchemaTypes,
    doc: &'d ExecutableDocument,
    operation: &'d OperationDefinition,
    variables: &'d Variables,
    /// The paths of the errors the executor reported.
    error_paths: Vec<Vec<PathSegment>>,
    /// Errors this pass adds (a non-null field that was `null` with no error to say why).
    added: Vec<ServerError>,
    /// Fields collected per (object type, selection sets): a list of fifty payments collects
    /// its selection once.
    memo: HashMap<(String, Vec<usize>), Fields<'d>>,
}

/// A response is a request error when nothing executed: no data and no error from a field.
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Completes `response` to `operation_name`'s operation in `doc` (the document as the executor
/// ran it). A request error, which executed nothing, is returned as it is.
pub fn complete(
    types: &SchemaTypes,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    mut response: Response,
) -> Response {
    if is_request_error(&response) {
        return response;
    }
    let Some(operation) = select(doc, operation_name) else {
        return response;
    };
    let root = match operation.ty {
        OperationType::Query => &types.query,
        OperationType::Mutation => &types.mutation,
        OperationType::Subscription => &types.subscription,
    };
    let map = match std::mem::take(&mut response.data) {
        Value::Object(map) => map,
        // Every root field failed (or was skipped).
        Value::Null => IndexMap::new(),
        other => {
            response.data = other;
            return response;
        }
    };
    let mut walk = Walk {
        types,
        doc,
        operation,
        variables,
        error_paths: response.errors.iter().map(|e| e.path.clone()).collect(),
        added: Vec::new(),
        memo: HashMap::new(),
    };
    let sets = [&operation.selection_set.node];
    response.data = match walk.object(map, root, &sets, &mut Vec::new()) {
        Ok(map) => Value::Object(map),
        Err(Bubble) => Value::Null,
    };
    response.errors.append(&mut walk.added);
    response
}

fn select<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

impl<'d> Walk<'d> {
    /// Rebuilds one object of (declared) type `declared` in selection order.
    fn object(
        &mut self,
        mut map: IndexMap<Name, Value>,
        declared: &str,
        sets: &[&'d SelectionSet],
        path: &mut Vec<PathSegment>,
    ) -> Result<IndexMap<Name, Value>, Bubble> {
        if declared.starts_with("__") {
            return Ok(map); // introspection's own objects
        }
        let runtime = match map.swap_remove(TYPENAME_ALIAS) {
            Some(Value::String(concrete)) => concrete,
            _ => declared.to_owned(),
        };
        let fields = self.collect(&runtime, sets);
        let mut out = IndexMap::with_capacity(fields.len());
        for (key, collected) in fields.iter() {
            let value = map.swap_remove(*key).unwrap_or(Value::Null);
            let completed = match self.field_type(&runtime, collected.name) {
                Some(ty) => {
                    path.push(PathSegment::Field((*key).to_owned()));
                    let result = self.value(value, ty, &collected.sets, path);
                    path.pop();
                    result?
                }
                // `__typename`, `__schema`, `__type`: the executor's answer stands.
                None => value,
            };
            out.insert(Name::new(key), completed);
        }
        Ok(out)
    }

    fn field_type(&self, object: &str, field: &str) -> Option<&'d Type> {
        if field.starts_with("__") {
            return None;
        }
        self.types.field(object, field)
    }

    /// A value in a position of type `ty`; `Err` when it is `null` and `ty` is non-null.
    fn value(
        &mut self,
        value: Value,
        ty: &'d Type,
        sets: &[&'d SelectionSet],
        path: &mut Vec<PathSegment>,
    ) -> Result<Value, Bubble> {
        let completed = self.nullable_value(value, ty, sets, path);
        if completed == Value::Null && !ty.nullable {
            self.explain_null(path);
            return Err(Bubble);
        }
        Ok(completed)
    }

    fn nullable_value(
        &mut self,
        value: Value,
        ty: &'d Type,
        sets: &[&'d SelectionSet],
        path: &mut Vec<PathSegment>,
    ) -> Value {
        match (&ty.base, value) {
            (BaseType::List(item_type), Value::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    path.push(PathSegment::Index(i));
                    let item = self.value(item, item_type, sets, path);
                    path.pop();
                    match item {
                        Ok(item) => out.push(item),
                        // A non-null item failed: the list is null.
                        Err(Bubble) => return Value::Null,
                    }
                }
                Value::List(out)
            }
            (BaseType::Named(name), Value::Object(map)) if self.types.is_composite(name) => {
                match self.object(map, name, sets, path) {
                    Ok(map) => Value::Object(map),
                    Err(Bubble) => Value::Null,
                }
            }
            // async-graphql answers `null` for an object none of whose fields it could put in:
            // all failed (errors below say so) or all were skipped (then, where the type says
            // the object exists, it is `{}`). A field that failed itself (an error at its path)
            // is `null`.
            (BaseType::Named(name), Value::Null)
                if self.types.is_composite(name)
                    && (self.errors_below(path) || (!ty.nullable && !self.failed_at(path))) =>
            {
                match self.object(IndexMap::new(), name, sets, path) {
                    Ok(map) => Value::Object(map),
                    Err(Bubble) => Value::Null,
                }
            }
            (_, value) => value,
        }
    }

    /// Whether an error was reported for the field at `path` itself.
    fn failed_at(&self, path: &[PathSegment]) -> bool {
        self.error_paths.iter().any(|p| p.as_slice() == path)
    }

    /// Whether an error was reported for a field under `path` (not at it).
    fn errors_below(&self, path: &[PathSegment]) -> bool {
        self.error_paths
            .iter()
            .any(|p| p.len() > path.len() && p.starts_with(path))
    }

    /// A non-null position is `null`: an error at or under it says why, or this adds one (the
    /// spec has every `null` of a non-null field come with an error).
    fn explain_null(&mut self, path: &[PathSegment]) {
        if self.error_paths.iter().any(|p| p.starts_with(path)) {
            return;
        }
        let at = path
            .iter()
            .map(|segment| match segment {
                PathSegment::Field(name) => name.clone(),
                PathSegment::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        tracing::error!(path = %at, "a non-null field resolved to null without an error");
        let mut error = ServerError::new("internal error", None);
        error.path = path.to_vec();
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", ErrorCode::Internal.as_str());
        error.extensions = Some(extensions);
        self.error_paths.push(path.to_vec());
        self.added.push(error);
    }

    /// The response keys an object of type `object` has under `sets`, in selection order
    /// (the spec's CollectFields).
    fn collect(&mut self, object: &str, sets: &[&'d SelectionSet]) -> Fields<'d> {
        let key = (
            object.to_owned(),
            sets.iter()
                .map(|s| std::ptr::from_ref(*s) as usize)
                .collect(),
        );
        if let Some(fields) = self.memo.get(&key) {
            return fields.clone();
        }
        let mut out: IndexMap<&'d str, Collected<'d>> = IndexMap::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect_into(object, set, &mut out, &mut visited);
        }
        let fields: Fields<'d> = std::rc::Rc::new(out.into_iter().collect());
        self.memo.insert(key, fields.clone());
        fields
    }

    fn collect_into(
        &self,
        object: &str,
        set: &'d SelectionSet,
        out: &mut IndexMap<&'d str, Collected<'d>>,
        visited: &mut HashSet<&'d str>,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field: &'d Field = &field.node;
                    let key = field.response_key().node.as_str();
                    if key == TYPENAME_ALIAS || !self.included(&field.directives) {
                        continue;
                    }
                    out.entry(key)
                        .or_insert_with(|| Collected {
                            name: field.name.node.as_str(),
                            sets: Vec::new(),
                        })
                        .sets
                        .push(&field.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if !self.included(&spread.node.directives) || !visited.insert(name) {
                        continue;
                    }
                    let Some(fragment) = self.doc.fragments.get(name) else {
                        continue;
                    };
                    let condition = fragment.node.type_condition.node.on.node.as_str();
                    if self.types.applies(condition, object) {
                        self.collect_into(object, &fragment.node.selection_set.node, out, visited);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let applies = inline
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| self.types.applies(c.node.on.node.as_str(), object));
                    if applies && self.included(&inline.directives) {
                        self.collect_into(object, &inline.selection_set.node, out, visited);
                    }
                }
            }
        }
    }

    /// `@skip(if:)` and `@include(if:)`, literal or variable (with its default).
    fn included(&self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> bool {
        directives.iter().all(|d| {
            let condition = || {
                let value = &d.node.get_argument("if")?.node;
                match value {
                    AstValue::Boolean(b) => Some(*b),
                    AstValue::Variable(var) => {
                        let value = self.variables.get(var).cloned().or_else(|| {
                            self.operation
                                .variable_definitions
                                .iter()
                                .find(|v| v.node.name.node == *var)
                                .and_then(|v| v.node.default_value.as_ref())
                                .map(|d| d.node.clone())
                        });
                        match value {
                            Some(Value::Boolean(b)) => Some(b),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            };
            match d.node.name.node.as_str() {
                "skip" => condition() != Some(true),
                "include" => condition() != Some(false),
                _ => true,
            }
        })
    }
}

/// The document with a hidden `__typename` ([`TYPENAME_ALIAS`]) in every selection set on an
/// interface or union, so completion learns which object each value is; `None` when the
/// document selects nothing abstract (the common case: it runs as it is).
pub fn with_typenames(types: &SchemaTypes, doc: &ExecutableDocument) -> Option<ExecutableDocument> {
    let mut copy = doc.clone();
    let mut changed = false;
    let operations: Vec<&mut Positioned<OperationDefinition>> = match &mut copy.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values_mut().collect(),
    };
    for op in operations {
        let root = match op.node.ty {
            OperationType::Query => types.query.as_str(),
            OperationType::Mutation => types.mutation.as_str(),
            OperationType::Subscription => types.subscription.as_str(),
        };
        changed |= inject(types, &mut op.node.selection_set.node, root);
    }
    for fragment in copy.fragments.values_mut() {
        let on = fragment.node.type_condition.node.on.node.to_string();
        changed |= inject(types, &mut fragment.node.selection_set.node, &on);
    }
    changed.then_some(copy)
}

/// Adds the hidden `__typename` under `parent` where it is abstract, and below; whether any
/// was added.
fn inject(types: &SchemaTypes, set: &mut SelectionSet, parent: &str) -> bool {
    let mut changed = false;
    for item in &mut set.items {
        match &mut item.node {
            Selection::Field(field) => {
                let child = types
                    .field(parent, field.node.name.node.as_str())
                    .map(|ty| named(ty).to_owned());
                if let Some(child) = child {
                    changed |= inject(types, &mut field.node.selection_set.node, &child);
                }
            }
            Selection::InlineFragment(inline) => {
                let on = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(parent.to_owned(), |c| c.node.on.node.to_string());
                changed |= inject(types, &mut inline.node.selection_set.node, &on);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    if types.is_abstract(parent) && !set.items.is_empty() {
        let typename = Field {
            alias: Some(Positioned::new(Name::new(TYPENAME_ALIAS), Pos::default())),
            name: Positioned::new(Name::new("__typename"), Pos::default()),
            arguments: Vec::new(),
            directives: Vec::new(),
            selection_set: Positioned::new(SelectionSet::default(), Pos::default()),
        };
        set.items.push(Positioned::new(
            Selection::Field(Positioned::new(typename, Pos::default())),
            Pos::default(),
        ));
        changed = true;
    }
    changed
}
