package ledger

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// Cache-Control values for the read API.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=60"
	cacheCheckpoint = "no-cache"
	cacheKey        = "public, max-age=300"
)

var (
	// errMalformedPath marks a request path that names a tlog-tiles resource
	// but does not encode it canonically (400).
	errMalformedPath = errors.New("malformed tlog-tiles path")
	// errNoRoute marks a request path outside the API (404).
	errNoRoute = errors.New("no such resource")
)

// resourceKind is what a read API path names.
type resourceKind int

const (
	kindCheckpoint resourceKind = iota + 1
	kindKey
	kindTile
	kindEntries
)

// resource is a parsed read API path.
type resource struct {
	kind  resourceKind
	level uint64 // tiles only
	index uint64 // tiles and entry bundles
	width uint8  // 0 for a full tile or bundle
}

// parsePath parses a read API path relative to the API root (with or without
// a leading slash). Tile paths must be in the canonical tlog-tiles encoding:
// any path that tessera's layout parser accepts but that does not re-encode
// to itself (x000 groups, leading zeroes) is malformed.
func parsePath(p string) (resource, error) {
	p = strings.TrimPrefix(p, "/")
	switch p {
	case layout.CheckpointPath:
		return resource{kind: kindCheckpoint}, nil
	case "key":
		return resource{kind: kindKey}, nil
	}
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return resource{}, errNoRoute
	}
	if n, ok := strings.CutPrefix(rest, "entries/"); ok {
		index, width, err := layout.ParseTileIndexPartial(n)
		if err != nil || layout.EntriesPath(index, width) != p {
			return resource{}, errMalformedPath
		}
		return resource{kind: kindEntries, index: index, width: width}, nil
	}
	lvl, n, ok := strings.Cut(rest, "/")
	if !ok {
		return resource{}, errMalformedPath
	}
	level, index, width, err := layout.ParseTileLevelIndexPartial(lvl, n)
	if err != nil || layout.TilePath(level, index, width) != p {
		return resource{}, errMalformedPath
	}
	return resource{kind: kindTile, level: level, index: index, width: width}, nil
}

// Handler serves the C2SP tlog-tiles read API for l at its root, so mount it
// with http.StripPrefix:
//
//	GET /checkpoint                  latest checkpoint (text/plain, no-cache)
//	GET /tile/<L>/<N>[.p/<W>]        hash tile
//	GET /tile/entries/<N>[.p/<W>]    entry bundle
//	GET /key                         note verifier key for the checkpoints
//
// Malformed tile paths get 400, missing resources 404, methods other than
// GET and HEAD 405. Partial tiles are served only as stored: a client whose
// partial tile was collected falls back to the full tile, as the spec says.
func Handler(l *Log) http.Handler {
	return &handler{log: l, tiles: l.Reader()}
}

// checkpointSource is what the handler needs from a Log.
type checkpointSource interface {
	Checkpoint(ctx context.Context) (Checkpoint, error)
	VerifierKey() string
}

type handler struct {
	log   checkpointSource
	tiles *Reader
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	res, err := parsePath(r.URL.Path)
	switch {
	case errors.Is(err, errMalformedPath):
		http.Error(w, "malformed tlog-tiles path", http.StatusBadRequest)
		return
	case err != nil:
		http.NotFound(w, r)
		return
	}

	ctx := r.Context()
	var (
		body        []byte
		contentType = "application/octet-stream"
		cache       string
	)
	switch res.kind {
	case kindCheckpoint:
		var cp Checkpoint
		cp, err = h.log.Checkpoint(ctx)
		body, contentType, cache = cp.Raw, "text/plain; charset=utf-8", cacheCheckpoint
	case kindKey:
		body, contentType, cache = []byte(h.log.VerifierKey()+"\n"), "text/plain; charset=utf-8", cacheKey
	case kindTile:
		body, err = h.tiles.Tile(ctx, res.level, res.index, res.width)
		cache = tileCache(res.width)
	case kindEntries:
		body, err = h.tiles.EntryBundle(ctx, res.index, res.width)
		cache = tileCache(res.width)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		slog.ErrorContext(ctx, "ledger: serving read API", slog.String("path", r.URL.Path), slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Cache-Control", cache)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// tileCache is the Cache-Control for a tile or bundle of the given width.
// Partial resources never change either, but they may be deleted once the
// full one exists, so they are cached briefly.
func tileCache(width uint8) string {
	if width == 0 {
		return cacheImmutable
	}
	return cachePartial
}
