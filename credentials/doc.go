// Package credentials groups medid's verifiable credential formats (one
// subpackage each), status lists and healthcare credential types. The
// credential types themselves (their claims, validation rules, JSON Schemas,
// JSON-LD context and SD-JWT VC type metadata) live in health and are shared
// by every format, so a claim means the same thing whichever envelope
// carries it. Packages here may import did but never issuer, verifier or
// wallet-api.
package credentials
