// Package oidc makes medid's verifier an OpenID Connect Provider for
// registered client platforms: "sign in with your health wallet".
//
// A client platform (a telemedicine site, say) is registered by an admin
// with its redirect URIs and the claims it may receive. It then runs the
// ordinary authorization code flow with PKCE (S256) against the provider's
// issuer, BaseURL + "/oidc": discovery at
// /oidc/.well-known/openid-configuration, /oidc/authorize, /oidc/token,
// /oidc/userinfo and /oidc/jwks. The authorize page runs OpenID4VP (through
// the Presentations interface) for the patient's PatientIdentityCredential:
// a QR code for a wallet on another device and a link for one on this
// device. Once the wallet's presentation is verified the page continues to
// the client with a single-use authorization code.
//
// ID tokens are ES256 JWTs whose sub is pairwise: HMAC-SHA256 of the
// client's sector (the host of its redirect URIs) and the patient's DID,
// under a server secret, so two clients cannot correlate a patient. They
// and the userinfo endpoint carry only the claims the patient disclosed
// and the client registered for.
//
// Authorization codes and access tokens are stored by hash, sealed (they
// hold the disclosed claims) and expire; codes are consumed with
// kv.Store.Take, and a replayed code revokes the access token issued for
// it. Tokens, codes, secrets and claims are never logged.
package oidc
