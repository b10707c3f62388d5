package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/medid/medid/internal/ledger"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// state is the persisted result of the last successful audit.
type state struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Size        uint64 `json:"size"`
	Root        []byte `json:"root"`
	// Checkpoint is the raw signed checkpoint verified last time.
	Checkpoint string `json:"checkpoint"`
	// Range is the compact range of the tree at Size: the roots of its
	// perfect subtrees, left to right. It lets the next run extend the tree
	// without re-downloading it.
	Range      [][]byte  `json:"compact_range"`
	VerifiedAt time.Time `json:"verified_at"`
}

// loadState reads the state file; a missing file (or no path) is no state.
func loadState(path string) (*state, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrState, path, err)
	}
	return &st, nil
}

// check verifies that the saved checkpoint is signed by v and agrees with
// the saved size, root and compact range, and returns the range.
func (st *state) check(v note.Verifier) (*compact.Range, error) {
	if st.VerifierKey == "" || st.Checkpoint == "" {
		return nil, fmt.Errorf("%w: missing verifier key or checkpoint", ErrState)
	}
	if v.Name() != st.Origin {
		return nil, fmt.Errorf("%w: key is for origin %q, state file for %q", ErrKeyMismatch, v.Name(), st.Origin)
	}
	cp, err := ledger.VerifyCheckpoint([]byte(st.Checkpoint), st.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("%w: saved checkpoint: %v", ErrState, err)
	}
	if cp.Size != st.Size || !bytes.Equal(cp.Hash, st.Root) {
		return nil, fmt.Errorf("%w: saved checkpoint (size %d) does not match saved size %d and root", ErrState, cp.Size, st.Size)
	}
	r, err := rf.NewRange(0, st.Size, st.Range)
	if err != nil {
		return nil, fmt.Errorf("%w: compact range: %v", ErrState, err)
	}
	root, err := rootOf(r)
	if err != nil || !bytes.Equal(root, st.Root) {
		return nil, fmt.Errorf("%w: compact range does not hash to the saved root", ErrState)
	}
	return r, nil
}

// save writes st to path atomically (temporary file, fsync, rename), mode
// 0600.
func (st *state) save(path string) (err error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	return nil
}
