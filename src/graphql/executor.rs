//! The one way operations reach the schema, over HTTP and WebSocket alike: the query text is
//! size-checked and parsed once, its cost counted (`cost`) and refused before execution if it
//! is too much; the parsed document is handed to async-graphql so it is not parsed again.
//!
//! The schema carries no async-graphql extensions: while any is registered every field of every
//! object goes through the extension chain, which was the largest cost on the history page.
//! What they did is done here once per operation instead: the document limits, and one tracing
//! span per operation with its name, cost and error codes.

use std::sync::Arc;

use async_graphql::{
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::types::{ExecutableDocument, OperationType},
    Data, Executor, Request, Response, ServerError,
};
use tracing::Instrument;

use super::{
    cost::{Analysis, CostError, CostModel, Limits, LIMITS},
    TollgateSchema,
};
use crate::error::ErrorCode;

/// Longest query text accepted (the HTTP body limit is larger, for variables).
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

#[derive(Clone)]
pub struct GuardedSchema {
    schema: TollgateSchema,
    model: Arc<CostModel>,
    limits: Limits,
}

/// A request refused before execution, as a GraphQL error with its `code`.
#[derive(Debug, Clone)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
}

impl Refused {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refused {
            code,
            message: message.into(),
        }
    }

    pub fn into_response(self) -> Response {
        Response::from_errors(vec![server_error(self.code, self.message)])
    }
}

fn server_error(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    err.extensions = Some(ext);
    err
}

impl From<CostError> for Refused {
    fn from(e: CostError) -> Self {
        let code = match e {
            CostError::FragmentCycle(_) | CostError::NoOperation => {
                ErrorCode::GraphqlValidationFailed
            }
            _ => ErrorCode::QueryTooComplex,
        };
        Refused::new(code, e.to_string())
    }
}

/// A request that passed the checks, with what they found.
pub struct Checked {
    pub request: Request,
    pub analysis: Analysis,
}

impl GuardedSchema {
    pub fn new(schema: TollgateSchema) -> anyhow::Result<Self> {
        let model = CostModel::from_sdl(&schema.sdl())?;
        Ok(GuardedSchema {
            schema,
            model: Arc::new(model),
            limits: LIMITS,
        })
    }

    pub fn schema(&self) -> &TollgateSchema {
        &self.schema
    }

    /// Parses and counts the request; the parsed document travels on inside it.
    pub fn check(&self, mut request: Request) -> Result<Checked, Refused> {
        if request.query.len() > MAX_QUERY_BYTES {
            return Err(Refused::new(
                ErrorCode::QueryTooComplex,
                format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        if request.query.trim().is_empty() {
            return Err(Refused::new(ErrorCode::BadRequest, "the query is empty"));
        }
        let doc: ExecutableDocument = async_graphql::parser::parse_query(&request.query)
            .map_err(|e| Refused::new(ErrorCode::GraphqlParseFailed, e.to_string()))?;
        let analysis = self.model.analyze(
            &doc,
            request.operation_name.as_deref(),
            &request.variables,
            &self.limits,
        )?;
        request.set_parsed_query(doc);
        Ok(Checked { request, analysis })
    }

    /// Runs a checked request to completion, whatever happens to the caller.
    pub async fn run(&self, checked: Checked) -> Response {
        let Checked { request, analysis } = checked;
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            "graphql",
            operation = analysis.operation_name.as_deref().unwrap_or("-"),
            kind = kind_name(analysis.operation_type),
            cost = analysis.cost,
            errors = tracing::field::Empty,
        );
        let response = async {
            // Every operation runs on its own task. Mutations: a client that disconnects or a
            // request timeout must not cancel one between Stripe's answer and the local write.
            // Queries: a future dropped mid-statement makes the pool close that connection, so
            // a disconnecting client would cost a reconnect; finishing the statement is cheaper.
            let schema = self.schema.clone();
            let task = tokio::spawn(async move { schema.execute(request).await }.in_current_span());
            let response = match task.await {
                Ok(response) => response,
                Err(e) => {
                    tracing::error!(error = %e, "operation task failed");
                    Response::from_errors(vec![server_error(ErrorCode::Internal, "internal error")])
                }
            };
            with_codes(response)
        }
        .instrument(span.clone())
        .await;
        let codes: Vec<String> = response
            .errors
            .iter()
            .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
                async_graphql::Value::String(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        if !codes.is_empty() {
            span.record("errors", codes.join(",").as_str());
        }
        crate::metrics::graphql_operation(
            analysis.operation_name.as_deref(),
            kind_name(analysis.operation_type),
            codes.first().map_or("OK", String::as_str),
            started.elapsed(),
        );
        response
    }
}

impl GuardedSchema {
    /// Runs a checked request as a stream (subscriptions; a query yields one response) with
    /// the connection's data.
    pub fn stream(&self, checked: Checked, session: Arc<Data>) -> BoxStream<'static, Response> {
        self.schema
            .execute_stream_with_session_data(checked.request, session)
            .map(with_codes)
            .boxed()
    }
}

fn kind_name(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// Gives every error a `code`: async-graphql's own (validation, variable coercion) have none.
/// Errors with no data are request errors, which only validation produces once parsing and
/// cost checks have passed.
pub fn with_codes(mut response: Response) -> Response {
    for err in &mut response.errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", ErrorCode::GraphqlValidationFailed.as_str());
        }
    }
    response
}

impl Executor for GuardedSchema {
    async fn execute(&self, request: Request) -> Response {
        match self.check(request) {
            Ok(checked) => self.run(checked).await,
            Err(refused) => refused.into_response(),
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        match self.check(request) {
            Ok(checked) => self.stream(checked, session_data.unwrap_or_default()),
            Err(refused) => stream::once(async move { refused.into_response() }).boxed(),
        }
    }
}
