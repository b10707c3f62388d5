// Package di checks medid's Data Integrity proofs (credentials/dataintegrity)
// against an independent implementation: digitalbazaar's jsonld-signatures,
// @digitalbazaar/data-integrity and the eddsa-rdfc-2022 and ecdsa-rdfc-2019
// cryptosuites, run by node on di.mjs with an offline document loader fed
// the very contexts credentials/jsonld bundles. Node verifies what we sign
// and signs what we then verify.
//
// Install the pinned Node packages (package-lock.json) with
//
//	npm ci --prefix test/interop/di
//
// The test skips when test/interop/di/node_modules is absent, unless CI=true,
// in which case it fails.
package di
