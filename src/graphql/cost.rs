//! What a query will cost, counted on the parsed document before anything executes.
//!
//! async-graphql's own depth and complexity rules visit each fragment definition once, so a
//! 600-byte document whose fragments each spread the previous one eight times (8⁷ ≈ 2 M fields)
//! passed them and then ran for seconds. Here every fragment spread is expanded: each
//! fragment's figures are computed once (memoised) and multiplied at every spread, so the count
//! itself stays linear in the document's size while measuring what would execute. Lists
//! multiply what is selected beneath them: by `first` on paginated fields (itself capped), by a
//! fixed estimate on other lists. `__typename` and introspection fields count like any other.
//!
//! Shapes come from the schema's own SDL, so a new field needs no entry here.

use std::collections::HashMap;

use async_graphql::{
    parser::types::{
        BaseType, ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
        TypeKind,
    },
    Name, Positioned, Variables,
};
use async_graphql_value::{ConstValue, Value};

/// The budget of one operation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fields (and fragment applications) that may execute, lists multiplied out.
    pub max_cost: u64,
    /// Nesting of fields, not counting introspection's `ofType` chains (bounded by the type
    /// system itself; the standard introspection query nests them eight deep).
    pub max_depth: usize,
    /// Aliases written in the document.
    pub max_aliases: usize,
    /// Largest page a paginated field returns: resolvers clamp `first` to it, so the count
    /// does too.
    pub max_page: u64,
    /// Introspection lists (`types`, `fields`, `args`, …) nested along one path: three lets the
    /// standard introspection query through (`types → fields → args`) and stops
    /// `types → fields → type → fields → …` fan-outs.
    pub max_introspection_lists: usize,
    /// `ofType` links nested along one path (wrapping types are rarely more than four deep).
    pub max_type_chain: usize,
}

pub const LIMITS: Limits = Limits {
    max_cost: 10_000,
    max_depth: 12,
    max_aliases: 30,
    max_page: super::payments::MAX_PAGE as u64,
    max_introspection_lists: 3,
    max_type_chain: 12,
};

/// How many items an unpaginated list is assumed to hold (prices of a product, the catalog):
/// these grow with the merchant's data, not with the query.
const LIST_ESTIMATE: u64 = 10;

/// Unpaginated lists that hold fewer than `LIST_ESTIMATE` in practice, by (type, field). A
/// payment's refunds: one in the common case, a few partial ones at most; at 10 per payment
/// the SPA's own history page was refused above `first: 76`. An invoice's lines likewise.
fn list_estimate(parent: &str, field: &str) -> u64 {
    match (parent, field) {
        ("Payment", "refunds") => 3,
        // An invoice's lines: one for a renewal, two or three for a plan change.
        ("Invoice", "lines") => 3,
        _ => LIST_ESTIMATE,
    }
}
/// `first` when a paginated field has no default of its own.
const DEFAULT_PAGE: u64 = 20;

/// Why a document was refused before execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    #[error("the query would resolve about {cost} fields; at most {max} are allowed")]
    TooCostly { cost: u64, max: u64 },
    #[error("the query is nested too deep: {depth} levels; at most {max} are allowed")]
    TooDeep { depth: usize, max: usize },
    #[error("the query has {count} aliases; at most {max} are allowed")]
    TooManyAliases { count: usize, max: usize },
    #[error("introspection lists are nested too deeply")]
    IntrospectionTooDeep,
    #[error("fragment `{0}` spreads itself")]
    FragmentCycle(String),
    #[error("the document has no operation named that way, or several and no operation name")]
    NoOperation,
}

/// The figures of an accepted operation, for logging and rate limiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub operation_type: OperationType,
    pub operation_name: Option<String>,
    /// Root fields selected directly by the operation (fragments included).
    pub root_fields: usize,
    /// The distinct response keys at the root, each with the field it names (fragments
    /// expanded, directives not evaluated): a subscription must have exactly one.
    pub root_keys: Vec<(String, String)>,
    pub cost: u64,
    pub depth: usize,
}

/// One field of the schema as far as cost is concerned.
#[derive(Debug, Clone)]
struct FieldShape {
    /// The named type the field returns (through lists and non-null).
    type_name: String,
    list: bool,
    /// `Some(default)` when the field is paginated with a `first` argument.
    first: Option<u64>,
}

/// Field shapes by (type, field), read from the schema's SDL once at start-up.
#[derive(Debug, Clone, Default)]
pub struct CostModel {
    fields: HashMap<String, HashMap<String, FieldShape>>,
    query: String,
    mutation: String,
    subscription: String,
}

/// Introspection's own types (not in the SDL): which of their fields are lists, and what the
/// object fields return.
fn introspection_field(type_name: &str, field: &str) -> Option<(&'static str, bool)> {
    Some(match (type_name, field) {
        (_, "__schema") => ("__Schema", false),
        (_, "__type") => ("__Type", false),
        ("__Schema", "types") => ("__Type", true),
        ("__Schema", "queryType" | "mutationType" | "subscriptionType") => ("__Type", false),
        ("__Schema", "directives") => ("__Directive", true),
        ("__Type", "fields") => ("__Field", true),
        ("__Type", "interfaces" | "possibleTypes") => ("__Type", true),
        ("__Type", "enumValues") => ("__EnumValue", true),
        ("__Type", "inputFields") => ("__InputValue", true),
        ("__Type", "ofType") => ("__Type", false),
        ("__Field" | "__Directive", "args") => ("__InputValue", true),
        ("__Field" | "__InputValue", "type") => ("__Type", false),
        ("__Directive", "locations") => ("__DirectiveLocation", true),
        _ => return None,
    })
}

fn is_introspection_type(name: &str) -> bool {
    name.starts_with("__")
}

/// A field's cost shape from its SDL definition.
fn shape_of_field(f: &async_graphql::parser::types::FieldDefinition) -> FieldShape {
    let first = f
        .arguments
        .iter()
        .find(|a| a.node.name.node == "first")
        .map(|a| match a.node.default_value.as_ref().map(|v| &v.node) {
            Some(ConstValue::Number(n)) => n.as_u64().unwrap_or(DEFAULT_PAGE),
            _ => DEFAULT_PAGE,
        });
    let mut ty = &f.ty.node;
    let mut list = false;
    let type_name = loop {
        match &ty.base {
            BaseType::Named(n) => break n.to_string(),
            BaseType::List(inner) => {
                list = true;
                ty = inner;
            }
        }
    };
    FieldShape {
        type_name,
        list,
        first,
    }
}

impl CostModel {
    pub fn from_sdl(sdl: &str) -> anyhow::Result<Self> {
        let doc = async_graphql::parser::parse_schema(sdl)?;
        let mut model = CostModel {
            query: "Query".into(),
            mutation: "Mutation".into(),
            subscription: "Subscription".into(),
            ..Default::default()
        };
        for def in doc.definitions {
            match def {
                async_graphql::parser::types::TypeSystemDefinition::Schema(s) => {
                    let s = s.node;
                    if let Some(q) = s.query {
                        model.query = q.node.to_string();
                    }
                    if let Some(m) = s.mutation {
                        model.mutation = m.node.to_string();
                    }
                    if let Some(sub) = s.subscription {
                        model.subscription = sub.node.to_string();
                    }
                }
                async_graphql::parser::types::TypeSystemDefinition::Type(t) => {
                    let t = t.node;
                    let fields = match t.kind {
                        TypeKind::Object(o) => o.fields,
                        TypeKind::Interface(i) => i.fields,
                        _ => continue,
                    };
                    let shapes = fields
                        .into_iter()
                        .map(|f| (f.node.name.node.to_string(), shape_of_field(&f.node)))
                        .collect();
                    model.fields.insert(t.name.node.to_string(), shapes);
                }
                _ => {}
            }
        }
        Ok(model)
    }

    /// Counts the operation the request will run and checks it against `limits`.
    pub fn analyze(
        &self,
        doc: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
        limits: &Limits,
    ) -> Result<Analysis, CostError> {
        let aliases = aliases_in(doc);
        if aliases > limits.max_aliases {
            return Err(CostError::TooManyAliases {
                count: aliases,
                max: limits.max_aliases,
            });
        }
        let (name, operation) = select_operation(doc, operation_name)?;
        let root = match operation.ty {
            OperationType::Query => &self.query,
            OperationType::Mutation => &self.mutation,
            OperationType::Subscription => &self.subscription,
        };
        let mut walker = Walker {
            model: self,
            doc,
            variables,
            limits,
            memo: HashMap::new(),
            in_progress: Vec::new(),
        };
        let figures = walker.selection_set(&operation.selection_set.node, Some(root))?;
        if figures.cost > limits.max_cost {
            return Err(CostError::TooCostly {
                cost: figures.cost,
                max: limits.max_cost,
            });
        }
        if figures.depth > limits.max_depth {
            return Err(CostError::TooDeep {
                depth: figures.depth,
                max: limits.max_depth,
            });
        }
        Ok(Analysis {
            operation_type: operation.ty,
            operation_name: name,
            root_fields: walker.root_fields(&operation.selection_set.node, 0),
            root_keys: walker.root_keys(&operation.selection_set.node),
            cost: figures.cost,
            depth: figures.depth,
        })
    }
}

/// The operation a request names (or the only one).
fn select_operation<'d>(
    doc: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Result<
    (
        Option<String>,
        &'d async_graphql::parser::types::OperationDefinition,
    ),
    CostError,
> {
    use async_graphql::parser::types::DocumentOperations;
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Ok((operation_name.map(str::to_owned), &op.node)),
        (DocumentOperations::Multiple(map), Some(name)) => map
            .get(name)
            .map(|op| (Some(name.to_owned()), &op.node))
            .ok_or(CostError::NoOperation),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => map
            .iter()
            .next()
            .map(|(n, op)| (Some(n.to_string()), &op.node))
            .ok_or(CostError::NoOperation),
        _ => Err(CostError::NoOperation),
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count_aliases(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases written anywhere in the document (operations and fragments).
pub fn aliases_in(doc: &ExecutableDocument) -> usize {
    let in_operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

/// The figures of one selection set, relative to where it is used.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    cost: u64,
    depth: usize,
    introspection_lists: usize,
    type_chain: usize,
}

impl Figures {
    fn merge(&mut self, other: Figures) {
        self.cost = self.cost.saturating_add(other.cost);
        self.depth = self.depth.max(other.depth);
        self.introspection_lists = self.introspection_lists.max(other.introspection_lists);
        self.type_chain = self.type_chain.max(other.type_chain);
    }
}

struct Walker<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    memo: HashMap<Name, Figures>,
    in_progress: Vec<Name>,
}

impl Walker<'_> {
    fn selection_set(
        &mut self,
        set: &SelectionSet,
        parent: Option<&str>,
    ) -> Result<Figures, CostError> {
        let mut total = Figures::default();
        for item in &set.items {
            let figures = match &item.node {
                Selection::Field(field) => self.field(&field.node, parent)?,
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let ty = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(parent);
                    let mut f = self.selection_set(&inline.selection_set.node, ty)?;
                    f.cost = f.cost.saturating_add(1);
                    f
                }
                Selection::FragmentSpread(spread) => {
                    let mut f = self.fragment(&spread.node.fragment_name.node)?;
                    f.cost = f.cost.saturating_add(1);
                    f
                }
            };
            total.merge(figures);
            // Stop early: a bomb need not be counted to the end to be refused.
            if total.cost > self.limits.max_cost {
                return Err(CostError::TooCostly {
                    cost: total.cost,
                    max: self.limits.max_cost,
                });
            }
        }
        Ok(total)
    }

    fn fragment(&mut self, name: &Name) -> Result<Figures, CostError> {
        if let Some(f) = self.memo.get(name) {
            return Ok(*f);
        }
        if self.in_progress.contains(name) {
            return Err(CostError::FragmentCycle(name.to_string()));
        }
        // An unknown fragment costs nothing here; validation refuses it next.
        let Some(def) = self.doc.fragments.get(name) else {
            return Ok(Figures::default());
        };
        let def: &FragmentDefinition = &def.node;
        self.in_progress.push(name.clone());
        let result = self.selection_set(
            &def.selection_set.node,
            Some(def.type_condition.node.on.node.as_str()),
        );
        self.in_progress.pop();
        let figures = result?;
        self.memo.insert(name.clone(), figures);
        Ok(figures)
    }

    fn field(
        &mut self,
        field: &async_graphql::parser::types::Field,
        parent: Option<&str>,
    ) -> Result<Figures, CostError> {
        let name = field.name.node.as_str();
        let (child_type, multiplier, introspection_list, counts_depth) =
            self.shape_of(field, parent)?;
        let mut children = if field.selection_set.node.items.is_empty() {
            Figures::default()
        } else {
            self.selection_set(&field.selection_set.node, child_type.as_deref())?
        };
        children.cost = children.cost.saturating_mul(multiplier).saturating_add(1);
        if counts_depth {
            children.depth += 1;
        }
        if introspection_list {
            children.introspection_lists += 1;
            if children.introspection_lists > self.limits.max_introspection_lists {
                return Err(CostError::IntrospectionTooDeep);
            }
        }
        if name == "ofType" && parent.is_some_and(is_introspection_type) {
            children.type_chain += 1;
            if children.type_chain > self.limits.max_type_chain {
                return Err(CostError::TooDeep {
                    depth: children.type_chain,
                    max: self.limits.max_type_chain,
                });
            }
        }
        Ok(children)
    }

    /// The type a field returns, how many times its selection runs, whether it is an
    /// introspection list, and whether it adds a level of depth.
    fn shape_of(
        &self,
        field: &async_graphql::parser::types::Field,
        parent: Option<&str>,
    ) -> Result<(Option<String>, u64, bool, bool), CostError> {
        let name = field.name.node.as_str();
        if name == "__typename" {
            return Ok((None, 1, false, true));
        }
        let in_introspection = parent.is_some_and(is_introspection_type);
        if in_introspection || name == "__schema" || name == "__type" {
            let (ty, list) = parent
                .and_then(|p| introspection_field(p, name))
                .or_else(|| introspection_field("", name))
                .map(|(t, l)| (Some(t.to_string()), l))
                .unwrap_or((None, false));
            // Introspection lists are bounded by the schema, and their nesting is capped
            // separately; each item still counts once per field selected below.
            return Ok((ty, 1, list, name != "ofType"));
        }
        let shape = parent
            .and_then(|p| self.model.fields.get(p))
            .and_then(|fields| fields.get(name));
        let Some(shape) = shape else {
            // Unknown here (validation will say so): count it, multiply nothing.
            return Ok((None, 1, false, true));
        };
        let multiplier = match shape.first {
            Some(default) => {
                let first = self.argument_u64(field, "first").unwrap_or(default);
                first.clamp(1, self.limits.max_page)
            }
            // A connection's edges/nodes are the page its parent already counted.
            None if shape.list
                && parent.is_some_and(|p| p.ends_with("Connection"))
                && matches!(name, "edges" | "nodes") =>
            {
                1
            }
            None if shape.list => list_estimate(parent.unwrap_or_default(), name),
            None => 1,
        };
        Ok((Some(shape.type_name.clone()), multiplier, false, true))
    }

    fn argument_u64(&self, field: &async_graphql::parser::types::Field, arg: &str) -> Option<u64> {
        let (_, value): &(Positioned<Name>, Positioned<Value>) =
            field.arguments.iter().find(|(n, _)| n.node == arg)?;
        let number = match &value.node {
            Value::Number(n) => n.clone(),
            Value::Variable(v) => match self.variables.get(v) {
                Some(ConstValue::Number(n)) => n.clone(),
                _ => return None,
            },
            _ => return None,
        };
        // A negative `first` is the resolver's to refuse; count it as one.
        Some(
            number
                .as_u64()
                .or_else(|| number.as_i64().map(|_| 1))
                .unwrap_or(u64::MAX),
        )
    }

    /// The root's response keys and field names, through fragments.
    fn root_keys(&self, set: &SelectionSet) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = Vec::new();
        let mut pending: Vec<(&SelectionSet, usize)> = vec![(set, 0)];
        while let Some((set, nesting)) = pending.pop() {
            if nesting > 8 {
                continue;
            }
            for item in &set.items {
                match &item.node {
                    Selection::Field(f) => {
                        let key = f.node.response_key().node.to_string();
                        if !keys.iter().any(|(k, _)| *k == key) {
                            keys.push((key, f.node.name.node.to_string()));
                        }
                    }
                    Selection::InlineFragment(i) => {
                        pending.push((&i.node.selection_set.node, nesting + 1));
                    }
                    Selection::FragmentSpread(s) => {
                        if let Some(f) = self.doc.fragments.get(&s.node.fragment_name.node) {
                            pending.push((&f.node.selection_set.node, nesting + 1));
                        }
                    }
                }
            }
        }
        keys
    }

    /// Root fields the operation selects, through fragments (for per-mutation rate limits).
    fn root_fields(&self, set: &SelectionSet, nesting: usize) -> usize {
        if nesting > 8 {
            return 0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(i) => {
                    self.root_fields(&i.node.selection_set.node, nesting + 1)
                }
                Selection::FragmentSpread(s) => self
                    .doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .map(|f| self.root_fields(&f.node.selection_set.node, nesting + 1))
                    .unwrap_or(0),
            })
            .fold(0usize, usize::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> CostModel {
        CostModel::from_sdl(&crate::graphql::sdl()).expect("schema SDL parses")
    }

    fn analyze(query: &str) -> Result<Analysis, CostError> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        model().analyze(&doc, None, &Variables::default(), &LIMITS)
    }

    fn bomb(spreads: usize, levels: usize) -> String {
        let mut q = String::from("query { ...F0 }\nfragment F0 on Query { __typename }\n");
        for i in 1..=levels {
            let body = vec![format!("...F{}", i - 1); spreads].join(" ");
            q.push_str(&format!("fragment F{i} on Query {{ {body} }}\n"));
        }
        q.replace("query { ...F0 }", &format!("query {{ ...F{levels} }}"))
    }

    #[test]
    fn fragment_fan_out_is_counted_expanded_and_refused() {
        let started = std::time::Instant::now();
        let err = analyze(&bomb(8, 7)).expect_err("8^7 fields");
        assert!(matches!(err, CostError::TooCostly { .. }), "{err:?}");
        let err = analyze(&bomb(10, 7)).expect_err("10^7 fields");
        assert!(matches!(err, CostError::TooCostly { .. }), "{err:?}");
        // Memoised: refusing a bomb is a matter of microseconds, not of its size.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // A small fan-out still passes.
        assert!(analyze(&bomb(2, 3)).is_ok());
    }

    #[test]
    fn typename_counts() {
        let many = (0..20)
            .map(|i| format!("t{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ");
        let a = analyze(&format!("{{ {many} }}")).expect("ok");
        assert_eq!(a.cost, 20);
    }

    #[test]
    fn pages_multiply_what_they_select() {
        let one = analyze("{ payments(first: 1) { edges { node { id status } } } }").expect("ok");
        let fifty =
            analyze("{ payments(first: 50) { edges { node { id status } } } }").expect("ok");
        assert!(fifty.cost > one.cost * 40, "{} vs {}", fifty.cost, one.cost);
        // Pages are clamped to 100 by the resolvers, and counted so.
        let huge =
            analyze("{ payments(first: 100000) { edges { node { id } } } }").expect("clamped");
        let hundred = analyze("{ payments(first: 100) { edges { node { id } } } }").expect("ok");
        assert_eq!(huge.cost, hundred.cost);
        // The history page the SPA asks for stays well inside the budget.
        let page = analyze(
            "{ payments(first: 100) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
               id status amount { amount currency formatted minorUnits } amountRefunded { amount }
               cardBrand cardLast4 createdAt refunds { id status amount { amount formatted } } } } } }",
        )
        .expect("history page");
        assert!(page.cost < LIMITS.max_cost);
    }

    #[test]
    fn variables_feed_first() {
        let doc = async_graphql::parser::parse_query(
            "query($n: Int) { payments(first: $n) { edges { node { id } } } }",
        )
        .expect("parses");
        let one = Variables::from_json(serde_json::json!({"n": 1}));
        let many = Variables::from_json(serde_json::json!({"n": 80}));
        let m = model();
        let small = m.analyze(&doc, None, &one, &LIMITS).expect("ok").cost;
        let large = m.analyze(&doc, None, &many, &LIMITS).expect("ok").cost;
        assert!(large > small * 40, "{large} vs {small}");
    }

    #[test]
    fn cycles_depth_and_aliases_are_refused() {
        let err = analyze("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
            .expect_err("cycle");
        assert!(matches!(err, CostError::FragmentCycle(_)), "{err:?}");
        let deep = "{ viewer { customer { id } } }";
        assert!(analyze(deep).is_ok());
        let aliases = (0..31)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(matches!(
            analyze(&format!("{{ {aliases} }}")),
            Err(CostError::TooManyAliases { .. })
        ));
    }

    #[test]
    fn standard_introspection_passes_and_nested_introspection_does_not() {
        let standard = include_str!("../../tests/fixtures/introspection_query.graphql");
        let a = analyze(standard).expect("the standard introspection query passes");
        assert!(a.cost < LIMITS.max_cost, "{}", a.cost);
        let nested =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert_eq!(analyze(nested), Err(CostError::IntrospectionTooDeep));
    }

    #[test]
    fn operations_are_selected_by_name() {
        let doc =
            async_graphql::parser::parse_query("query A { __typename } mutation B { __typename }")
                .expect("parses");
        let m = model();
        let vars = Variables::default();
        assert_eq!(
            m.analyze(&doc, None, &vars, &LIMITS),
            Err(CostError::NoOperation)
        );
        let b = m.analyze(&doc, Some("B"), &vars, &LIMITS).expect("B");
        assert_eq!(b.operation_type, OperationType::Mutation);
        assert_eq!(b.root_fields, 1);
    }
}
