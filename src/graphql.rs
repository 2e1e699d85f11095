//! The GraphQL schema: one file per domain, merged here. `schema_builder()` attaches no data, so
//! the same function serves requests (`app.rs` adds the state) and exports the SDL.

pub mod catalog;
pub mod context;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod money;
pub mod payment_methods;
pub mod payments;
pub mod subscriptions;
pub mod viewer;
pub mod webhooks;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

/// Every query field, merged from the domain modules.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    viewer::ViewerQuery,
    catalog::CatalogQuery,
    payments::PaymentsQuery,
    subscriptions::SubscriptionsQuery,
    webhooks::WebhooksQuery,
);

/// Every mutation, merged from the domain modules.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    catalog::CatalogMutation,
    payments::PaymentsMutation,
    subscriptions::SubscriptionsMutation,
    payment_methods::PaymentMethodsMutation,
);

pub type TollgateSchema = Schema<QueryRoot, MutationRoot, live::SubscriptionRoot>;

/// Guard rails (DESIGN.md §6): bounded depth and complexity, no "did you mean" hints that help
/// probing. Introspection is switched by configuration in `app.rs`.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 2_000;
pub const MAX_RECURSIVE_DEPTH: usize = 16;

pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, live::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        live::SubscriptionRoot,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
    .limit_directives(limits::MAX_DIRECTIVES_PER_FIELD)
    .disable_suggestions()
    .extension(limits::DocumentLimits)
    .extension(async_graphql::extensions::Tracing)
}

/// The SDL of the live schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    let schema = schema_builder().finish();
    let options = async_graphql::SDLExportOptions::new()
        .sorted_fields()
        .sorted_enum_items();
    schema.sdl_with_options(options)
}
