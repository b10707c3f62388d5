// Package audit is an outside witness for a medid ledger: it checks a log
// served over the C2SP tlog-tiles API without trusting the server (the
// engine of `medid ledger verify --server URL`).
//
// [Verify] fetches and verifies the checkpoint, downloads every entry bundle
// it has not verified before (or all of them, for a full audit), recomputes
// the Merkle tree from the entries, cross-checks every hash tile node it
// recomputes, and checks that the log is consistent with the checkpoint it
// saved last time. The state file keeps the verified size, root and the
// compact range at that size, so the next run only downloads new entries and
// still proves consistency by extending the saved range.
//
// Errors name what failed and wrap one of the sentinels below, so a caller
// can tell a fetch failure ([ErrFetch]) from evidence of tampering.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/medid/medid/internal/ledger"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

var (
	// ErrFetch is wrapped by errors fetching from the server (network,
	// HTTP status, missing resources); it is not evidence of tampering.
	ErrFetch = errors.New("audit: fetch failed")
	// ErrKeyMismatch: the verifier key differs from the one trusted before.
	ErrKeyMismatch = errors.New("audit: verifier key mismatch")
	// ErrSignature: the checkpoint is not validly signed by the log's key.
	ErrSignature = errors.New("audit: checkpoint signature invalid")
	// ErrRollback: the log is smaller than when it was last verified.
	ErrRollback = errors.New("audit: log size went backwards")
	// ErrInconsistent: the log is not an extension of the saved checkpoint.
	ErrInconsistent = errors.New("audit: log inconsistent with saved checkpoint")
	// ErrTampered: entries, hash tiles and checkpoint do not agree.
	ErrTampered = errors.New("audit: log content does not match its checkpoint")
	// ErrState: the state file is unreadable or not self-consistent.
	ErrState = errors.New("audit: bad state file")
)

// fetchWorkers is how many entry bundles are fetched ahead in parallel.
const fetchWorkers = 8

// maxKeySize bounds the verifier key response.
const maxKeySize = 4 << 10

// Options configures Verify.
type Options struct {
	// BaseURL is the log's tlog-tiles root, e.g.
	// "http://127.0.0.1:8080/ledger/".
	BaseURL string
	// HTTPClient is used for every request (default http.DefaultClient).
	HTTPClient *http.Client
	// VerifierKey is the log's note verifier key. If empty, the key saved in
	// StateFile is used; if there is none, BaseURL+"key" is fetched and
	// trusted on first use. A served key that differs from the saved one is
	// an ErrKeyMismatch.
	VerifierKey string
	// StateFile is where the last verified state is kept (JSON, mode 0600).
	// Empty means no state: every run is a full audit trusting nothing.
	StateFile string
	// Full recomputes the tree from entry 0 even when StateFile holds a
	// verified state, re-checking every entry and tile.
	Full bool
	// Progress, if set, is called after each entry bundle with the entries
	// verified so far in this run and the total to verify.
	Progress func(done, total uint64)
}

// Report is the result of a successful Verify.
type Report struct {
	// Origin is the log's origin line.
	Origin string
	// VerifierKey is the key the checkpoint was verified with.
	VerifierKey string
	// KeyTrustedOnFirstUse is true if the key was fetched from the server
	// in this run and trusted because nothing was known before.
	KeyTrustedOnFirstUse bool
	// TreeSize and Root are the verified checkpoint's.
	TreeSize uint64
	Root     []byte
	// PreviousSize is the size verified by the previous run (0 if none).
	PreviousSize uint64
	// Entries is the number of entries downloaded and checked in this run.
	Entries uint64
	// Full is true if the tree was recomputed from entry 0.
	Full bool
}

// Verify audits the log at opts.BaseURL. See the package documentation.
func Verify(ctx context.Context, opts Options) (Report, error) {
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return Report{}, fmt.Errorf("audit: invalid base URL %q", opts.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	fetcher, err := client.NewHTTPFetcher(base, hc)
	if err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}

	prev, err := loadState(opts.StateFile)
	if err != nil {
		return Report{}, err
	}
	vkey, tofu, err := resolveKey(ctx, hc, base, opts.VerifierKey, prev)
	if err != nil {
		return Report{}, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return Report{}, fmt.Errorf("%w: verifier key %q: %v", ErrKeyMismatch, vkey, err)
	}
	var prevRange *compact.Range
	if prev != nil {
		if prevRange, err = prev.check(verifier); err != nil {
			return Report{}, err
		}
	}

	raw, err := fetcher.ReadCheckpoint(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("%w: checkpoint: %v", ErrFetch, err)
	}
	cp, err := ledger.VerifyCheckpoint(raw, vkey)
	switch {
	case errors.Is(err, ledger.ErrCheckpointSignature):
		return Report{}, fmt.Errorf("%w: no valid signature by %s", ErrSignature, keyID(vkey))
	case err != nil:
		return Report{}, fmt.Errorf("%w: %v", ErrSignature, err)
	}

	rep := Report{Origin: cp.Origin, VerifierKey: vkey, KeyTrustedOnFirstUse: tofu, TreeSize: cp.Size, Root: cp.Hash}
	a := &auditor{fetcher: fetcher, cp: cp, progress: opts.Progress}
	if prev != nil {
		rep.PreviousSize = prev.Size
		if cp.Size < prev.Size {
			return rep, fmt.Errorf("%w from %d to %d", ErrRollback, prev.Size, cp.Size)
		}
		a.prev = prev
	}
	if opts.Full || prev == nil {
		rep.Full = true
		a.rng = rf.NewEmptyRange(0)
	} else {
		a.rng = prevRange
	}
	if err := a.run(ctx); err != nil {
		return rep, err
	}
	rep.Entries = a.done

	if opts.StateFile != "" {
		st := &state{
			Origin:      cp.Origin,
			VerifierKey: vkey,
			Size:        cp.Size,
			Root:        cp.Hash,
			Checkpoint:  string(cp.Raw),
			Range:       a.rng.Hashes(),
			VerifiedAt:  time.Now().UTC(),
		}
		if err := st.save(opts.StateFile); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// resolveKey picks the verifier key: explicit, else saved, else fetched
// (trust on first use). A served or explicit key that differs from the saved
// one is an error.
func resolveKey(ctx context.Context, hc *http.Client, base *url.URL, explicit string, prev *state) (key string, tofu bool, err error) {
	saved := ""
	if prev != nil {
		saved = prev.VerifierKey
	}
	if explicit != "" {
		if saved != "" && explicit != saved {
			return "", false, fmt.Errorf("%w: given key %q, state file trusts %q", ErrKeyMismatch, explicit, saved)
		}
		return explicit, false, nil
	}
	served, ferr := fetchKey(ctx, hc, base)
	if saved != "" {
		// The saved key decides; a server now announcing another one is
		// exactly what trust on first use is meant to catch.
		if ferr == nil && served != saved {
			return "", false, fmt.Errorf("%w: server now serves %q, state file trusts %q", ErrKeyMismatch, served, saved)
		}
		return saved, false, nil
	}
	if ferr != nil {
		return "", false, ferr
	}
	return served, true, nil
}

// fetchKey fetches the verifier key from base+"key".
func fetchKey(ctx context.Context, hc *http.Client, base *url.URL) (string, error) {
	u := base.JoinPath("key").String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrFetch, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: key: GET %s: %s", ErrFetch, u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySize))
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrFetch, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// rf builds RFC 6962 compact ranges.
var rf = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// auditor recomputes the tree from a.rng.End() to the checkpoint size.
type auditor struct {
	fetcher  *client.HTTPFetcher
	cp       ledger.Checkpoint
	prev     *state
	rng      *compact.Range
	progress func(done, total uint64)
	done     uint64

	// upper holds recomputed nodes at tree levels 8, 16, ... (the hashes
	// stored in tiles of level 1 and up), to cross-check those tiles.
	upper map[compact.NodeID][]byte
	// prevRootOK is false if the root recomputed at the saved size differs
	// from the saved root (full audits only).
	prevRootOK bool
	// firstLeafMismatch and firstTileMismatch describe the first
	// disagreement between entries and hash tiles, if any.
	firstLeafMismatch string
	firstTileMismatch string
}

// visit records the recomputed nodes that tiles of level 1 and up store.
func (a *auditor) visit(id compact.NodeID, hash []byte) {
	if id.Level > 0 && id.Level%layout.TileHeight == 0 {
		a.upper[id] = hash
	}
}

func (a *auditor) run(ctx context.Context) error {
	size := a.cp.Size
	from := a.rng.End()
	total := size - from
	a.upper = make(map[compact.NodeID][]byte)
	a.prevRootOK = true

	if total > 0 {
		getSize := func(context.Context) (uint64, error) { return size, nil }
		for b, err := range client.EntryBundles(ctx, fetchWorkers, getSize, a.fetcher.ReadEntryBundle, from, total) {
			if err != nil {
				return fmt.Errorf("%w: entry bundle: %v", ErrFetch, err)
			}
			if err := a.bundle(ctx, b); err != nil {
				return err
			}
			if a.progress != nil {
				a.progress(a.done, total)
			}
		}
		if a.rng.End() != size {
			return fmt.Errorf("%w: entry bundles stopped at %d of %d entries", ErrFetch, a.rng.End(), size)
		}
		if err := a.checkUpperTiles(ctx); err != nil {
			return err
		}
	}

	root, err := rootOf(a.rng)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	prevSize := uint64(0)
	if a.prev != nil {
		prevSize = a.prev.Size
	}
	switch {
	case !bytes.Equal(root, a.cp.Hash) && a.firstLeafMismatch != "":
		return fmt.Errorf("%w: %s; the root recomputed from the entries does not match the checkpoint at size %d", ErrTampered, a.firstLeafMismatch, size)
	case !bytes.Equal(root, a.cp.Hash):
		if from > 0 && from == prevSize {
			// Incremental: tell a rewritten history from altered new
			// entries with the server's own consistency proof.
			if err := a.checkConsistency(ctx); err != nil {
				return err
			}
		}
		return fmt.Errorf("%w: root mismatch at size %d: recomputed %s, checkpoint has %s", ErrTampered, size, b64(root), b64(a.cp.Hash))
	case !a.prevRootOK:
		return fmt.Errorf("%w: consistency with saved checkpoint at size %d failed: the log's first %d entries now hash to a different root", ErrInconsistent, prevSize, prevSize)
	case a.firstLeafMismatch != "":
		return fmt.Errorf("%w: %s (the entries match the checkpoint, so the hash tile is wrong)", ErrTampered, a.firstLeafMismatch)
	case a.firstTileMismatch != "":
		return fmt.Errorf("%w: %s", ErrTampered, a.firstTileMismatch)
	}
	return nil
}

// bundle checks one entry bundle: it parses it, appends its leaf hashes to
// the range and compares them with the level-0 hash tile.
func (a *auditor) bundle(ctx context.Context, b client.Bundle) error {
	ri := b.RangeInfo
	first := ri.Index*layout.EntryBundleWidth + uint64(ri.First)
	var eb api.EntryBundle
	if err := eb.UnmarshalText(b.Data); err != nil {
		return fmt.Errorf("%w: entry bundle %d (entries %d-%d) is malformed: %v", ErrTampered, ri.Index, first, first+uint64(ri.N)-1, err)
	}
	want := int(ri.Partial)
	if want == 0 {
		want = layout.EntryBundleWidth
	}
	// A collected partial bundle is served as the full one.
	if len(eb.Entries) != want && !(ri.Partial > 0 && len(eb.Entries) == layout.EntryBundleWidth) {
		return fmt.Errorf("%w: entry bundle %d has %d entries, want %d", ErrTampered, ri.Index, len(eb.Entries), want)
	}

	// Cross-check the level-0 tile: each leaf hash recomputed from an entry
	// must be the hash the log stores for it. After the first mismatch the
	// rest only feeds the root computation.
	var tile []byte
	if a.firstLeafMismatch == "" {
		var err error
		if tile, err = a.fetcher.ReadTile(ctx, 0, ri.Index, ri.Partial); err != nil {
			return fmt.Errorf("%w: hash tile %s: %v", ErrFetch, layout.TilePath(0, ri.Index, ri.Partial), err)
		}
	}
	prevSize := uint64(0)
	if a.prev != nil {
		prevSize = a.prev.Size
	}
	for i := ri.First; i < ri.First+ri.N; i++ {
		idx := ri.Index*layout.EntryBundleWidth + uint64(i)
		lh := rfc6962.DefaultHasher.HashLeaf(eb.Entries[i])
		if a.firstLeafMismatch == "" {
			end := (int(i) + 1) * sha256.Size
			if end > len(tile) || !bytes.Equal(tile[end-sha256.Size:end], lh) {
				a.firstLeafMismatch = fmt.Sprintf("entry %d (bundle %d): leaf hash does not match %s node %d",
					idx, ri.Index, layout.TilePath(0, ri.Index, ri.Partial), i)
			}
		}
		if err := a.rng.Append(lh, a.visit); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if a.rng.End() == prevSize {
			root, err := rootOf(a.rng)
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			a.prevRootOK = bytes.Equal(root, a.prev.Root)
		}
	}
	a.done += uint64(ri.N)
	return nil
}

// checkUpperTiles compares the recomputed level-8k nodes with the tiles of
// level 1 and up that hold them.
func (a *auditor) checkUpperTiles(ctx context.Context) error {
	type tk struct{ level, index uint64 }
	byTile := make(map[tk][]compact.NodeID)
	for id := range a.upper {
		tl, ti, _, _ := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
		byTile[tk{tl, ti}] = append(byTile[tk{tl, ti}], id)
	}
	for t, ids := range byTile {
		w := layout.PartialTileSize(t.level, t.index, a.cp.Size)
		p := layout.TilePath(t.level, t.index, w)
		raw, err := a.fetcher.ReadTile(ctx, t.level, t.index, w)
		if err != nil {
			return fmt.Errorf("%w: hash tile %s: %v", ErrFetch, p, err)
		}
		for _, id := range ids {
			_, _, _, j := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
			end := (j + 1) * sha256.Size
			if end > uint64(len(raw)) || !bytes.Equal(raw[end-sha256.Size:end], a.upper[id]) {
				if a.firstTileMismatch == "" {
					a.firstTileMismatch = fmt.Sprintf("%s node %d does not match the hash recomputed from entries %d-%d",
						p, j, id.Index<<id.Level, (id.Index+1)<<id.Level-1)
				}
			}
		}
	}
	return nil
}

// checkConsistency verifies the server's consistency proof from the saved
// checkpoint to the current one, built from its hash tiles.
func (a *auditor) checkConsistency(ctx context.Context) error {
	var fetchErr error
	readTile := func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		b, err := a.fetcher.ReadTile(ctx, level, index, p)
		if err != nil && fetchErr == nil {
			fetchErr = err
		}
		return b, err
	}
	pb, err := client.NewProofBuilder(ctx, a.cp.Size, readTile)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	p, err := pb.ConsistencyProof(ctx, a.prev.Size, a.cp.Size)
	if fetchErr != nil {
		return fmt.Errorf("%w: consistency proof tiles: %v", ErrFetch, fetchErr)
	}
	if err != nil {
		return fmt.Errorf("%w: consistency with saved checkpoint at size %d failed: cannot build a proof from the log's tiles: %v", ErrInconsistent, a.prev.Size, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, a.prev.Size, a.cp.Size, p, a.prev.Root, a.cp.Hash); err != nil {
		return fmt.Errorf("%w: consistency with saved checkpoint at size %d failed: no proof links saved root %s to root %s at size %d",
			ErrInconsistent, a.prev.Size, b64(a.prev.Root), b64(a.cp.Hash), a.cp.Size)
	}
	return nil
}

// rootOf returns the root hash of a range starting at 0 (the empty-tree
// hash for an empty range).
func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// keyID is the "origin+hash" part of a verifier key.
func keyID(vkey string) string {
	if i := strings.LastIndex(vkey, "+"); i > 0 {
		return vkey[:i]
	}
	return vkey
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
