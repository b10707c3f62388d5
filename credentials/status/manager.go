package status

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/kv"
)

// List sizes, in entries.
const (
	// MinSize is the smallest list: the Bitstring Status List minimum of
	// 131,072 entries, which also gives Token Status Lists a fair crowd
	// to hide in.
	MinSize = 131072
	// DefaultSize is the size of new lists when Options.Size is zero.
	DefaultSize = MinSize
	// MaxSize is the largest list: 16 Mi entries.
	MaxSize = 1 << 24
)

// Options configure a Manager.
type Options struct {
	// Size is the number of entries of new lists: zero for DefaultSize,
	// otherwise a multiple of 1024 in [MinSize, MaxSize]. Existing lists
	// keep the size they were created with.
	Size int
	// Rand is the source of random indexes and list IDs; nil for
	// crypto/rand. Reads are serialised.
	Rand io.Reader
	// Now is the clock; nil for time.Now.
	Now func() time.Time
}

// Manager allocates status list entries and records status changes. Its
// methods are safe for concurrent use, also by several processes sharing
// one store.
type Manager struct {
	store Store
	now   func() time.Time
	size  int

	randMu sync.Mutex
	rand   io.Reader

	// rollMu lets one caller of this process at a time open a new list,
	// so that a burst of allocations on a fresh or full list creates one
	// list, not one per caller (other processes still race, safely).
	rollMu sync.Mutex

	// encoded caches the encoding of the latest version of each list that
	// Snapshot was asked for.
	encMu   sync.Mutex
	encoded map[string]encoding
}

type encoding struct {
	version uint64
	value   string
}

// maxEncoded bounds the Snapshot cache.
const maxEncoded = 1024

// maxAttempts bounds the compare-and-swap retries of one call.
const maxAttempts = 100

// fullProbes is how many random pages in a row Allocate must find at the
// fill threshold before it opens a new list.
const fullProbes = 8

// NewManager returns a Manager over store (a kv.Store).
func NewManager(store Store, opts Options) (*Manager, error) {
	if store == nil {
		return nil, errors.New("status: NewManager: nil store")
	}
	m := &Manager{store: store, now: opts.Now, size: opts.Size, rand: opts.Rand, encoded: map[string]encoding{}}
	if m.size == 0 {
		m.size = DefaultSize
	}
	if !validSize(m.size) {
		return nil, fmt.Errorf("status: NewManager: Size %d must be a multiple of %d in [%d, %d]", opts.Size, pageBits, MinSize, MaxSize)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	return m, nil
}

// Allocate returns a new, never before returned, random position in the
// current list for purpose, opening a new list when the current one has
// reached its fill threshold. The entry's status is 0 (valid, not revoked,
// not suspended).
func (m *Manager) Allocate(ctx context.Context, purpose Purpose) (ListRef, error) {
	refs, err := m.AllocateN(ctx, purpose, 1)
	if err != nil {
		return ListRef{}, err
	}
	return refs[0], nil
}

// MaxAllocateN bounds AllocateN's n.
const MaxAllocateN = 64

// AllocateN is Allocate for up to n positions (1 ≤ n ≤ MaxAllocateN) with
// one store write: they are random free positions of one random page (1,024
// entries) of the current list, so it may return fewer than n. Positions
// handed out together share a page; a caller that hands them to different
// credentials should mix positions from several calls (as the issuer's
// pool does) so that a page does not mark credentials issued together.
func (m *Manager) AllocateN(ctx context.Context, purpose Purpose, n int) ([]ListRef, error) {
	if err := purpose.check(); err != nil {
		return nil, err
	}
	if n < 1 || n > MaxAllocateN {
		return nil, fmt.Errorf("status: allocate %d positions: want 1 to %d", n, MaxAllocateN)
	}
	full, fullOf := 0, ""
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cur, curRaw, err := m.current(ctx, purpose)
		if err != nil {
			return nil, err
		}
		if cur.ListID != fullOf {
			full, fullOf = 0, cur.ListID
		}
		if full >= fullProbes {
			if err := m.rollover(ctx, purpose, curRaw); err != nil {
				return nil, err
			}
			continue
		}
		pn, err := m.intn(cur.Size / pageBits)
		if err != nil {
			return nil, err
		}
		key := pageKey(cur.ListID, pn)
		old, err := m.store.Get(ctx, key)
		if errors.Is(err, kv.ErrNotFound) {
			old = nil
		} else if err != nil {
			return nil, fmt.Errorf("status: allocate: %w", err)
		}
		p, err := decodePage(old)
		if err != nil {
			return nil, err
		}
		used := p.used()
		if used >= pageLimit {
			full++
			continue
		}
		take := min(n, pageLimit-used)
		bits := make([]int, 0, take)
		for range take {
			k, err := m.intn(pageBits - used - len(bits))
			if err != nil {
				return nil, err
			}
			bit := p.freeAt(k)
			p.set(bit)
			bits = append(bits, bit)
		}
		err = m.store.CompareAndSwap(ctx, key, old, p.encode(), 0)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("status: allocate: %w", err)
		}
		refs := make([]ListRef, len(bits))
		for i, b := range bits {
			refs[i] = ListRef{ListID: cur.ListID, Index: pn*pageBits + b}
		}
		return refs, nil
	}
	return nil, fmt.Errorf("%w: allocate %s", ErrContention, purpose)
}

// current returns the list Allocate fills for purpose, creating the first
// one if there is none, and the stored record (for rollover).
func (m *Manager) current(ctx context.Context, purpose Purpose) (currentRecord, []byte, error) {
	for range maxAttempts {
		raw, err := m.store.Get(ctx, currentKey(purpose))
		if err == nil {
			cur, err := decodeCurrent(raw)
			return cur, raw, err
		}
		if !errors.Is(err, kv.ErrNotFound) {
			return currentRecord{}, nil, fmt.Errorf("status: current list: %w", err)
		}
		if err := m.rollover(ctx, purpose, nil); err != nil {
			return currentRecord{}, nil, err
		}
	}
	return currentRecord{}, nil, fmt.Errorf("%w: open a %s list", ErrContention, purpose)
}

// rollover creates a list and makes it current if the current-list record
// is still old (nil: there is none). If another caller got there first,
// the new list is deleted and rollover returns nil: the caller re-reads.
func (m *Manager) rollover(ctx context.Context, purpose Purpose, old []byte) error {
	m.rollMu.Lock()
	defer m.rollMu.Unlock()
	// Another caller may have opened a list while this one waited.
	raw, err := m.store.Get(ctx, currentKey(purpose))
	switch {
	case err == nil && !bytes.Equal(raw, old):
		return nil
	case err != nil && !errors.Is(err, kv.ErrNotFound):
		return fmt.Errorf("status: current list: %w", err)
	case errors.Is(err, kv.ErrNotFound) && old != nil:
		return fmt.Errorf("status: current %s list record vanished", purpose)
	}
	id, err := m.createList(ctx, purpose)
	if err != nil {
		return err
	}
	next, err := json.Marshal(currentRecord{V: recordFormat, ListID: id, Size: m.size})
	if err != nil {
		return fmt.Errorf("status: open list: %w", err)
	}
	err = m.store.CompareAndSwap(ctx, currentKey(purpose), old, next, 0)
	if errors.Is(err, kv.ErrConflict) {
		// Nothing was allocated in it: it was never current.
		if err := m.store.Delete(ctx, listKey(id)); err != nil {
			return fmt.Errorf("status: drop unused list: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("status: open list: %w", err)
	}
	return nil
}

// createList stores a new, empty list and returns its ID.
func (m *Manager) createList(ctx context.Context, purpose Purpose) (string, error) {
	now := m.now().UTC()
	rec, err := json.Marshal(listRecord{V: recordFormat, Purpose: purpose, Size: m.size, Version: 1, Created: now, Updated: now, Data: newData(purpose, m.size)})
	if err != nil {
		return "", fmt.Errorf("status: create list: %w", err)
	}
	for range 3 { // a collision of 128-bit IDs means a broken Rand
		id, err := m.newListID()
		if err != nil {
			return "", err
		}
		err = m.store.CompareAndSwap(ctx, listKey(id), nil, rec, 0)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, kv.ErrConflict) {
			return "", fmt.Errorf("status: create list: %w", err)
		}
	}
	return "", errors.New("status: create list: list IDs keep colliding; is Options.Rand random?")
}

// Get returns the status at ref.
func (m *Manager) Get(ctx context.Context, ref ListRef) (uint8, error) {
	rec, _, err := m.loadList(ctx, ref.ListID)
	if err != nil {
		return 0, err
	}
	if ref.Index < 0 || ref.Index >= rec.Size {
		return 0, fmt.Errorf("%w: %d not in [0, %d)", ErrRange, ref.Index, rec.Size)
	}
	c, err := rec.open()
	if err != nil {
		return 0, err
	}
	return c.get(ref.Index)
}

// SetStatus sets the status at ref, an allocated position, to value:
// tokenlist.Valid, Invalid or Suspended (or 3) for TokenStatus lists, 0 or
// 1 for bitstring lists. Setting the current value is a no-op that keeps
// the version. A revoked entry (INVALID, or a set revocation bit) cannot
// change (ErrIrreversible).
func (m *Manager) SetStatus(ctx context.Context, ref ListRef, value uint8) error {
	for attempt := range maxAttempts {
		rec, raw, err := m.loadList(ctx, ref.ListID)
		if err != nil {
			return err
		}
		if attempt == 0 {
			if value >= 1<<rec.Purpose.bits() {
				return fmt.Errorf("%w: %#x for a %s list", ErrValue, value, rec.Purpose)
			}
			if ref.Index < 0 || ref.Index >= rec.Size {
				return fmt.Errorf("%w: %d not in [0, %d)", ErrRange, ref.Index, rec.Size)
			}
			if err := m.checkAllocated(ctx, ref); err != nil {
				return err
			}
		}
		c, err := rec.open()
		if err != nil {
			return err
		}
		cur, err := c.get(ref.Index)
		if err != nil {
			return err
		}
		if cur == value {
			return nil
		}
		if revoked(rec.Purpose, cur) {
			return fmt.Errorf("%w: %s list %s index %d", ErrIrreversible, rec.Purpose, ref.ListID, ref.Index)
		}
		if err := c.set(ref.Index, value); err != nil {
			return err
		}
		rec.Data = c.bytes()
		rec.Version++
		rec.Updated = m.now().UTC()
		next, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("status: set status: %w", err)
		}
		err = m.store.CompareAndSwap(ctx, listKey(ref.ListID), raw, next, 0)
		if errors.Is(err, kv.ErrConflict) {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("status: set status: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: set status in list %s", ErrContention, ref.ListID)
}

// revoked reports whether cur is a status that may not change.
func revoked(p Purpose, cur uint8) bool {
	switch p {
	case TokenStatus:
		return cur == tokenlist.Invalid
	case BitstringRevocation:
		return cur == 1
	}
	return false
}

func (m *Manager) checkAllocated(ctx context.Context, ref ListRef) error {
	n, bit := pageOf(ref.Index)
	raw, err := m.store.Get(ctx, pageKey(ref.ListID, n))
	if errors.Is(err, kv.ErrNotFound) {
		return fmt.Errorf("%w: list %s index %d", ErrNotAllocated, ref.ListID, ref.Index)
	}
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	p, err := decodePage(raw)
	if err != nil {
		return err
	}
	if !p.has(bit) {
		return fmt.Errorf("%w: list %s index %d", ErrNotAllocated, ref.ListID, ref.Index)
	}
	return nil
}

// Snapshot returns list listID encoded, with its version. The encoding
// of a version is computed once (by this Manager) and then cached, so
// Snapshot is cheap until the next status change.
func (m *Manager) Snapshot(ctx context.Context, listID string) (Snapshot, error) {
	rec, _, err := m.loadList(ctx, listID)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{
		ListID:  listID,
		Purpose: rec.Purpose,
		Size:    rec.Size,
		Bits:    rec.Purpose.bits(),
		Version: rec.Version,
		Created: rec.Created,
		Updated: rec.Updated,
	}
	m.encMu.Lock()
	e, ok := m.encoded[listID]
	m.encMu.Unlock()
	if ok && e.version == rec.Version {
		snap.Encoded = e.value
		return snap, nil
	}
	c, err := rec.open()
	if err != nil {
		return Snapshot{}, err
	}
	if snap.Encoded, err = c.encode(); err != nil {
		return Snapshot{}, err
	}
	m.encMu.Lock()
	if cur, ok := m.encoded[listID]; !ok || cur.version < rec.Version {
		if !ok && len(m.encoded) >= maxEncoded {
			clear(m.encoded)
		}
		m.encoded[listID] = encoding{version: rec.Version, value: snap.Encoded}
	}
	m.encMu.Unlock()
	return snap, nil
}

func (m *Manager) loadList(ctx context.Context, id string) (listRecord, []byte, error) {
	if !validListID(id) {
		return listRecord{}, nil, fmt.Errorf("%w: %.40q", ErrUnknownList, id)
	}
	raw, err := m.store.Get(ctx, listKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return listRecord{}, nil, fmt.Errorf("%w: %s", ErrUnknownList, id)
	}
	if err != nil {
		return listRecord{}, nil, fmt.Errorf("status: load list: %w", err)
	}
	rec, err := decodeList(raw)
	return rec, raw, err
}

// intn returns a uniform random int in [0, n), n > 0.
func (m *Manager) intn(n int) (int, error) {
	bound := uint64(n)
	limit := ^uint64(0) - ^uint64(0)%bound // reject the biased tail
	var b [8]byte
	for {
		m.randMu.Lock()
		_, err := io.ReadFull(m.rand, b[:])
		m.randMu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("status: random: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]); v < limit {
			return int(v % bound), nil
		}
	}
}

func (m *Manager) newListID() (string, error) {
	var b [listIDLen / 2]byte
	m.randMu.Lock()
	_, err := io.ReadFull(m.rand, b[:])
	m.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("status: random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
