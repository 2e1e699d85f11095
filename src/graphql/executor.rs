//! The one way operations reach the schema, over HTTP and WebSocket alike: the query text is
//! size-checked and parsed once, its cost counted (`cost`) and refused before execution if it
//! is too much; the parsed document is handed to async-graphql so it is not parsed again.
//!
//! The schema carries no async-graphql extensions: while any is registered every field of every
//! object goes through the extension chain, which was the largest cost on the history page.
//! What they did is done here once per operation instead: the document limits, and one tracing
//! span per operation with its name, cost and error codes.

use std::{future::Future, sync::Arc};

use async_graphql::{
    futures_util::stream::{BoxStream, StreamExt},
    parser::types::OperationType,
    Data, Request, Response, ServerError,
};
use tracing::Instrument;

use super::{
    completion,
    context::{RequestViewer, Services},
    cost::{Analysis, CostError, CostModel, Limits, LIMITS},
    documents::{DocumentCache, Prepared},
    nesting,
    plan::Fallback,
    schema_types::SchemaTypes,
    TollgateSchema,
};
use crate::error::ErrorCode;

/// Longest query text accepted (the HTTP body limit is larger, for variables).
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

#[derive(Clone)]
pub struct GuardedSchema {
    schema: TollgateSchema,
    model: Arc<CostModel>,
    /// Output types, for completing responses by the spec (`completion`).
    types: Arc<SchemaTypes>,
    limits: Limits,
    operations: Arc<DocumentCache>,
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

/// A subscription selects exactly one root field, and not an introspection one (the spec's
/// "Single root field", §5.2.3.1): each event answers one field, and a second non-null root
/// would arrive missing. async-graphql does not check this.
fn single_root_field(analysis: &Analysis) -> Result<(), Refused> {
    if analysis.operation_type != OperationType::Subscription {
        return Ok(());
    }
    match analysis.root_keys.as_slice() {
        [(_, field)] if !field.starts_with("__") => Ok(()),
        [(_, field)] => Err(Refused::new(
            ErrorCode::GraphqlValidationFailed,
            format!("a subscription's root field cannot be the introspection field `{field}`"),
        )),
        keys => Err(Refused::new(
            ErrorCode::GraphqlValidationFailed,
            format!(
                "a subscription must select exactly one root field, not {}",
                keys.len()
            ),
        )),
    }
}

/// A request that passed the checks, with what they found and its parsed document.
pub struct Checked {
    pub request: Request,
    pub analysis: Analysis,
    prepared: Arc<Prepared>,
}

/// How an operation was answered.
pub enum Answer {
    /// By async-graphql's executor.
    Executed(Response),
    /// By a compiled plan: the response body, JSON, with data and no errors.
    Compiled(Vec<u8>),
}

impl GuardedSchema {
    /// `compile`: run known query shapes as compiled plans (`compiled`).
    pub fn new(schema: TollgateSchema, compile: bool) -> anyhow::Result<Self> {
        let sdl = schema.sdl();
        let model = CostModel::from_sdl(&sdl)?;
        Ok(GuardedSchema {
            schema,
            model: Arc::new(model),
            types: Arc::new(SchemaTypes::from_sdl(&sdl)?),
            limits: LIMITS,
            operations: Arc::new(DocumentCache::new(compile)),
        })
    }

    pub fn schema(&self) -> &TollgateSchema {
        &self.schema
    }

    /// Parses (or finds parsed) and counts the request.
    pub fn check(&self, request: Request) -> Result<Checked, Refused> {
        if request.query.len() > MAX_QUERY_BYTES {
            return Err(Refused::new(
                ErrorCode::QueryTooComplex,
                format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        if request.query.trim().is_empty() {
            return Err(Refused::new(ErrorCode::BadRequest, "the query is empty"));
        }
        // Before the parser sees it: pest recurses into every bracket (see `nesting`).
        nesting::check_document(&request.query, nesting::MAX_NESTING)
            .map_err(|e| Refused::new(ErrorCode::QueryTooComplex, e.to_string()))?;
        if nesting::variables_too_deep(&request.variables, nesting::MAX_NESTING) {
            return Err(Refused::new(
                ErrorCode::QueryTooComplex,
                format!(
                    "a variable is nested too deep: more than {} levels",
                    nesting::MAX_NESTING
                ),
            ));
        }
        let prepared = self
            .operations
            .prepare(&request.query, request.operation_name.as_deref())
            .map_err(|e| Refused::new(ErrorCode::GraphqlParseFailed, e.to_string()))?;
        let analysis = self.model.analyze(
            &prepared.doc,
            request.operation_name.as_deref(),
            &request.variables,
            &self.limits,
        )?;
        single_root_field(&analysis)?;
        Ok(Checked {
            request,
            analysis,
            prepared,
        })
    }

    /// Runs a checked request through async-graphql, with whatever data it carries.
    pub async fn run(&self, checked: Checked) -> Response {
        let Checked {
            request,
            analysis,
            prepared,
        } = checked;
        self.traced(&analysis, self.execute_on_task(request, &prepared))
            .await
    }

    /// Answers a checked request for `viewer`: as a compiled plan when its document has one,
    /// through async-graphql otherwise (or when the plan hands it back).
    pub async fn answer(
        &self,
        checked: Checked,
        viewer: Option<crate::auth::Viewer>,
        services: Services,
    ) -> Answer {
        let Checked {
            request,
            analysis,
            prepared,
        } = checked;
        let work = async {
            if analysis.operation_type == OperationType::Query && prepared.runnable().is_some() {
                let (plan, variables) = (prepared.clone(), request.variables.clone());
                let (viewer, services) = (viewer.clone(), services.clone());
                // On its own task for the same reason as `execute_on_task`.
                let task = tokio::spawn(
                    async move {
                        match plan.runnable() {
                            Some(plan) => {
                                plan.execute(&services, viewer.as_ref(), &variables).await
                            }
                            None => Err(Fallback),
                        }
                    }
                    .in_current_span(),
                );
                match task.await {
                    Ok(Ok(body)) => return Answer::Compiled(body),
                    Ok(Err(Fallback)) => {}
                    Err(e) => tracing::error!(error = %e, "compiled operation task failed"),
                }
            }
            let request = request
                .data(RequestViewer(viewer))
                .data(super::loaders::request_loader(services.db.clone()))
                .data(services);
            Answer::Executed(self.execute_on_task(request, &prepared).await)
        };
        self.traced(&analysis, work).await
    }

    /// Every operation runs on its own task. Mutations: a client that disconnects or a request
    /// timeout must not cancel one between Stripe's answer and the local write. Queries: a
    /// future dropped mid-statement makes the pool close that connection, so a disconnecting
    /// client would cost a reconnect; finishing the statement is cheaper.
    /// The request gets its parsed document here, so async-graphql does not parse it again.
    async fn execute_on_task(&self, mut request: Request, prepared: &Arc<Prepared>) -> Response {
        let executable = prepared.executable(&self.types);
        request.set_parsed_query(executable.clone());
        let variables = request.variables.clone();
        let schema = self.schema.clone();
        let task = tokio::spawn(async move { schema.execute(request).await }.in_current_span());
        let response = match task.await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = %e, "operation task failed");
                return Response::from_errors(vec![server_error(
                    ErrorCode::Internal,
                    "internal error",
                )]);
            }
        };
        if response.errors.is_empty() {
            // Valid: kept parsed, and its compiled plan (if any) may run from now on.
            self.operations.keep(prepared);
        }
        let response = completion::complete(
            &self.types,
            executable,
            prepared.operation_name(),
            &variables,
            response,
        );
        with_codes(response)
    }

    /// One span per operation with its name, kind, cost and error codes, and its metrics.
    async fn traced<T: Outcome>(&self, analysis: &Analysis, work: impl Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let span = tracing::info_span!(
            "graphql",
            operation = analysis.operation_name.as_deref().unwrap_or("-"),
            kind = kind_name(analysis.operation_type),
            cost = analysis.cost,
            compiled = tracing::field::Empty,
            errors = tracing::field::Empty,
        );
        let outcome = work.instrument(span.clone()).await;
        let codes = outcome.codes();
        if outcome.compiled() {
            span.record("compiled", true);
            crate::metrics::graphql_compiled(analysis.operation_name.as_deref());
        }
        if !codes.is_empty() {
            span.record("errors", codes.join(",").as_str());
        }
        crate::metrics::graphql_operation(
            analysis.operation_name.as_deref(),
            kind_name(analysis.operation_type),
            codes.first().map_or("OK", String::as_str),
            started.elapsed(),
        );
        outcome
    }
}

/// What tracing and metrics read from an operation's result.
trait Outcome {
    fn codes(&self) -> Vec<String>;
    fn compiled(&self) -> bool {
        false
    }
}

impl Outcome for Response {
    fn codes(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter_map(|e| match e.extensions.as_ref()?.get("code")? {
                async_graphql::Value::String(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }
}

impl Outcome for Answer {
    fn codes(&self) -> Vec<String> {
        match self {
            Answer::Executed(response) => response.codes(),
            Answer::Compiled(_) => Vec::new(),
        }
    }

    fn compiled(&self) -> bool {
        matches!(self, Answer::Compiled(_))
    }
}

impl GuardedSchema {
    /// Runs a checked request as a stream (subscriptions; a query yields one response) with
    /// the connection's data.
    pub fn stream(&self, checked: Checked, session: Arc<Data>) -> BoxStream<'static, Response> {
        let Checked {
            mut request,
            prepared,
            ..
        } = checked;
        request.set_parsed_query(prepared.executable(&self.types).clone());
        let variables = request.variables.clone();
        let types = self.types.clone();
        self.schema
            .execute_stream_with_session_data(request, session)
            .map(move |response| {
                let executable = prepared.executable(&types);
                let operation = prepared.operation_name();
                with_codes(completion::complete(
                    &types, executable, operation, &variables, response,
                ))
            })
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
