// Package vciclient is the wallet side of OpenID for Verifiable Credential
// Issuance 1.0, pre-authorized code flow: it parses credential offer links
// (by value and by reference), fetches and checks the credential issuer and
// authorization server metadata, redeems the pre-authorized code (with a
// transaction code when the offer asks for one), gets a c_nonce, builds
// openid4vci-proof+jwt key proofs and requests credentials, in batches when
// the issuer allows it.
//
// It is a protocol client only: the caller supplies the *http.Client, the
// holder keys and the clock, and decides what to verify and store. Secrets
// it handles (pre-authorized codes, access tokens) print redacted.
package vciclient
