package ledger

import (
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults and limits applied by [Config.withDefaults] and [Config.Validate].
const (
	// DefaultBatchMaxAge is how long the first entry of a batch waits for
	// company before the batch is sequenced. Batches also grow on their
	// own under load (Append hands Tessera everything that queued while the
	// previous batch was written), so the age only matters to a lone
	// append. tessera's own default (250 ms) caps a log with few
	// concurrent writers at about 60 appends/s.
	DefaultBatchMaxAge = 2 * time.Millisecond
	// DefaultBatchMaxSize is the largest number of entries sequenced at
	// once. It is well above the access log's batches (up to 1,024
	// commitments in one AppendAll): tessera cuts a group larger than
	// this into several batches, and each batch writes its own partial
	// entry bundle, tree state and tiles, every file with a file and a
	// directory sync. At 2,000 verifications/s the access log's 500-entry
	// appends took 98-101 ms median cut at 256 and 54 ms in one batch, and
	// the journal's syncs queue behind those file syncs while they run.
	DefaultBatchMaxSize = 4096
	// DefaultCheckpointInterval is how often a new checkpoint may be
	// published. tessera can take up to two intervals to publish after an
	// integration, so 500 ms keeps acknowledged entries covered within 2 s.
	DefaultCheckpointInterval = 500 * time.Millisecond
	// DefaultMaxOutstanding bounds appends in flight (queued but not yet
	// sequenced); beyond it Append returns ErrPushback at once.
	DefaultMaxOutstanding = 4096
	// CheckpointRepublishInterval is how often an unchanged checkpoint is
	// re-signed and re-published, to show the log is alive.
	CheckpointRepublishInterval = time.Minute

	// MinCheckpointInterval is the smallest interval tessera accepts.
	MinCheckpointInterval = 100 * time.Millisecond
	// MaxCheckpointInterval is the largest interval that still guarantees a
	// checkpoint covering an acknowledged entry within 2 s.
	MaxCheckpointInterval = 900 * time.Millisecond
	// MaxBatchMaxAge bounds the batch age so appends stay interactive.
	MaxBatchMaxAge = time.Second
)

// ErrInvalidConfig is wrapped by every error [Config.Validate] returns.
var ErrInvalidConfig = errors.New("ledger: invalid config")

// Config configures [Open]. Only Dir, Signer and Origin are required.
type Config struct {
	// Dir is the log directory. It is created with mode 0700 if missing.
	Dir string
	// Signer signs checkpoints. It must be an Ed25519 key (its Public method
	// returns an ed25519.PublicKey); it may live in an HSM or KMS.
	Signer crypto.Signer
	// Origin is the checkpoint origin line and note key name, e.g.
	// "medid.example/ledger": the base URL's host and path, without scheme
	// or trailing slash. It must not contain spaces or '+'.
	Origin string
	// BatchMaxAge is how long a batch may wait before it is sequenced
	// (default DefaultBatchMaxAge).
	BatchMaxAge time.Duration
	// BatchMaxSize is the most entries sequenced at once (default
	// DefaultBatchMaxSize).
	BatchMaxSize uint
	// CheckpointInterval is the minimum time between published checkpoints
	// (default DefaultCheckpointInterval; between MinCheckpointInterval and
	// MaxCheckpointInterval).
	CheckpointInterval time.Duration
	// MaxOutstanding bounds appends in flight; beyond it Append returns
	// ErrPushback (default DefaultMaxOutstanding).
	MaxOutstanding uint
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.BatchMaxAge == 0 {
		c.BatchMaxAge = DefaultBatchMaxAge
	}
	if c.BatchMaxSize == 0 {
		c.BatchMaxSize = DefaultBatchMaxSize
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	return c
}

// Validate reports whether c, after defaults are applied, can open a log.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir is empty"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("Signer is nil"))
	}
	if !validName(c.Origin) {
		errs = append(errs, fmt.Errorf("Origin %q is not a valid note name (non-empty, no spaces, no '+')", c.Origin))
	}
	if c.BatchMaxAge < 0 || c.BatchMaxAge > MaxBatchMaxAge {
		errs = append(errs, fmt.Errorf("BatchMaxAge %v is outside (0, %v]", c.BatchMaxAge, MaxBatchMaxAge))
	}
	if c.CheckpointInterval < MinCheckpointInterval || c.CheckpointInterval > MaxCheckpointInterval {
		errs = append(errs, fmt.Errorf("CheckpointInterval %v is outside [%v, %v]", c.CheckpointInterval, MinCheckpointInterval, MaxCheckpointInterval))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// String describes c without its signing key.
func (c Config) String() string {
	return fmt.Sprintf("ledger.Config{Dir: %q, Origin: %q, BatchMaxAge: %v, BatchMaxSize: %d, CheckpointInterval: %v, MaxOutstanding: %d, Signer: [redacted]}",
		c.Dir, c.Origin, c.BatchMaxAge, c.BatchMaxSize, c.CheckpointInterval, c.MaxOutstanding)
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the signing key out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dir", c.Dir),
		slog.String("origin", c.Origin),
		slog.Duration("batch_max_age", c.BatchMaxAge),
		slog.Uint64("batch_max_size", uint64(c.BatchMaxSize)),
		slog.Duration("checkpoint_interval", c.CheckpointInterval),
		slog.Uint64("max_outstanding", uint64(c.MaxOutstanding)),
	)
}
