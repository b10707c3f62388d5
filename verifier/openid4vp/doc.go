// Package openid4vp is medid's OpenID for Verifiable Presentations 1.0
// verifier: presentation sessions created by an admin or a registered
// client, signed request objects fetched by request_uri (client_id prefixes
// decentralized_identifier, x509_san_dns, and unsigned redirect_uri), and
// the response endpoint for the direct_post and direct_post.jwt response
// modes, with same-device redirects carrying a response_code, a status URL,
// server-sent events and webhooks for cross-device callers.
//
// The package checks the protocol; it does not verify credentials itself.
// It consumes two small interfaces that the caller plugs in: a
// PresentationVerifier (the verification core) and a QueryEngine (DCQL);
// DCQL is the QueryEngine over credentials/dcql, which also parses the
// queries and vp_tokens here.
//
// Sessions are sealed at rest. Nonces and response codes are single-use
// (consumed with kv.Store.Take) and everything expires. Presentations,
// claims, nonces and response codes are never logged.
package openid4vp
