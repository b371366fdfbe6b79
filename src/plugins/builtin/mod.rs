//! Plugins shipped in the binary: published at start-up (and upgraded when the binary
//! carries a higher version), installable like any other.
//!
//! - `calendly`: a provider the catalog lacks (Calendly's signed invitee webhooks) with
//!   an `onInbound` turning a booking into a pending signup;
//! - `slack-signups`: an `onOutbound` reshaping `signup.created` into a Slack
//!   incoming-webhook message.

use super::manifest::{Manifest, Package};

struct Shipped {
    manifest: &'static str,
    providers: Option<&'static str>,
    script: &'static str,
}

const SHIPPED: &[Shipped] = &[
    Shipped {
        manifest: include_str!("calendly/manifest.json"),
        providers: Some(include_str!("calendly/providers.toml")),
        script: include_str!("calendly/script.js"),
    },
    Shipped {
        manifest: include_str!("slack-signups/manifest.json"),
        providers: None,
        script: include_str!("slack-signups/script.js"),
    },
];

/// The shipped packages.
pub fn packages() -> Vec<Package> {
    SHIPPED
        .iter()
        .filter_map(|s| {
            let manifest: Manifest = match serde_json::from_str(s.manifest) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "a built-in plugin manifest does not parse");
                    return None;
                }
            };
            Some(Package {
                manifest,
                providers: s.providers.map(str::to_owned),
                script: Some(s.script.to_owned()),
                platform_wide: Some(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::Catalog;
    use crate::plugins::manifest::check;
    use crate::plugins::sandbox::Limits;
    use crate::plugins::transform::{InboundAction, OutboundAction, OutboundMessage, run_inbound, run_outbound};

    #[test]
    fn shipped_packages_pass_validation() {
        let packages = packages();
        assert_eq!(packages.len(), SHIPPED.len());
        for package in packages {
            check(package, &Catalog::built_in().unwrap(), Limits::default()).unwrap();
        }
    }

    #[test]
    fn calendly_booking_becomes_a_contact() {
        let script = include_str!("calendly/script.js");
        let body = json!({
            "event": "invitee.created",
            "created_at": "2026-03-02T10:00:00.000000Z",
            "created_by": "https://api.calendly.com/users/AAAA",
            "payload": {
                "email": "ana@example.com", "first_name": "Ana", "last_name": "Lima", "name": "Ana Lima",
                "uri": "https://api.calendly.com/scheduled_events/EV1/invitees/INV1",
                "status": "active",
                "scheduled_event": {"name": "Intro Call", "uri": "https://api.calendly.com/scheduled_events/EV1"}
            }
        });
        let event = json!({"type": "invitee.created", "payload": body});
        let run = |config| run_inbound(Limits::default(), script, &event, &config, 0, 1).unwrap();
        let InboundAction::Contact(contact) = run(json!({})) else {
            panic!("no contact")
        };
        assert_eq!(contact.email, "ana@example.com");
        assert_eq!(contact.event_name.as_deref(), Some("Intro Call"));
        assert_eq!(
            contact.reference.as_deref(),
            Some("https://api.calendly.com/scheduled_events/EV1/invitees/INV1")
        );
        assert_eq!(run(json!({"event_types": "Demo, Other"})), InboundAction::StoreOnly);
        assert!(matches!(
            run(json!({"event_types": "intro call"})),
            InboundAction::Contact(_)
        ));
    }

    #[test]
    fn slack_message_has_text() {
        let script = include_str!("slack-signups/script.js");
        let message = json!({"type": "signup.created", "timestamp": "t", "data": {
            "email": "ana@example.com", "first_name": "Ana", "last_name": "Lima", "provider": "calendly", "event_name": "Intro Call"}});
        let input = OutboundMessage {
            event_type: "signup.created",
            url: "https://hooks.slack.com/services/x",
            message: &message,
        };
        let entry = vec!["onOutbound".to_owned()];
        let out = run_outbound(
            Limits::default(),
            script,
            &entry,
            &input,
            &json!({"prefix": ":tada:"}),
            0,
            1,
        )
        .unwrap();
        let OutboundAction::Send { body, .. } = out else {
            panic!("skipped")
        };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"text": ":tada: New signup: Ana Lima <ana@example.com> from calendly (Intro Call)"})
        );
    }
}
