// Package audit is the verifier's access log: every verification, wallet
// login and consent access decision is recorded, with who asked, for which
// patient, what, why, when and the outcome, so that a patient can see who
// touched their data and prove that the log was not quietly edited.
//
// # What an entry holds
//
// An Entry names the verifier and client that asked, the patient as a
// pseudonym, the credential types, the NAMES of the disclosed claims (never
// their values), the scopes, the purpose of use, the outcome (permit, deny,
// verified, failed) and the reason codes. No token, credential, key or
// claim value is ever part of an entry.
//
// # Pseudonyms
//
// The patient is never stored by DID. For each patient DID the server
// derives a per-patient salt, salt = HMAC-SHA256(secret, "medid/audit/salt"
// || 0x00 || DID), under a server secret, and the pseudonym is
// base64url(HMAC-SHA256(salt, DID)) (see PseudonymFrom). The patient's
// wallet, given its own salt (Service.PatientSalt), computes the same
// pseudonym; a salt reveals nothing about any other patient's pseudonym.
//
// # Commitments on the ledger
//
// The details of an entry stay in the kv.Store. What goes on the ledger is
// a salted commitment:
//
//	commitment = base64url(SHA-256(salt32 || JCS(entry)))
//
// where salt32 is 32 fresh random bytes kept with the entry (and shown only
// to the patient, through ListForPatient) and JCS(entry) is the RFC 8785
// canonical JSON of the entry (see VerifyEntry). The ledger entry is the
// JCS object
//
//	{"commitment":"…","time":"…","type":"access-log/entry","v":1}
//
// (LedgerEntry), which holds no patient data in clear: without the salt,
// the commitment cannot be tested against a guess of the entry. The ledger
// index of the leaf is stored with the entry, so the patient can fetch the
// leaf (or an inclusion proof for it) and check that the entry was logged.
//
// # The per-patient chain
//
// Entries about one patient form a hash chain: the n-th entry (seq n,
// starting at 1) carries in prev the commitment of the patient's entry
// n-1 ("" for the first), and prev and seq are part of the committed
// JSON. A patient who lists their entries checks, with VerifyChain, that
// every commitment recomputes from its entry and salt, that the sequence
// numbers run 1, 2, … without a gap and that each prev is the previous
// commitment. Removing (or altering) any entry other than the newest one
// breaks the chain; removing the newest entries shortens it, which a
// patient detects by comparing with a sequence number or commitment seen
// before, or by finding a ledger leaf at the stored index that no listed
// entry explains. The chain's head per patient is advanced by a write
// conditional on the head it replaces (kv.Store.PutAllIf), which stores
// the entries behind it in the same commit, so concurrent records for one
// patient never fork it, on one instance or several. Within one process
// the records queued for a patient while such a write runs share the next
// one. A patient's chain order need not be their leaves' order.
//
// An entry is written to the store before its commitment is appended to
// the ledger. Record then waits for the append; if it fails, Record
// undoes the entry when it is still the patient's newest and otherwise
// keeps it, without a leaf index, so that the chain stays whole. Record
// returns an error in both cases and the caller must not act as if the
// event had been logged. Log returns once the entry is stored, pending,
// and appends its commitment in the background, retrying, and committing
// at the next start what a stop left pending.
//
// # The journal
//
// With Options.Journal (a store that this process alone writes, such as
// an embedded bbolt file), "stored" means synced to a write-ahead journal:
// one append and one file sync shared by the entries that arrived during
// the previous sync, rather than a store commit. The chain heads not yet
// in the store are kept in memory, a background applier writes the
// journal's records to the store with the number of the last one applied
// (so that a restart applies each exactly once), and List, ListForPatient
// and CommitPending first wait for the records already answered. If the
// journal cannot be written, Log and Record fail from then on, until a
// restart: no event is answered as logged that is not. See journal.go for
// the file format and the recovery rules.
package audit
