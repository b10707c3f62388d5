// Package ledger is medid's append-only, verifiable log: the source of truth
// that DID resolution is checked against.
//
// A [Log] wraps a [tessera] POSIX log in one directory. [Open] takes an
// exclusive flock on the directory (two appenders on one directory corrupt
// it, and tessera's own fcntl locks do not exclude a second appender in the
// same process), [Log.Append] returns once an entry is durably sequenced and
// integrated, and a signed checkpoint covering it is published within
// 2 seconds (see [Config] for why the defaults guarantee that).
//
// Reads are built for the resolution hot path: [Log.Checkpoint] serves a
// cached, signature-verified checkpoint and [Log.InclusionProof] caches proofs
// and the tiles behind them. [Handler] serves the C2SP tlog-tiles read API so
// that outside parties (see package audit) can check the log without trusting
// the server.
//
// The pure helpers [VerifyCheckpoint] and [VerifyInclusion] are for clients:
// they do no I/O and return only verified values.
//
// # Design notes
//
//   - Batching: with fewer concurrent writers than the batch size, tessera's
//     default 250 ms batch age caps appends at about 60/s; the default here is
//     10 ms.
//   - Checkpoints: tessera's publisher publishes at most once per checkpoint
//     interval and can take up to two intervals after an integration. The
//     interval therefore defaults to 500 ms and is capped at 900 ms.
//   - Shutdown: tessera's shutdown returns at once when only index 0 was
//     issued and can hang without a deadline. [Log.Close] bounds it (5 s when
//     the context has none) and waits itself for a checkpoint covering every
//     sequenced entry.
//   - Back-pressure: tessera's POSIX driver never pushes back, so the Log
//     bounds in-flight appends itself and returns [ErrPushback] beyond
//     Config.MaxOutstanding.
//
// [tessera]: https://github.com/transparency-dev/tessera
package ledger
