//! The OpenAPI document (docs/openapi.json), held against every answer a
//! test gets through the router: a status the document does not list for
//! that operation fails the test, so the document cannot fall behind what
//! the server answers anywhere the tests reach.

use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use serde_json::Value;

const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

fn document() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON"))
}

/// Whether `path` (no query) fits the document's path `template`, whose
/// `{name}` segments stand for any one non-empty segment.
fn fits(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t == p || (t.starts_with('{') && !p.is_empty()) => {}
            _ => return false,
        }
    }
}

/// The statuses the document lists for `method` on `path` (a literal path
/// wins over a template), or `None` when it has no such operation (an
/// unknown path, or a method the path does not take).
fn documented(method: &Method, path: &str) -> Option<Vec<String>> {
    let paths = document()["paths"].as_object()?;
    let item = paths.get(path).or_else(|| {
        paths
            .iter()
            .find(|(template, _)| fits(template, path))
            .map(|(_, item)| item)
    })?;
    let responses = item[method.as_str().to_ascii_lowercase()]["responses"].as_object()?;
    Some(responses.keys().cloned().collect())
}

/// Fails the test when the document has an operation for `method` on
/// `uri` that does not list `status` (nor its class, `4XX`, nor
/// `default`).
#[track_caller]
pub(crate) fn check(method: &Method, uri: &str, status: StatusCode) {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let Some(listed) = documented(method, path) else {
        return;
    };
    let code = status.as_str();
    let class = format!("{}XX", &code[..1]);
    assert!(
        listed
            .iter()
            .any(|s| s == code || s.eq_ignore_ascii_case(&class) || s == "default"),
        "{method} {path} answered {status}, which docs/openapi.json does not list for it \
         (it lists {listed:?})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fit_their_templates() {
        assert!(fits("/v1/users/{id}/ban", "/v1/users/7/ban"));
        assert!(fits("/v1/users/{id}/ban", "/v1/users/x/ban"));
        assert!(!fits("/v1/users/{id}/ban", "/v1/users//ban"));
        assert!(!fits("/v1/users/{id}/ban", "/v1/users/7/ban/x"));
        assert!(!fits("/v1/users", "/v1/users/7"));
        assert!(fits("/", "/"));
    }

    #[test]
    fn a_status_the_document_lists_passes_and_one_it_does_not_fails() {
        check(&Method::POST, "/v1/users/7/ban?x=1", StatusCode::NOT_FOUND);
        check(&Method::DELETE, "/v1/users/7/ban", StatusCode::IM_A_TEAPOT);
        check(&Method::GET, "/nowhere", StatusCode::IM_A_TEAPOT);
        let undocumented = std::panic::catch_unwind(|| {
            check(&Method::GET, "/healthz", StatusCode::IM_A_TEAPOT);
        });
        assert!(undocumented.is_err());
    }
}
