//! The embedded UI files: types, caching, CSP.

use crate::support::TestServer;

#[test]
fn index_and_assets_are_served_with_types_etags_and_a_strict_csp() {
    let server = TestServer::start();
    let anon = server.anonymous();
    for path in ["/", "/ui/integrations", "/ui/providers/stripe"] {
        let page = anon.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(page.header("cache-control"), Some("no-cache"));
        let csp = page.header("content-security-policy").expect("csp");
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(page.text.contains("/assets/js/app.js"));
    }
    let js = anon.get("/assets/js/app.js");
    assert_eq!(js.status, 200);
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    let css = anon.get("/assets/app.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    let etag = js.header("etag").expect("etag").to_owned();
    let again = anon.send("GET", "/assets/js/app.js", None, &[("if-none-match", &etag)]);
    assert_eq!(again.status, 304);
    assert!(again.text.is_empty());

    assert_eq!(anon.get("/assets/nope.js").status, 404);
    assert_eq!(anon.get("/assets/../Cargo.toml").status, 404);
    // The API is untouched by the UI routes.
    assert_eq!(anon.get("/api/v1/tenants").status, 401);
}
