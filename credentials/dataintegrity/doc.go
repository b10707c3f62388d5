// Package dataintegrity creates and verifies W3C Data Integrity proofs
// (DataIntegrityProof) on JSON-LD documents, such as VC Data Model 2.0
// credentials and presentations, with the cryptosuites eddsa-rdfc-2022
// (Ed25519, VC-DI-EdDSA) and ecdsa-rdfc-2019 (P-256 and P-384,
// VC-DI-ECDSA).
//
// Both suites canonicalize with RDFC-1.0 (credentials/jsonld, fully
// offline), hash the canonical proof configuration and the canonical
// document, sign the concatenation of the two hashes, and carry the
// signature as a base58btc multibase proofValue. The verification method is
// a DID URL.
//
// Verify is a pure function of its inputs: public keys come from a
// KeyResolver the caller supplies, and the time from VerifyOptions.Now. It
// returns a *Verified only when every check passed; otherwise an error that
// wraps the sentinel of the check that failed (ErrSignature, ErrChallenge,
// …) and, for JSON-LD problems, the credentials/jsonld error that names the
// unknown term or context.
package dataintegrity
