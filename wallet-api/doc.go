// Package walletapi is the patient's wallet behind a JSON API: accounts
// and sessions, holder keys and their DIDs, credentials received from
// OpenID4VCI issuers (through package vciclient) with their current status,
// the wallet's own history, and encrypted backups.
//
// Everything an account holds (private keys, credentials, history) is
// sealed at rest under that account's data key, a random AES-256 key that
// is itself sealed under the server's master key (a keys.Sealer). A record
// is bound to its account and its place in the store, so that it cannot be
// read as another's. Passwords are hashed with argon2id, parameters kept
// with each hash. Session tokens are random, stored only by their hash, and
// all of an account's sessions end when it signs out everywhere.
//
// Service holds the logic and takes domain values; Register adds the HTTP
// routes (problem+json errors, JSON bodies only, size limits).
package walletapi
