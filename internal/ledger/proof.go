package ledger

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
)

var (
	// ErrInvalidRange is returned for an index or tree size outside the
	// published log.
	ErrInvalidRange = errors.New("ledger: index or tree size out of range")
	// ErrInclusionProof is returned when an inclusion proof does not verify.
	ErrInclusionProof = errors.New("ledger: inclusion proof does not verify")
)

// Proof cache tuning.
const (
	// proofCacheSize bounds cached proofs (a proof in a tree of a million
	// entries is about 20 hashes, so this is a few MB).
	proofCacheSize = 8192
	// tileCacheSize bounds expanded tiles (16 KiB each for a full tile).
	tileCacheSize = 1024
)

// proofKey identifies a cached inclusion proof.
type proofKey struct{ index, size uint64 }

// tileKey identifies a tile at a given width (0 for a full tile).
type tileKey struct {
	level, index uint64
	width        uint8
}

// expandedTile holds every complete node of a tile: rows[0] is the tile's
// own hashes, rows[h] the parents of rows[h-1], each 32 bytes per node.
//
// tessera's client.ProofBuilder recomputes a tile's inner nodes for every
// node it needs (about 200 µs per proof here); expanding once and caching by
// (level, index, width) makes a proof a few lookups. Full tiles never change,
// so they stay useful as the tree grows; only the right edge is re-read.
type expandedTile struct {
	rows [layout.TileHeight][]byte
}

// expandTile builds an expandedTile from raw tile bytes of w hashes.
func expandTile(raw []byte, w int) *expandedTile {
	t := &expandedTile{}
	t.rows[0] = raw[:w*sha256.Size]
	var buf [1 + 2*sha256.Size]byte
	buf[0] = 1 // RFC 6962 interior node prefix
	for h := 1; h < layout.TileHeight; h++ {
		prev := t.rows[h-1]
		n := len(prev) / sha256.Size / 2
		row := make([]byte, n*sha256.Size)
		for j := range n {
			copy(buf[1:], prev[2*j*sha256.Size:(2*j+2)*sha256.Size])
			sum := sha256.Sum256(buf[:])
			copy(row[j*sha256.Size:], sum[:])
		}
		t.rows[h] = row
	}
	return t
}

// node returns the hash at height h, index j inside the tile.
func (t *expandedTile) node(h uint, j uint64) ([]byte, bool) {
	row := t.rows[h]
	if (j+1)*sha256.Size > uint64(len(row)) {
		return nil, false
	}
	return row[j*sha256.Size : (j+1)*sha256.Size : (j+1)*sha256.Size], true
}

// LeafHash returns the RFC 6962 leaf hash of data: SHA-256(0x00 || data).
func LeafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }

// LeafHash returns the RFC 6962 leaf hash of data (see the package function).
func (l *Log) LeafHash(data []byte) []byte { return LeafHash(data) }

// InclusionProof returns the RFC 6962/9162 inclusion proof of the entry at
// index in the tree of treeSize entries, which must not exceed the latest
// published checkpoint. Proofs are cached by (index, treeSize), and the tiles
// behind them by position, so repeated calls are cheap.
func (l *Log) InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error) {
	if index >= treeSize {
		return nil, fmt.Errorf("%w: index %d in tree of size %d", ErrInvalidRange, index, treeSize)
	}
	k := proofKey{index: index, size: treeSize}
	if p, ok := l.proofs.Get(k); ok {
		l.stats.proofHits.Add(1)
		return cloneProof(p), nil
	}
	l.stats.proofMisses.Add(1)

	cp, err := l.latest(ctx, checkpointMaxAge)
	if err == nil && treeSize > cp.Size {
		// The checkpoint may have just been published.
		cp, err = l.latest(ctx, forceRefreshAge)
	}
	if err != nil {
		return nil, err
	}
	if treeSize > cp.Size {
		return nil, fmt.Errorf("%w: tree size %d is beyond the latest checkpoint (%d)", ErrInvalidRange, treeSize, cp.Size)
	}
	p, err := l.buildInclusion(ctx, index, treeSize)
	if err == nil && treeSize == cp.Size {
		// Check the proof against the checkpoint before caching it, so a
		// damaged tile is reported here rather than by every client.
		err = l.checkInclusion(ctx, index, p, cp)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: inclusion proof for %d in tree of size %d: %w", index, treeSize, err)
	}
	l.proofs.Add(k, p)
	return cloneProof(p), nil
}

// buildInclusion computes an inclusion proof from the log's hash tiles.
func (l *Log) buildInclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, 0, len(nodes.IDs))
	for _, id := range nodes.IDs {
		tl, ti, h, j := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
		t, err := l.tile(ctx, tl, ti, layout.PartialTileSize(tl, ti, size))
		if err != nil {
			return nil, err
		}
		n, ok := t.node(h, j)
		if !ok {
			return nil, fmt.Errorf("tile %s lacks node %d/%d", layout.TilePath(tl, ti, layout.PartialTileSize(tl, ti, size)), h, j)
		}
		hashes = append(hashes, n)
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// checkInclusion verifies p for the leaf hash the log stores at index.
func (l *Log) checkInclusion(ctx context.Context, index uint64, p [][]byte, cp Checkpoint) error {
	ti := index / layout.TileWidth
	t, err := l.tile(ctx, 0, ti, layout.PartialTileSize(0, ti, cp.Size))
	if err != nil {
		return err
	}
	leaf, ok := t.node(0, index%layout.TileWidth)
	if !ok {
		return fmt.Errorf("level-0 tile %d lacks leaf %d", ti, index)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, leaf, p, cp.Hash); err != nil {
		return fmt.Errorf("%w: log tiles disagree with the checkpoint: %v", ErrInclusionProof, err)
	}
	return nil
}

// tile returns the expanded tile at level and index with width w (0 for a
// full tile), reading it on a cache miss. A partial tile that has been
// collected is read from the full tile and truncated.
func (l *Log) tile(ctx context.Context, level, index uint64, w uint8) (*expandedTile, error) {
	k := tileKey{level: level, index: index, width: w}
	if t, ok := l.tiles.Get(k); ok {
		return t, nil
	}
	l.stats.tileReads.Add(1)
	raw, err := l.reader.ReadTile(ctx, level, index, w)
	if err != nil {
		return nil, fmt.Errorf("read tile %s: %w", layout.TilePath(level, index, w), err)
	}
	width := int(w)
	if width == 0 {
		width = layout.TileWidth
	}
	if len(raw)%sha256.Size != 0 || len(raw) < width*sha256.Size {
		return nil, fmt.Errorf("tile %s is %d bytes, want %d hashes", layout.TilePath(level, index, w), len(raw), width)
	}
	t := expandTile(raw, width)
	l.tiles.Add(k, t)
	return t, nil
}

// cloneProof deep-copies p into one allocation for the hashes.
func cloneProof(p [][]byte) [][]byte {
	n := 0
	for _, h := range p {
		n += len(h)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(p))
	for i, h := range p {
		buf = append(buf, h...)
		out[i] = buf[len(buf)-len(h) : len(buf) : len(buf)]
	}
	return out
}

// VerifyInclusion checks that leafData is the entry at index in the tree
// that cp commits to, using an RFC 6962/9162 inclusion proof. It does no I/O.
func VerifyInclusion(leafData []byte, index uint64, proofHashes [][]byte, cp Checkpoint) error {
	if index >= cp.Size {
		return fmt.Errorf("%w: index %d in tree of size %d", ErrInclusionProof, index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, LeafHash(leafData), proofHashes, cp.Hash); err != nil {
		return fmt.Errorf("%w: %v", ErrInclusionProof, err)
	}
	return nil
}
