package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrInvalidVerifierKey is returned for a malformed note verifier key.
	ErrInvalidVerifierKey = errors.New("ledger: invalid verifier key")
	// ErrCheckpointSignature is returned when a checkpoint carries no valid
	// signature by the expected key.
	ErrCheckpointSignature = errors.New("ledger: checkpoint signature invalid")
	// ErrInvalidCheckpoint is returned for a checkpoint that is not a
	// well-formed signed note, or whose body is not a checkpoint for the
	// expected origin.
	ErrInvalidCheckpoint = errors.New("ledger: invalid checkpoint")
	// ErrCheckpointRollback is returned when the published checkpoint is
	// smaller than one already seen by this process.
	ErrCheckpointRollback = errors.New("ledger: published checkpoint went backwards")
)

// Checkpoint is a signed tree head (C2SP tlog-checkpoint) whose signature has
// been verified.
type Checkpoint struct {
	// Origin is the log's origin line.
	Origin string
	// Size is the number of entries the checkpoint commits to.
	Size uint64
	// Hash is the RFC 6962 root hash of the first Size entries.
	Hash []byte
	// Raw is the whole signed note, as published.
	Raw []byte
}

// IsZero reports whether c is the zero Checkpoint.
func (c Checkpoint) IsZero() bool { return c.Origin == "" && c.Raw == nil }

// clone returns a deep copy of c so cached values cannot be changed by callers.
func (c Checkpoint) clone() Checkpoint {
	c.Hash = bytes.Clone(c.Hash)
	c.Raw = bytes.Clone(c.Raw)
	return c
}

// VerifyCheckpoint verifies that raw is a checkpoint signed by verifierKey (a
// note verifier key as returned by [VerifierKey]) for the key's origin, and
// returns it. It does no I/O and never returns an unverified checkpoint.
func VerifyCheckpoint(raw []byte, verifierKey string) (Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrInvalidVerifierKey, err)
	}
	return verifyCheckpoint(raw, v)
}

// verifyCheckpoint is VerifyCheckpoint with a parsed verifier.
func verifyCheckpoint(raw []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrCheckpointSignature, err)
		}
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrInvalidCheckpoint, err)
	}
	var body flog.Checkpoint
	if _, err := body.Unmarshal([]byte(n.Text)); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %v", ErrInvalidCheckpoint, err)
	}
	if body.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrInvalidCheckpoint, body.Origin, v.Name())
	}
	if len(body.Hash) != sha256.Size {
		return Checkpoint{}, fmt.Errorf("%w: root hash is %d bytes, want %d", ErrInvalidCheckpoint, len(body.Hash), sha256.Size)
	}
	return Checkpoint{Origin: body.Origin, Size: body.Size, Hash: body.Hash, Raw: bytes.Clone(raw)}, nil
}

// Checkpoint cache tuning.
const (
	// checkpointMaxAge is how stale the cached checkpoint may be before
	// Checkpoint re-reads the file.
	checkpointMaxAge = 50 * time.Millisecond
	// awaitPoll is how often AwaitCheckpoint looks for a new checkpoint.
	awaitPoll = 20 * time.Millisecond
	// forceRefreshAge is the cache age InclusionProof accepts when asked
	// about a tree size beyond the cached checkpoint; it keeps such requests
	// from forcing a file read each.
	forceRefreshAge = 5 * time.Millisecond
)

// cachedCheckpoint is the latest verified checkpoint and when the file was
// last read.
type cachedCheckpoint struct {
	cp     Checkpoint
	readAt time.Time
}

// Checkpoint returns the latest published checkpoint, verified. It is cheap:
// the parsed checkpoint is cached and the file re-read at most every 50 ms.
// It returns ErrNotFound before the first checkpoint is published.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	cp, err := l.latest(ctx, checkpointMaxAge)
	if err != nil {
		return Checkpoint{}, err
	}
	return cp.clone(), nil
}

// latest returns the cached checkpoint (shared; callers must not modify it),
// re-reading the file when the cache is older than maxAge.
func (l *Log) latest(ctx context.Context, maxAge time.Duration) (Checkpoint, error) {
	if c := l.cp.Load(); c != nil && time.Since(c.readAt) < maxAge {
		return c.cp, nil
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	// Another caller may have refreshed while we waited.
	c := l.cp.Load()
	if c != nil && time.Since(c.readAt) < maxAge {
		return c.cp, nil
	}
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, err
	}
	now := time.Now()
	raw, err := os.ReadFile(filepath.Join(l.dir, layout.CheckpointPath))
	l.stats.checkpointReads.Add(1)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("%w: no checkpoint published yet", ErrNotFound)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: read checkpoint: %w", err)
	}
	if c != nil && bytes.Equal(raw, c.cp.Raw) {
		l.cp.Store(&cachedCheckpoint{cp: c.cp, readAt: now})
		return c.cp, nil
	}
	cp, err := verifyCheckpoint(raw, l.verifier)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: published checkpoint: %w", err)
	}
	if c != nil && cp.Size < c.cp.Size {
		return Checkpoint{}, fmt.Errorf("%w: from %d to %d", ErrCheckpointRollback, c.cp.Size, cp.Size)
	}
	l.cp.Store(&cachedCheckpoint{cp: cp, readAt: now})
	return cp, nil
}

// AwaitCheckpoint waits until a published checkpoint covers index (its size
// is greater than index) and returns it, or returns ctx's error.
func (l *Log) AwaitCheckpoint(ctx context.Context, index uint64) (Checkpoint, error) {
	var t *time.Ticker
	for {
		cp, err := l.latest(ctx, awaitPoll)
		switch {
		case err == nil && cp.Size > index:
			return cp.clone(), nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return Checkpoint{}, err
		}
		if t == nil {
			t = time.NewTicker(awaitPoll)
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			return Checkpoint{}, fmt.Errorf("ledger: awaiting checkpoint covering %d: %w", index, ctx.Err())
		case <-t.C:
		}
	}
}
