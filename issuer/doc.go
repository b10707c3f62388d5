// Package issuer is medid's credential issuer: OpenID4VCI 1.0 (credential
// offers with the pre-authorized code flow, token, nonce and credential
// endpoints with key proofs and batch issuance) over credential formats that
// plug in as Minters.
//
// Pre-authorized codes, access tokens and nonces are stored by their SHA-256
// hash and consumed with an atomic take; the claims of a pending offer are
// sealed at rest and deleted once redeemed or expired.
package issuer
