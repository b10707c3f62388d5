// Package ld is the JSON-LD 1.1 context processing and expansion of
// github.com/piprate/json-gold v0.4.2 (package ld), copied under its Apache
// License 2.0 (LICENSE here) and trimmed to what credentials/jsonld uses:
// api.go, api_expand.go, context.go, errors.go, options.go, url.go,
// utils.go and the DocumentLoader interface.
//
// medid's changes, marked in each file they touch:
//
//   - Context.EnableScopedCache memoizes the application of type-,
//     property- and term-scoped contexts. Upstream reprocesses them, and
//     copies the whole active context, at every node that uses them, which
//     is most of the cost of signing a VC 2.0 credential.
//   - Processed contexts are treated as immutable: the previous context is
//     shared rather than deep-copied.
//   - There is no network document loader, and no default loader at all.
//
// The upstream module still serves aries-framework-go and the tests, which
// check this copy's output against upstream's.
package ld
