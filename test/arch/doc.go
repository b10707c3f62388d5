// Package arch holds tests that enforce the module's shape: every package
// has a doc comment, and imports go one way (did ← credentials ←
// issuer/verifier/walletapi; only internal/app picks a storage backend).
package arch
