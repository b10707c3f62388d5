package ledger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"syscall"

	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// Entry is one log entry.
type Entry struct {
	Index uint64
	Data  []byte
}

// Entries returns the entries with indexes in [from, to), in index order,
// reading entry bundles from disk. to is clamped to the integrated size (pass
// math.MaxUint64 to replay everything acknowledged so far). It is meant for
// rebuilding derived indexes by replaying the log; the iteration stops at
// the first error, which it yields.
func (l *Log) Entries(ctx context.Context, from, to uint64) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		size, err := l.IntegratedSize(ctx)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		to = min(to, size)
		if from >= to {
			return
		}
		for ri := range layout.Range(from, to-from, size) {
			if err := ctx.Err(); err != nil {
				yield(Entry{}, err)
				return
			}
			// A partial bundle read falls back to the full one once the
			// bundle has filled and its partials were collected.
			raw, err := l.reader.ReadEntryBundle(ctx, ri.Index, ri.Partial)
			if err != nil {
				yield(Entry{}, fmt.Errorf("ledger: read entry bundle %d: %w", ri.Index, err))
				return
			}
			var b api.EntryBundle
			if err := b.UnmarshalText(raw); err != nil {
				yield(Entry{}, fmt.Errorf("ledger: entry bundle %d: %w", ri.Index, err))
				return
			}
			if uint(len(b.Entries)) < ri.First+ri.N {
				yield(Entry{}, fmt.Errorf("ledger: entry bundle %d has %d entries, want at least %d", ri.Index, len(b.Entries), ri.First+ri.N))
				return
			}
			base := ri.Index * layout.EntryBundleWidth
			for i := ri.First; i < ri.First+ri.N; i++ {
				if !yield(Entry{Index: base + uint64(i), Data: b.Entries[i]}, nil) {
					return
				}
			}
		}
	}
}

// Reader reads the log's published resources exactly as the tlog-tiles API
// names them: no fallback from a partial tile to the full one (clients do
// that, per the spec).
type Reader struct {
	dir string
}

// Reader returns a Reader over the log's directory.
func (l *Log) Reader() *Reader { return &Reader{dir: l.dir} }

// Tile returns the hash tile at level and index, of width (0 for a full
// tile, 1..255 for a partial one), or ErrNotFound.
func (r *Reader) Tile(ctx context.Context, level, index uint64, width uint8) ([]byte, error) {
	return r.read(ctx, layout.TilePath(level, index, width))
}

// EntryBundle returns the entry bundle at index, of width (0 for a full
// bundle), or ErrNotFound.
func (r *Reader) EntryBundle(ctx context.Context, index uint64, width uint8) ([]byte, error) {
	return r.read(ctx, layout.EntriesPath(index, width))
}

func (r *Reader) read(ctx context.Context, rel string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, rel)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: read %s: %w", rel, err)
	}
	return b, nil
}
