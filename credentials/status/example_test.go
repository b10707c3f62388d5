package status_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/medid/medid/credentials/status"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/kv/boltkv"
)

// An issuer allocates a status entry for a new SD-JWT VC, later suspends
// it, and the status endpoint serves the list's new version.
func ExampleManager() {
	dir, _ := os.MkdirTemp("", "status-example")
	defer os.RemoveAll(dir)
	store, err := boltkv.Open(filepath.Join(dir, "kv.db")) // internal/app picks the store
	if err != nil {
		panic(err)
	}
	defer store.Close()

	ctx := context.Background()
	m, err := status.NewManager(store, status.Options{Rand: rand.NewChaCha8([32]byte{})})
	if err != nil {
		panic(err)
	}
	ref, _ := m.Allocate(ctx, status.TokenStatus)
	// The credential carries {"status": {"status_list": {"idx": ref.Index,
	// "uri": <the URL the HTTP layer serves ref.ListID at>}}}.

	before, _ := m.Snapshot(ctx, ref.ListID)
	if err := m.SetStatus(ctx, ref, tokenlist.Suspended); err != nil {
		panic(err)
	}
	after, _ := m.Snapshot(ctx, ref.ListID)
	fmt.Println("version", before.Version, "->", after.Version, "re-sign:", after.ETag() != before.ETag())

	l, _ := tokenlist.Decode(after.Bits, after.Encoded, after.Size)
	v, _ := l.Get(ref.Index)
	fmt.Println("suspended:", v == tokenlist.Suspended)
	// Output:
	// version 1 -> 2 re-sign: true
	// suspended: true
}
