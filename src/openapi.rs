//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the route table
//! ([`crate::api::routes`]), so the description cannot drift from what the router serves.

use std::sync::OnceLock;

use axum::Json;
use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::api::{Access, ApiRoute};

/// The `{name}` and `{*name}` segments of a route path, in order.
pub fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|s| s.trim_start_matches('*'))
        .collect()
}

/// The path as OpenAPI writes it: `{*path}` becomes `{path}`.
pub fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn operation(route: &ApiRoute) -> Value {
    let parameters: Vec<Value> = path_parameters(route.path)
        .into_iter()
        .map(|name| {
            let description = match name {
                "tenant" => "The tenant's id or slug",
                "provider" => "A provider key from the catalog",
                _ => "Identifier",
            };
            json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
        })
        .collect();
    let mut responses = Map::new();
    responses.insert("2XX".into(), json!({"description": "Success"}));
    responses.insert("400".into(), problem_response("Invalid input"));
    responses.insert("404".into(), problem_response("Unknown thing (also another tenant's)"));
    if route.access != Access::Public {
        responses.insert(
            "401".into(),
            problem_response("Missing, invalid, expired or revoked token"),
        );
        responses.insert("403".into(), problem_response("Missing scope or another tenant"));
    }
    if route.path.starts_with("/api/") {
        responses.insert("429".into(), problem_response("Rate limited; see Retry-After"));
    }
    responses.insert("500".into(), problem_response("Internal error"));
    let (security, access_text) = match route.access {
        Access::Public => (json!([]), "public".to_owned()),
        Access::Authenticated => (
            json!([{"bearer": []}, {"session": []}]),
            "any valid token or session".to_owned(),
        ),
        Access::Platform => (json!([{"bearer": []}, {"session": []}]), "platform token".to_owned()),
        Access::PlatformUnlessMetricsPublic => (
            json!([{"bearer": []}, {"session": []}]),
            "platform token, or public when `metrics_public` is set".to_owned(),
        ),
        Access::Tenant(scope) => (
            json!([{"bearer": [scope.as_str()]}, {"session": [scope.as_str()]}]),
            format!("scope `{}` on the tenant", scope.as_str()),
        ),
        Access::Scoped(scope) => (
            json!([{"bearer": [scope.as_str()]}, {"session": [scope.as_str()]}]),
            format!("scope `{}` (platform tokens hold it)", scope.as_str()),
        ),
    };
    let segments: Vec<&str> = route
        .path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.starts_with('{'))
        .collect();
    let tag = segments
        .iter()
        .rev()
        .find(|s| !matches!(**s, "api" | "v1"))
        .copied()
        .unwrap_or("tessera");
    let operation_id = format!(
        "{}_{}",
        route.method.as_str().to_ascii_lowercase(),
        openapi_path(route.path)
            .replace(['{', '}'], "")
            .trim_matches('/')
            .replace(['/', '-', '.'], "_")
    );
    json!({
        "summary": route.summary,
        "description": format!("Access: {access_text}."),
        "operationId": operation_id,
        "tags": [tag],
        "parameters": parameters,
        "security": security,
        "x-tessera-access": access_text,
        "responses": responses,
    })
}

/// The methods a row stands for (`ANY` rows list the usual verbs).
fn methods(route: &ApiRoute) -> Vec<String> {
    if [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(&route.method) {
        vec![route.method.as_str().to_ascii_lowercase()]
    } else {
        ["get", "post", "put", "patch", "delete"]
            .iter()
            .map(|m| m.to_string())
            .collect()
    }
}

pub fn document(routes: &[ApiRoute]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths.entry(openapi_path(route.path)).or_insert_with(|| json!({}));
        for method in methods(route) {
            item[method] = operation(route);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tessera",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Self-hosted integration hub for multi-tenant platforms. Errors are RFC 9457 problem documents; every /api answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API token `tsr_…`"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tessera_session", "description": "UI session; state-changing requests also need X-CSRF-Token"}
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail", "code"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "code": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}
                    }
                }
            }
        }
    })
}

pub async fn openapi_json() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(|| document(&crate::api::routes())).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_braced_segments() {
        assert_eq!(
            path_parameters("/api/v1/tenants/{tenant}/consents/{id}"),
            ["tenant", "id"]
        );
        assert_eq!(
            path_parameters("/api/v1/tenants/{tenant}/proxy/{provider}/{*path}"),
            ["tenant", "provider", "path"]
        );
        assert_eq!(openapi_path("/x/{*path}"), "/x/{path}");
    }

    #[test]
    fn every_table_row_is_described() {
        let routes = crate::api::routes();
        let doc = document(&routes);
        for route in &routes {
            let item = &doc["paths"][openapi_path(route.path)];
            for method in methods(route) {
                assert!(item[&method].is_object(), "{method} {} missing", route.path);
            }
        }
        let consents = &doc["paths"]["/api/v1/tenants/{tenant}/consents"]["post"];
        assert_eq!(consents["security"][0]["bearer"][0], "consents:write");
        assert_eq!(consents["parameters"][0]["name"], "tenant");
    }
}
