//! `tessera bench token`: cached `/token` reads against `GET /healthz`.
