//! The GraphQL schema: one file per domain, merged here. `schema_builder()` attaches no data, so
//! the same function serves requests (`app.rs` adds the state) and exports the SDL.

pub mod catalog;
pub mod completion;
pub mod context;
pub mod cost;
pub mod discounts;
pub mod documents;
pub mod edge;
pub mod executor;
pub mod guard;
pub mod http;
pub mod ids;
pub mod invoices;
pub mod live;
pub mod loaders;
pub mod money;
pub mod nesting;
pub mod node;
pub mod payment_methods;
pub mod payments;
pub mod plan;
pub mod quotes;
pub mod schema_types;
pub mod subscriptions;
pub mod viewer;
pub mod webhooks;
pub mod ws;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

/// Every query field, merged from the domain modules.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    viewer::ViewerQuery,
    node::NodeQuery,
    catalog::CatalogQuery,
    payments::PaymentsQuery,
    subscriptions::SubscriptionsQuery,
    discounts::DiscountsQuery,
    quotes::QuotesQuery,
    invoices::InvoicesQuery,
    webhooks::WebhooksQuery,
);

/// Every mutation, merged from the domain modules.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    catalog::CatalogMutation,
    payments::PaymentsMutation,
    subscriptions::SubscriptionsMutation,
    discounts::DiscountsMutation,
    quotes::QuotesMutation,
    payment_methods::PaymentMethodsMutation,
    webhooks::WebhooksMutation,
);

pub type TollgateSchema = Schema<QueryRoot, MutationRoot, live::SubscriptionRoot>;

/// Directives on one field (checked by async-graphql while parsing).
pub const MAX_DIRECTIVES_PER_FIELD: usize = 5;
/// Selection-set nesting async-graphql accepts, counting fragments; the parser stops at 64.
/// Depth and cost proper are counted on what executes, before execution, by `cost`.
pub const MAX_RECURSIVE_DEPTH: usize = 48;

/// The schema with no extensions and no data: `executor::GuardedSchema` checks every document
/// first (cost, depth, aliases, size) and traces each operation; `app.rs` adds the state per
/// request. No "did you mean" hints that help probing; introspection is switched by
/// configuration in `app.rs`.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, live::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        live::SubscriptionRoot,
    )
    .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
    .limit_directives(MAX_DIRECTIVES_PER_FIELD)
    .disable_suggestions()
}

/// The SDL of the live schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    let schema = schema_builder().finish();
    let options = async_graphql::SDLExportOptions::new()
        .sorted_fields()
        .sorted_enum_items();
    schema.sdl_with_options(options)
}
