//! Document limits checked right after parsing, before validation or execution: a cap on the
//! query text and on aliases (a cheap way to multiply work: `a1: payments … a5000: payments`).
//! Depth, recursive fragment depth, complexity and directives are capped by the schema builder.

use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
    ServerError, ServerResult, Variables,
};

/// Longest query text accepted (the HTTP body limit is larger, for variables).
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Aliases in one document, across operations and fragments.
pub const MAX_ALIASES: usize = 30;
/// Directives on one field.
pub const MAX_DIRECTIVES_PER_FIELD: usize = 5;

pub struct DocumentLimits;

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimitsExtension)
    }
}

struct DocumentLimitsExtension;

fn limit_error(message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "INVALID_INPUT");
    err.extensions = Some(ext);
    err
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

#[async_trait::async_trait]
impl Extension for DocumentLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(limit_error(format!(
                "the query is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        let doc = next.run(ctx, query, variables).await?;
        let aliases = aliases_in(&doc);
        if aliases > MAX_ALIASES {
            return Err(limit_error(format!(
                "the query has {aliases} aliases; at most {MAX_ALIASES} are allowed"
            )));
        }
        Ok(doc)
    }
}
