//! The schema's output types as the response completion sees them (`completion`): which type
//! every field returns, with its list and non-null wrappers, and which object types each
//! interface or union stands for. Read once from the schema's own SDL, so a new field needs no
//! entry here.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

/// Output types by name.
#[derive(Debug, Default)]
pub struct SchemaTypes {
    /// Fields of object and interface types: name → type.
    fields: HashMap<String, HashMap<String, Type>>,
    /// Interfaces and unions: the object types that may stand in their place.
    possible: HashMap<String, HashSet<String>>,
    pub query: String,
    pub mutation: String,
    pub subscription: String,
}

impl SchemaTypes {
    pub fn from_sdl(sdl: &str) -> anyhow::Result<Self> {
        let doc = async_graphql::parser::parse_schema(sdl)?;
        let mut types = SchemaTypes {
            query: "Query".into(),
            mutation: "Mutation".into(),
            subscription: "Subscription".into(),
            ..Default::default()
        };
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(q) = schema.query {
                        types.query = q.node.to_string();
                    }
                    if let Some(m) = schema.mutation {
                        types.mutation = m.node.to_string();
                    }
                    if let Some(s) = schema.subscription {
                        types.subscription = s.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let name = ty.name.node.to_string();
                    let fields = match ty.kind {
                        TypeKind::Object(object) => {
                            for interface in object.implements {
                                types
                                    .possible
                                    .entry(interface.node.to_string())
                                    .or_default()
                                    .insert(name.clone());
                            }
                            object.fields
                        }
                        TypeKind::Interface(interface) => {
                            types.possible.entry(name.clone()).or_default();
                            interface.fields
                        }
                        TypeKind::Union(union) => {
                            let members = union.members.iter().map(|m| m.node.to_string());
                            types.possible.entry(name).or_default().extend(members);
                            continue;
                        }
                        _ => continue,
                    };
                    let fields = fields
                        .into_iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                        .collect();
                    types.fields.insert(name, fields);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Ok(types)
    }

    /// The type `field` of `parent` returns; `None` for fields the SDL does not have
    /// (introspection's own, or a typo validation refuses).
    pub fn field(&self, parent: &str, field: &str) -> Option<&Type> {
        self.fields.get(parent)?.get(field)
    }

    /// An object, interface or union: a value of it has a selection set.
    pub fn is_composite(&self, name: &str) -> bool {
        self.fields.contains_key(name) || self.possible.contains_key(name)
    }

    /// An interface or union: which object a value is becomes known only at run time.
    pub fn is_abstract(&self, name: &str) -> bool {
        self.possible.contains_key(name)
    }

    /// Whether a fragment on `condition` applies to an object of type `object`.
    pub fn applies(&self, condition: &str, object: &str) -> bool {
        condition == object
            || self
                .possible
                .get(condition)
                .is_some_and(|objects| objects.contains(object))
    }
}

/// The named type under a field's list and non-null wrappers.
pub fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_wrappers_and_possible_types() {
        let types = SchemaTypes::from_sdl(
            "interface Node { id: ID! }
             type A implements Node { id: ID! xs: [Int!] }
             type B { id: ID }
             union U = A | B
             type Query { a: A! u: U }",
        )
        .expect("parses");
        let xs = types.field("A", "xs").expect("A.xs");
        assert!(xs.nullable && named(xs) == "Int");
        assert!(!types.field("Query", "a").expect("a").nullable);
        assert!(types.is_abstract("Node") && types.is_abstract("U"));
        assert!(!types.is_abstract("A") && types.is_composite("A"));
        assert!(!types.is_composite("Int"));
        assert!(types.applies("Node", "A") && types.applies("U", "B"));
        assert!(!types.applies("Node", "B") && types.applies("A", "A"));
        assert!(types.field("Node", "id").is_some());
    }
}
