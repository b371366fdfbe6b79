use axum::http::{HeaderMap, HeaderValue};

use super::*;

fn spec(scheme: &str, header: &str) -> WebhookSpec {
    toml::from_str(&format!("scheme = \"{scheme}\"\nheader = \"{header}\"")).unwrap()
}

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    map
}

const NOW: i64 = 1_800_000_000;
const BODY: &[u8] = br#"{"type":"purchase.created","id":"evt_1"}"#;

fn run(spec: &WebhookSpec, secret: Option<&str>, h: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    verify(
        &VerifyInput {
            spec,
            secret,
            api_base_url: Some("https://www.eventbriteapi.com/v3"),
            now_unix: NOW,
        },
        h,
        body,
    )
}

#[test]
fn hmac_hex_good_prefixed_bad_missing_and_empty_secret() {
    let s = spec("hmac-sha256-hex", "X-Posh-Signature");
    let good = sign::hmac_hex("sec", BODY);
    assert_eq!(
        run(&s, Some("sec"), &headers(&[("x-posh-signature", good.clone())]), BODY),
        Ok(())
    );
    let gh = spec("hmac-sha256-hex", "X-Hub-Signature-256");
    let prefixed = format!("sha256={good}");
    assert_eq!(
        run(&gh, Some("sec"), &headers(&[("x-hub-signature-256", prefixed)]), BODY),
        Ok(())
    );
    assert_eq!(
        run(&s, Some("other"), &headers(&[("x-posh-signature", good.clone())]), BODY),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        run(&s, Some("sec"), &headers(&[("x-posh-signature", good.clone())]), b"{}"),
        Err(SignatureError::Mismatch),
        "body changed"
    );
    assert!(matches!(
        run(&s, Some("sec"), &HeaderMap::new(), BODY),
        Err(SignatureError::Missing(_))
    ));
    assert_eq!(
        run(&s, Some(""), &headers(&[("x-posh-signature", good.clone())]), BODY),
        Err(SignatureError::NoSecret)
    );
    assert_eq!(
        run(&s, None, &headers(&[("x-posh-signature", good)]), BODY),
        Err(SignatureError::NoSecret)
    );
    assert_eq!(
        run(&s, Some("sec"), &headers(&[("x-posh-signature", "zz".into())]), BODY),
        Err(SignatureError::Malformed)
    );
}

#[test]
fn hmac_base64() {
    let s = spec("hmac-sha256-base64", "X-Shopify-Hmac-Sha256");
    let good = sign::hmac_base64("shp", BODY);
    assert_eq!(
        run(&s, Some("shp"), &headers(&[("x-shopify-hmac-sha256", good)]), BODY),
        Ok(())
    );
    let bad = sign::hmac_base64("nope", BODY);
    assert_eq!(
        run(&s, Some("shp"), &headers(&[("x-shopify-hmac-sha256", bad)]), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn stripe_good_stale_multi_and_bad() {
    let s = spec("stripe", "Stripe-Signature");
    let good = sign::stripe("whsec_x", NOW - 10, BODY);
    assert_eq!(
        run(
            &s,
            Some("whsec_x"),
            &headers(&[("stripe-signature", good.clone())]),
            BODY
        ),
        Ok(())
    );
    let stale = sign::stripe("whsec_x", NOW - 301, BODY);
    assert_eq!(
        run(&s, Some("whsec_x"), &headers(&[("stripe-signature", stale)]), BODY),
        Err(SignatureError::Stale(300))
    );
    // During a secret roll Stripe sends one v1 per secret: any match is enough.
    let other = sign::stripe("whsec_old", NOW, BODY);
    let mine = sign::stripe("whsec_x", NOW, BODY);
    let multi = format!("{},{}", other, mine.split(',').nth(1).unwrap());
    assert_eq!(
        run(&s, Some("whsec_x"), &headers(&[("stripe-signature", multi)]), BODY),
        Ok(())
    );
    assert_eq!(
        run(&s, Some("whsec_x"), &headers(&[("stripe-signature", other)]), BODY),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        run(
            &s,
            Some("whsec_x"),
            &headers(&[("stripe-signature", format!("t={NOW}"))]),
            BODY
        ),
        Err(SignatureError::Malformed)
    );
    let mux = spec("stripe", "Mux-Signature");
    let sig = sign::stripe("muxsecret", NOW, BODY);
    assert_eq!(
        run(&mux, Some("muxsecret"), &headers(&[("mux-signature", sig)]), BODY),
        Ok(())
    );
}

#[test]
fn standard_webhooks_good_multi_stale_bad() {
    let s = spec("standard-webhooks", "webhook-signature");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sig = sign::standard_webhooks(secret, "msg_1", NOW, BODY);
    let h = |sig: String, ts: i64| {
        headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig),
        ])
    };
    assert_eq!(run(&s, Some(secret), &h(sig.clone(), NOW), BODY), Ok(()));
    let other = sign::standard_webhooks("whsec_b3RoZXJzZWNyZXQ=", "msg_1", NOW, BODY);
    assert_eq!(run(&s, Some(secret), &h(format!("{other} {sig}"), NOW), BODY), Ok(()));
    assert_eq!(
        run(&s, Some(secret), &h(other, NOW), BODY),
        Err(SignatureError::Mismatch)
    );
    let old = sign::standard_webhooks(secret, "msg_1", NOW - 400, BODY);
    assert_eq!(
        run(&s, Some(secret), &h(old, NOW - 400), BODY),
        Err(SignatureError::Stale(300))
    );
    assert_eq!(
        run(&s, Some(secret), &h(sig, NOW + 1), BODY),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn unknown_scheme_fails_closed() {
    let s = spec("md5-of-vibes", "X-Sig");
    assert!(matches!(
        run(&s, Some("k"), &headers(&[("x-sig", "a".into())]), BODY),
        Err(SignatureError::UnknownScheme(_))
    ));
}

#[test]
fn eventbrite_trusts_only_its_own_api_host() {
    let s = spec("eventbrite-fetch", "");
    let ok = br#"{"api_url":"https://www.eventbriteapi.com/v3/orders/123/","config":{"action":"order.placed"}}"#;
    assert_eq!(run(&s, None, &HeaderMap::new(), ok), Ok(()));
    for bad in [
        &br#"{"api_url":"https://evil.example/v3/orders/1/"}"#[..],
        br#"{"api_url":"http://www.eventbriteapi.com/v3/orders/1/"}"#,
        br#"{"api_url":"https://www.eventbriteapi.com.evil.example/v3/"}"#,
        br#"{"api_url":"https://user@www.eventbriteapi.com/v3/orders/1/"}"#,
        br#"{"config":{}}"#,
        b"not json",
    ] {
        assert_eq!(run(&s, None, &HeaderMap::new(), bad), Err(SignatureError::UntrustedUrl));
    }
}

#[test]
fn standard_webhooks_matches_the_spec_test_vector() {
    // From the Standard Webhooks reference libraries' tests.
    let sig = sign::standard_webhooks(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
