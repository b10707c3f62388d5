// Package vpclient is the wallet side of OpenID for Verifiable
// Presentations 1.0: it parses openid4vp:// authorization request links,
// fetches request objects by request_uri (GET, or POST with a wallet_nonce
// when request_uri_method=post), verifies them for their client_id prefix
// (decentralized_identifier: a JWS by an authentication or assertionMethod
// key of the verifier's DID; redirect_uri: unsigned, passed by value),
// and posts the Authorization Response with the request's response mode
// (direct_post, or direct_post.jwt encrypted with ECDH-ES to the
// verifier's key).
//
// Parsers of requests return only checked values: VerifyRequestObject and
// RequestByValue return a *Request whose signature (if any), client_id,
// audience, response mode, response_uri and DCQL query have all been
// checked. The package is a protocol client only: the caller supplies the
// *http.Client, the key lookup (KeyFunc; DIDKeys builds one over a DID
// resolver) and the clock, and decides what to present. Nonces, states and
// presentations are never logged.
package vpclient
