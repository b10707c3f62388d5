// Package verifier is medid's verification core: it checks verifiable
// credentials and presentations in every format medid and other issuers
// use, and returns what they prove only when every check passed.
//
// Formats: SD-JWT VCs (dc+sd-jwt, presented with a Key Binding JWT),
// jwt_vc_json credentials and JWT presentations (a vp claim with nonce and
// aud), VC 2.0 credentials secured with VC-JOSE-COSE (vc+jwt), and Data
// Integrity credentials and presentations through a pluggable
// DataIntegrityFunc (Options.DataIntegrity; without one they are refused
// with ErrUnsupported).
//
// Every verification runs the same named checks and reports each, in
// order, as a Check:
//
//   - signature: the issuer's signature (and the SD-JWT Disclosures), with
//     the issuer's key resolved through the DID resolver, for any method it
//     has, as of the credential's issuance time (cached for
//     Options.KeyCacheTTL: per document version when the resolution tells
//     the version's span, created or updated to nextUpdate, so credentials
//     issued at different times under one version share a resolution;
//     per second of issuance otherwise);
//   - validity: nbf/exp/iat or validFrom/validUntil, with a bounded,
//     configurable clock skew;
//   - status: the Token Status List or Bitstring Status List entry, fetched
//     and cached by verifier/statuscheck, signed by the credential's issuer;
//     an unreachable list fails the check unless Options.StatusUnreachable
//     says FailOpen;
//   - schema: the claims of medid's health credential types (see
//     credentials/health), where a selectively disclosed credential only
//     has to carry its never-disclosable claims and well-formed values;
//   - issuer_trust: the issuer is listed for one of the credential's types
//     (see verifier/trust);
//   - holder_binding: the presentation was made by the credential's holder
//     for our nonce and audience.
//
// A check that cannot run because an earlier one failed is reported as
// skipped. Success returns a *Verified (or *VerifiedPresentation), whose
// fields are unexported: nothing outside this package can make one, so a
// value of that type always went through verification. Failure returns a
// *VerificationError that lists every check. Input that is not a
// credential at all gives an error wrapping ErrMalformed, ErrTooLarge or
// ErrUnsupported.
//
// The core does no I/O of its own beyond its injected dependencies: the
// DID resolver and the status list fetcher.
package verifier
