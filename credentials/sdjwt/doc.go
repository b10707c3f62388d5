// Package sdjwt implements Selective Disclosure for JWTs (SD-JWT, RFC 9901)
// and the SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc) for medid's three
// roles:
//
//   - the Issuer builds Disclosures for the claims a Policy makes
//     selectively disclosable (object members and array elements, nested
//     to any depth), adds decoy digests, signs the Issuer-signed JWT with a
//     keys.PrivateKey and returns the compact form
//     <issuer-jwt>~<disclosure>~…~ (Issue, IssueVC);
//   - the Holder keeps only the Disclosures it chooses to reveal and may
//     append a Key Binding JWT over the result (Present);
//   - the Verifier checks everything in one call and gets back only what
//     was disclosed and verified (Verify). There is no way to skip a check.
//
// Only the compact serialization, SHA-256 digests (_sd_alg "sha-256") and the
// signature algorithms ES256 and EdDSA are supported. Compact JWS are made
// and checked with crypto/ecdsa and crypto/ed25519 directly. The package
// performs no I/O of its own: the Verifier supplies the issuer key through
// VerifyOptions.IssuerKey (or IssuerKeyAt, which also gets the iat) and the
// clock through VerifyOptions.Now.
//
// Errors from Verify wrap the sentinels below (ErrSignature, ErrExpired,
// ErrDisclosure, ErrKeyBinding, …), so a caller can report which check
// failed with errors.Is. Failures of the Key Binding JWT wrap ErrKeyBinding
// and, where one fits, a more specific sentinel such as ErrNonce.
//
// Claim values are handled as decoded JSON: map[string]any, []any, string,
// bool, nil and json.Number for numbers, so that no precision is lost.
// Claim paths are []any whose elements are a string (an object member) or an
// int (an array position); in a Policy, nil stands for every array element.
package sdjwt
