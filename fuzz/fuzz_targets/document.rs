//! Every document a client can send, through the same checks the server runs before anything
//! executes (`GuardedSchema::check`: size, bracket nesting, parse, cost, a subscription's single
//! root field), on a 2 MiB stack like tokio's workers: a document nested a few hundred
//! brackets deep once overflowed one there and aborted the process. Refused or accepted,
//! never a crash.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::graphql::executor::GuardedSchema;

fn guarded() -> &'static GuardedSchema {
    static SCHEMA: OnceLock<GuardedSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        GuardedSchema::new(tollgate::graphql::schema_builder().finish(), true)
            .expect("the schema's checks build")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let text = text.to_owned();
    let schema = guarded();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let _ = schema.check(async_graphql::Request::new(text));
        })
        .expect("a thread")
        .join()
        .expect("the checks do not panic");
});
