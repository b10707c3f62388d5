// Package did holds medid's decentralized-identifier domain types: DIDs and
// DID URLs parsed once into typed values (W3C DID Core 1.0 §3), the DID
// document data model with its JSON form, the DID resolution result and
// metadata (W3C DID Resolution), and a Resolver that dispatches to DID
// methods.
//
// The package is pure: it performs no I/O of its own and keeps no global
// state. DID methods (did:key, did:jwk, did:web, medid's own ledger-backed
// method) live in subpackages and implement the small Method interface; the
// HTTP binding of the resolver lives in didhttp.
//
// Errors returned by parsing, resolution and dereferencing wrap one of the
// sentinel errors below (ErrInvalidDID, ErrNotFound, ...); ErrorType maps an
// error to the W3C DID Resolution error code that names it.
package did
