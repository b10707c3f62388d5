// Package jsonld turns JSON-LD documents into RDF and canonicalizes that
// RDF with RDFC-1.0, fully offline.
//
// Three things set it apart from calling a JSON-LD library directly:
//
//   - A Loader serves only the contexts bundled here (go:embed) and the
//     ones its caller registers, such as the health context at an issuer's
//     base URL. Asked for any other URL it fails with an
//     *UnknownContextError; nothing here opens a socket.
//   - Nothing is dropped silently. A property or type that does not map to
//     an absolute IRI is refused with an *UnknownTermError naming the term,
//     and an identifier that is not an absolute IRI or a blank node with an
//     *InvalidIRIError, so that a signature never covers less than the
//     document says.
//   - It is fast: processed contexts are cached by value, scoped contexts
//     are applied once per context rather than at every node, conversion
//     to RDF is direct, and Canonicalize is its own RDFC-1.0 (RDF Dataset
//     Canonicalization 1.0), bounded against poison graphs.
//
// Expansion is json-gold's (github.com/piprate/json-gold v0.4.2), from a
// trimmed copy in internal/ld that adds the scoped-context memo; the tests
// check every stage against upstream json-gold (expansion through
// URDNA2015) and the RDF canonicalization test suite. No json-gold type
// appears in this package's API.
package jsonld
