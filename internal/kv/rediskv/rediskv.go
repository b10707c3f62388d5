// Package rediskv implements kv.Store on Redis (6.2 or later), for state
// shared by several medid instances.
//
// Every key is stored under a fixed prefix, so several stores can share one
// Redis database. Expiry is Redis's own (PX); Take is GETDEL and
// CompareAndSwap a Lua script, so both are atomic on the server. List scans
// the prefix with SCAN, which is linear in the size of the database: it is
// meant for administration and small namespaces, not hot paths.
package rediskv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/medid/medid/internal/kv"
)

// pingTimeout bounds the connectivity check in Open.
const pingTimeout = 5 * time.Second

const (
	scanCount = 1000 // COUNT hint per SCAN call
	getChunk  = 256  // keys per MGET in List
)

// Store is a kv.Store on a Redis client. Its methods are safe for
// concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	owned  bool // Close closes client
}

var _ kv.Store = (*Store)(nil)

// New returns a Store that keeps its keys in client under prefix. The caller
// keeps ownership of client: Close does not close it.
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{client: client, prefix: prefix}
}

// Open connects to the Redis server named by url (redis://, rediss:// or
// unix://, as redis.ParseURL accepts) and checks that it answers within a
// few seconds. Close closes the connection.
func Open(url string, prefix string) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, fmt.Errorf("rediskv: invalid Redis URL: %w", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("rediskv: Redis at %s does not answer: %w", opts.Addr, err)
	}
	return &Store{client: client, prefix: prefix, owned: true}, nil
}

// Close closes the connection if the Store was made by Open; for a Store
// made by New it does nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("rediskv: close: %w", err)
	}
	return nil
}

func (s *Store) key(key string) string { return s.prefix + key }

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key, 0); err != nil {
		return nil, err
	}
	v, err := s.client.Get(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rediskv: get %q: %w", key, err)
	}
	return nonNil(v), nil
}

// Put implements kv.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := check(ctx, key, ttl); err != nil {
		return err
	}
	args := []any{"set", s.key(key), value}
	if ttl > 0 {
		args = append(args, "px", millis(ttl))
	}
	if err := s.client.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("rediskv: put %q: %w", key, err)
	}
	return nil
}

// PutAll implements kv.Store: one MULTI/EXEC transaction.
func (s *Store) PutAll(ctx context.Context, items []kv.Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	for _, it := range items {
		if err := check(ctx, it.Key, it.TTL); err != nil {
			return err
		}
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range items {
			if it.Delete {
				p.Del(ctx, s.key(it.Key))
				continue
			}
			var ttl time.Duration
			if it.TTL > 0 {
				ttl = time.Duration(millis(it.TTL)) * time.Millisecond
			}
			p.Set(ctx, s.key(it.Key), nonNil(it.Value), ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rediskv: put %d items: %w", len(items), err)
	}
	return nil
}

// putAllIfScript is PutAllIf.
//
//	KEYS[1]      the condition's key; KEYS[2..] the items' keys
//	ARGV[1]      "create": only if KEYS[1] is absent; "swap": only if it equals ARGV[2]
//	ARGV[2]      the expected value (ignored for "create")
//	ARGV[3+2i]   item i's value; ARGV[4+2i] its lifetime in milliseconds, "0" for none, "-1" to delete it
//
// It returns 1 if it wrote the items and 0 if the condition did not hold.
var putAllIfScript = redis.NewScript(`
local cur = redis.call("GET", KEYS[1])
if ARGV[1] == "create" then
  if cur ~= false then return 0 end
elseif cur == false or cur ~= ARGV[2] then
  return 0
end
for i = 2, #KEYS do
  local v = ARGV[2 * i - 1]
  local ttl = tonumber(ARGV[2 * i])
  if ttl < 0 then
    redis.call("DEL", KEYS[i])
  elseif ttl > 0 then
    redis.call("SET", KEYS[i], v, "PX", ttl)
  else
    redis.call("SET", KEYS[i], v)
  end
end
return 1
`)

// PutAllIf implements kv.Store: one script, atomic on the server.
func (s *Store) PutAllIf(ctx context.Context, key string, old []byte, items []kv.Item) error {
	if err := check(ctx, key, 0); err != nil {
		return err
	}
	keys := make([]string, 0, 1+len(items))
	keys = append(keys, s.key(key))
	mode := "swap"
	if old == nil {
		mode = "create"
	}
	args := make([]any, 0, 2+2*len(items))
	args = append(args, mode, nonNil(old))
	for _, it := range items {
		if err := check(ctx, it.Key, it.TTL); err != nil {
			return err
		}
		var ms int64
		switch {
		case it.Delete:
			ms = -1
		case it.TTL > 0:
			ms = millis(it.TTL)
		}
		keys = append(keys, s.key(it.Key))
		args = append(args, nonNil(it.Value), ms)
	}
	n, err := putAllIfScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("rediskv: conditional put of %d items: %w", len(items), err)
	}
	if n == 0 {
		return kv.ErrConflict
	}
	return nil
}

// casScript is CompareAndSwap.
//
//	KEYS[1]  the key
//	ARGV[1]  "create": set only if absent; "swap": set only if equal to ARGV[2]
//	ARGV[2]  the expected value (ignored for "create")
//	ARGV[3]  the new value
//	ARGV[4]  lifetime in milliseconds, "0" for none
//
// It returns 1 if it set the key and 0 if the condition did not hold. A
// plain SET discards any previous lifetime, so a swap with no lifetime makes
// the key persistent, as kv.Store requires.
var casScript = redis.NewScript(`
local ttl = tonumber(ARGV[4])
if ARGV[1] == "create" then
  local ok
  if ttl > 0 then
    ok = redis.call("SET", KEYS[1], ARGV[3], "NX", "PX", ttl)
  else
    ok = redis.call("SET", KEYS[1], ARGV[3], "NX")
  end
  if ok then return 1 end
  return 0
end
local cur = redis.call("GET", KEYS[1])
if cur == false or cur ~= ARGV[2] then return 0 end
if ttl > 0 then
  redis.call("SET", KEYS[1], ARGV[3], "PX", ttl)
else
  redis.call("SET", KEYS[1], ARGV[3])
end
return 1
`)

// CompareAndSwap implements kv.Store.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) error {
	if err := check(ctx, key, ttl); err != nil {
		return err
	}
	mode := "swap"
	if old == nil {
		mode = "create"
	}
	var ms int64
	if ttl > 0 {
		ms = millis(ttl)
	}
	n, err := casScript.Run(ctx, s.client, []string{s.key(key)}, mode, old, value, ms).Int()
	if err != nil {
		return fmt.Errorf("rediskv: compare-and-swap %q: %w", key, err)
	}
	if n != 1 {
		return kv.ErrConflict
	}
	return nil
}

// Take implements kv.Store.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := check(ctx, key, 0); err != nil {
		return nil, err
	}
	v, err := s.client.GetDel(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rediskv: take %q: %w", key, err)
	}
	return nonNil(v), nil
}

// Delete implements kv.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key, 0); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.key(key)).Err(); err != nil {
		return fmt.Errorf("rediskv: delete %q: %w", key, err)
	}
	return nil
}

// List implements kv.Store. It collects the matching key names with SCAN,
// sorts them, and then reads the values in chunks with MGET, skipping keys
// that expired or were deleted in the meantime. fn may use the store.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	names, err := s.scan(ctx, s.key(prefix))
	if err != nil {
		return fmt.Errorf("rediskv: list %q: %w", prefix, err)
	}
	for chunk := range slices.Chunk(names, getChunk) {
		if err := ctx.Err(); err != nil {
			return err
		}
		values, err := s.client.MGet(ctx, chunk...).Result()
		if err != nil {
			return fmt.Errorf("rediskv: list %q: %w", prefix, err)
		}
		for i, v := range values {
			str, ok := v.(string)
			if !ok {
				continue // gone since SCAN (nil), or not a string
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(strings.TrimPrefix(chunk[i], s.prefix), []byte(str)); err != nil {
				return err
			}
		}
	}
	return nil
}

// scan returns the sorted, distinct names of the keys that start with
// prefix. On a cluster it scans every master.
func (s *Store) scan(ctx context.Context, prefix string) ([]string, error) {
	pattern := globEscape(prefix) + "*"
	var (
		mu    sync.Mutex
		names []string
	)
	scanNode := func(ctx context.Context, c redis.Cmdable) error {
		var local []string
		iter := c.Scan(ctx, 0, pattern, scanCount).Iterator()
		for iter.Next(ctx) {
			// The pattern is exact, but List's promise rests on this.
			if k := iter.Val(); strings.HasPrefix(k, prefix) {
				local = append(local, k)
			}
		}
		mu.Lock()
		names = append(names, local...)
		mu.Unlock()
		return iter.Err()
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scanNode(ctx, node)
		})
	} else {
		err = scanNode(ctx, s.client)
	}
	if err != nil {
		return nil, err
	}
	// SCAN may return a key more than once.
	slices.Sort(names)
	return slices.Compact(names), nil
}

// globEscape escapes the characters that are special in Redis glob patterns.
func globEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func check(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	return kv.CheckTTL(ttl)
}

// millis converts a positive ttl to whole milliseconds for PX, rounding up
// so that a sub-millisecond ttl still expires rather than meaning "none".
func millis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// nonNil returns v, or an empty non-nil slice for an empty value, so that a
// present empty value is distinguishable from "absent" (nil).
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
