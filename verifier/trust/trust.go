// Package trust keeps the verifier's trusted issuers: for each credential
// type, the DIDs of the issuers whose credentials of that type the verifier
// accepts.
//
// A credential type is named as the credential names it: the vct of an
// SD-JWT VC (e.g. "https://medid.example/vct/PatientIdentityCredential") or
// one of the types of a W3C VC (e.g. "PatientIdentityCredential"). The
// special type "*" (Any) lists issuers trusted for every type. An issuer is
// trusted for a credential when its DID is listed under any of the
// credential's types or under "*". A type with no list trusts nobody: the
// check fails closed.
//
// Lists live in a key-value store under "verifier/trusted-issuers/<type>"
// and are managed through the admin API that Register adds.
//
// Trusted answers from lists read at most MaxStale earlier: a change made
// through this Registry is seen at once, one made through another (another
// instance sharing the store) within MaxStale.
package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/kv"
)

// Any is the type whose issuers are trusted for every credential type.
const Any = "*"

// Limits on what an administrator may store.
const (
	// MaxTypeLen bounds a type name (a vct URL or a VC type) in bytes.
	MaxTypeLen = 512
	// MaxIssuers bounds the issuers of one type.
	MaxIssuers = 1000
)

const prefix = "verifier/trusted-issuers/"

// MaxStale bounds the age of the lists Trusted answers from.
const MaxStale = time.Second

// cacheSize bounds the types whose lists (or absence) Trusted keeps.
const cacheSize = 1024

// ErrInvalid is wrapped by errors about an argument: a malformed type name
// or issuer DID, or too many issuers.
var ErrInvalid = errors.New("trust: invalid argument")

// ErrNotFound is returned by Get for a type that has no list.
var ErrNotFound = errors.New("trust: no trusted issuers for this type")

// Store is the subset of kv.Store the registry uses.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
}

// List is the trusted issuers of one credential type.
type List struct {
	Type    string    `json:"type"`
	Issuers []string  `json:"issuers"`
	Updated time.Time `json:"updated"`
}

// record is the stored form of a List.
type record struct {
	Issuers []string  `json:"issuers"`
	Updated time.Time `json:"updated"`
}

// Registry reads and writes the trusted issuer lists. It is safe for
// concurrent use.
type Registry struct {
	store Store
	now   func() time.Time
	cache *lru.Cache[string, cached]
	gen   atomic.Uint64 // changed by every Set and Delete, after the write
}

// cached is a list as Trusted last read it.
type cached struct {
	issuers []string // sorted
	found   bool     // false: the type had no list
	read    time.Time
	gen     uint64
}

// New returns a Registry over store; now is the clock (nil for time.Now),
// which also times MaxStale.
func New(store Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	c, err := lru.New[string, cached](cacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Registry{store: store, now: now, cache: c}
}

// CheckType reports whether typ can name a list: not empty, valid UTF-8,
// at most MaxTypeLen bytes, without control characters.
func CheckType(typ string) error {
	switch {
	case typ == "":
		return fmt.Errorf("%w: empty type", ErrInvalid)
	case len(typ) > MaxTypeLen:
		return fmt.Errorf("%w: type longer than %d bytes", ErrInvalid, MaxTypeLen)
	case !utf8.ValidString(typ):
		return fmt.Errorf("%w: type is not valid UTF-8", ErrInvalid)
	case strings.ContainsFunc(typ, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: type contains a control character", ErrInvalid)
	}
	return nil
}

// Get returns the list of typ, or ErrNotFound.
func (r *Registry) Get(ctx context.Context, typ string) (*List, error) {
	if err := CheckType(typ); err != nil {
		return nil, err
	}
	b, err := r.store.Get(ctx, prefix+typ)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	return decode(typ, b)
}

func decode(typ string, b []byte) (*List, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("trust: stored list of %q: %w", typ, err)
	}
	return &List{Type: typ, Issuers: rec.Issuers, Updated: rec.Updated}, nil
}

// Set replaces the list of typ with issuers, each a DID. Duplicates are
// removed and the list is sorted. An empty list is allowed: it trusts
// nobody, like a missing one.
func (r *Registry) Set(ctx context.Context, typ string, issuers []string) (*List, error) {
	if err := CheckType(typ); err != nil {
		return nil, err
	}
	if len(issuers) > MaxIssuers {
		return nil, fmt.Errorf("%w: more than %d issuers", ErrInvalid, MaxIssuers)
	}
	out := make([]string, 0, len(issuers))
	for i, s := range issuers {
		d, err := did.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%w: issuers[%d] is not a DID", ErrInvalid, i)
		}
		out = append(out, d.String())
	}
	slices.Sort(out)
	out = slices.Compact(out)
	rec := record{Issuers: out, Updated: r.now().UTC().Truncate(time.Second)}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	err = r.store.Put(ctx, prefix+typ, b, 0)
	r.gen.Add(1)
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	return &List{Type: typ, Issuers: rec.Issuers, Updated: rec.Updated}, nil
}

// Delete removes the list of typ; removing a missing list is not an error.
func (r *Registry) Delete(ctx context.Context, typ string) error {
	if err := CheckType(typ); err != nil {
		return err
	}
	err := r.store.Delete(ctx, prefix+typ)
	r.gen.Add(1)
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	return nil
}

// All returns every list, ordered by type.
func (r *Registry) All(ctx context.Context) ([]List, error) {
	out := []List{}
	err := r.store.List(ctx, prefix, func(key string, value []byte) error {
		l, err := decode(strings.TrimPrefix(key, prefix), value)
		if err != nil {
			return err
		}
		out = append(out, *l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Trusted reports whether issuer is trusted for a credential of the given
// types: whether it is listed under one of them or under Any. When it is
// not, reason says why, without naming the issuer.
//
// The lists it reads are at most MaxStale old (see the package comment).
func (r *Registry) Trusted(ctx context.Context, issuer string, types []string) (ok bool, reason string, err error) {
	seen := false
	for i := 0; i <= len(types); i++ {
		typ := Any
		if i < len(types) {
			typ = types[i]
		}
		if CheckType(typ) != nil {
			continue
		}
		issuers, found, err := r.issuers(ctx, typ)
		if err != nil {
			return false, "", err
		}
		if !found {
			continue
		}
		seen = true
		if _, ok := slices.BinarySearch(issuers, issuer); ok {
			if typ == Any {
				return true, "issuer trusted for every type", nil
			}
			return true, "issuer trusted for " + typ, nil
		}
	}
	if !seen {
		return false, "no trusted issuers are configured for the credential's types", nil
	}
	return false, "the issuer is not trusted for the credential's types", nil
}

// issuers returns the sorted issuers of typ, read at most MaxStale ago and
// after this Registry's last change; found is false when typ has no list.
// Errors are not kept.
func (r *Registry) issuers(ctx context.Context, typ string) (issuers []string, found bool, err error) {
	now := r.now()
	gen := r.gen.Load()
	if c, ok := r.cache.Get(typ); ok && c.gen == gen && !now.Before(c.read) && now.Sub(c.read) < MaxStale {
		return c.issuers, c.found, nil
	}
	l, err := r.Get(ctx, typ)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return nil, false, err
	default:
		issuers, found = slices.Sorted(slices.Values(l.Issuers)), true
	}
	// Read at now or later, so good until now+MaxStale; a change of ours
	// made meanwhile has changed r.gen.
	r.cache.Add(typ, cached{issuers: issuers, found: found, read: now, gen: gen})
	return issuers, found, nil
}
