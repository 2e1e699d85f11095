//! The pre-execution cost analysis on any parsable document: fragment bombs, fragment cycles,
//! deep nesting and odd arguments must be refused or counted, never panic or hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate::graphql::cost::{CostModel, LIMITS};

fn model() -> &'static CostModel {
    static MODEL: OnceLock<CostModel> = OnceLock::new();
    MODEL.get_or_init(|| CostModel::from_sdl(&tollgate::graphql::sdl()).expect("schema SDL parses"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = async_graphql::parser::parse_query(s) else {
        return;
    };
    let variables = async_graphql::Variables::default();
    if let Ok(analysis) = model().analyze(&doc, None, &variables, &LIMITS) {
        assert!(analysis.cost <= LIMITS.max_cost, "{analysis:?}");
        assert!(analysis.depth <= LIMITS.max_depth, "{analysis:?}");
    }
});
