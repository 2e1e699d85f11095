//! The `tollgate` binary itself: configuration errors, schema export, token minting.

use std::process::Command;

use crate::helpers::{repo_root, JWT_SECRET};

fn tollgate(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        // A .env in the working directory would leak into the test.
        .current_dir(dir.path())
        .output()
        .expect("run tollgate")
}

#[test]
fn missing_configuration_stops_startup_with_one_line_naming_it() {
    let out = tollgate(&["serve"], &[("JWT_SECRET", JWT_SECRET)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("STRIPE_SECRET_KEY"), "{stderr}");

    let out = tollgate(&["serve"], &[("STRIPE_SECRET_KEY", "sk_test_x")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_SECRET"));

    let out = tollgate(
        &["serve"],
        &[
            ("STRIPE_SECRET_KEY", "sk_test_x"),
            ("JWT_SECRET", JWT_SECRET),
            ("BIND_ADDR", "nowhere"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BIND_ADDR") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn schema_graphql_matches_the_live_schema() {
    let committed =
        std::fs::read_to_string(repo_root().join("schema.graphql")).expect("schema.graphql");
    let live = tollgate::graphql::sdl();
    assert!(
        committed == live,
        "schema.graphql is out of date: run `cargo run -- export-schema -o schema.graphql`"
    );
    let out = tollgate(&["export-schema"], &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        live,
        "the CLI exports the same SDL"
    );
}

#[test]
fn token_mints_a_verifiable_admin_token() {
    let out = tollgate(
        &["token", "--sub", "u1", "--admin"],
        &[("JWT_SECRET", JWT_SECRET)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let source = |name: &str| (name == "JWT_SECRET").then(|| JWT_SECRET.to_string());
    let jwt = tollgate::config::JwtConfig::load(&source).expect("jwt config");
    let viewer = tollgate::auth::Authenticator::new(&jwt)
        .expect("auth")
        .verify(&token)
        .expect("valid");
    assert_eq!(viewer.user_id, "u1");
    assert!(viewer.is_admin());
}

#[test]
fn migrate_creates_the_default_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("migrate")
        .env_clear()
        .env("LOG_FORMAT", "json")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("tollgate.db").exists(),
        "DATABASE_URL defaults to ./tollgate.db"
    );
}

/// Every element of the schema a client reads about in GraphiQL's docs pane: types, fields,
/// arguments, enum values and input fields, described. (graphql-schema-linter's description
/// rules run over `schema.graphql` in `web/tests/protocol` too.)
#[test]
fn every_schema_element_has_a_description() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(tollgate::graphql::sdl()).expect("SDL parses");
    let mut missing = Vec::new();
    for definition in doc.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        if ty.description.is_none() {
            missing.push(format!("type {name}"));
        }
        let mut fields = |fields: &[async_graphql::Positioned<
            async_graphql::parser::types::FieldDefinition,
        >]| {
            for f in fields {
                let field = &f.node;
                if field.description.is_none() {
                    missing.push(format!("field {name}.{}", field.name.node));
                }
                for arg in &field.arguments {
                    if arg.node.description.is_none() {
                        missing.push(format!(
                            "argument {name}.{}({})",
                            field.name.node, arg.node.name.node
                        ));
                    }
                }
            }
        };
        match &ty.kind {
            TypeKind::Object(o) => fields(&o.fields),
            TypeKind::Interface(i) => fields(&i.fields),
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if v.node.description.is_none() {
                        missing.push(format!("enum value {name}.{}", v.node.value.node));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                for f in &input.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("input value {name}.{}", f.node.name.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "{} schema elements without a description:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
