// Package kv defines the small key-value storage interface that medid's
// services share, and the errors every implementation returns.
//
// Implementations live in subpackages (boltkv for the embedded default,
// rediskv for shared state across instances); only internal/app chooses one.
// Every implementation passes the conformance suite in kvtest.
package kv

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a key does not exist or has expired.
var ErrNotFound = errors.New("kv: not found")

// ErrConflict is returned by CompareAndSwap when the stored value is not the
// expected one (or the key exists when creation was asked for).
var ErrConflict = errors.New("kv: conflict")

// Item is one key and value for Store.PutAll, or with Delete set, one key
// to remove (Value and TTL are then ignored).
type Item struct {
	Key    string
	Value  []byte
	TTL    time.Duration
	Delete bool
}

// Store is a key-value store with TTLs, compare-and-swap and atomic take.
//
// Keys are non-empty strings of at most 1024 bytes; values are opaque bytes.
// A zero ttl means the entry does not expire. All methods are safe for
// concurrent use.
type Store interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key, replacing any previous value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// PutAll stores (or, for an item with Delete, removes) every item in
	// one atomic write: either all of them are applied or, on error, none.
	// Later items win over earlier ones with the same key. An empty list
	// writes nothing.
	PutAll(ctx context.Context, items []Item) error
	// PutAllIf is PutAll in one atomic write with CompareAndSwap's
	// condition on key: it stores items only if the value under key
	// equals old (nil old: only if key does not exist), and returns
	// ErrConflict, writing nothing, otherwise. items may include key.
	PutAllIf(ctx context.Context, key string, old []byte, items []Item) error
	// CompareAndSwap replaces the value under key with value only if the
	// current value equals old. A nil old means "only if the key does not
	// exist". It returns ErrConflict when the condition does not hold.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) error
	// Take atomically reads and deletes key: of many concurrent callers at
	// most one receives the value; the others get ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every live key starting with prefix, in ascending
	// key order, until fn returns an error (which List returns).
	List(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
}
