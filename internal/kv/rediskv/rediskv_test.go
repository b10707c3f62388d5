package rediskv_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

// client returns a client of the test Redis server, closed at cleanup.
func client(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(kvtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// uniquePrefix returns a fresh key prefix and deletes every key under it
// when the test ends.
func uniquePrefix(t *testing.T, c *redis.Client, extra string) string {
	t.Helper()
	prefix := "medid-test/" + uuid.NewString() + extra + "/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s := rediskv.New(c, prefix)
		var keys []string
		err := s.List(ctx, "", func(k string, _ []byte) error {
			keys = append(keys, prefix+k)
			return nil
		})
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("cleaning up %s: %v", prefix, err)
		}
	})
	return prefix
}

func TestConformance(t *testing.T) {
	c := client(t)
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return rediskv.New(c, uniquePrefix(t, c, ""))
	})
}

// TestPrefixIsolation checks that a store's prefix is taken literally: glob
// characters in it must not make List see another store's keys.
func TestPrefixIsolation(t *testing.T) {
	c := client(t)
	base := uniquePrefix(t, c, "")
	globby := rediskv.New(c, base+"a*[b]?/")
	other := rediskv.New(c, base+"aXbY/")
	ctx := t.Context()
	if err := other.Put(ctx, "k", []byte("other"), 0); err != nil {
		t.Fatal(err)
	}
	if err := globby.Put(ctx, "k", []byte("mine"), 0); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := globby.List(ctx, "", func(k string, v []byte) error {
		got = append(got, k+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "k=mine" {
		t.Fatalf("List of glob-prefixed store = %q, want [k=mine]", got)
	}
	// Keys really are namespaced in Redis.
	if v, err := c.Get(ctx, base+"aXbY/k").Result(); err != nil || v != "other" {
		t.Fatalf("raw GET = %q, %v", v, err)
	}
}

func TestTTLIsRedisTTL(t *testing.T) {
	c := client(t)
	prefix := uniquePrefix(t, c, "")
	s := rediskv.New(c, prefix)
	ctx := t.Context()
	if err := s.Put(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if d := c.PTTL(ctx, prefix+"k").Val(); d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("PTTL after Put with 1h = %v", d)
	}
	if err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), 0); err != nil {
		t.Fatal(err)
	}
	// -1 means the key exists without expiry.
	if d := c.PTTL(ctx, prefix+"k").Val(); d != -1 {
		t.Fatalf("PTTL after swap with ttl 0 = %v, want -1 (persistent)", d)
	}
	// A sub-millisecond ttl still expires.
	if err := s.Put(ctx, "tiny", []byte("v"), time.Microsecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Get(ctx, "tiny"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after a 1µs ttl: %v, want ErrNotFound", err)
	}
}

func TestOpen(t *testing.T) {
	url := kvtest.RedisURL(t)
	s, err := rediskv.Open(url, "medid-test/"+uuid.NewString()+"/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := rediskv.Open("http://user:hunter2@example.com/", "p/"); err == nil {
		t.Error("Open of an http URL succeeded")
	} else if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open error repeats the password: %v", err)
	}
	// Nothing listens on port 1.
	start := time.Now()
	if _, err := rediskv.Open("redis://127.0.0.1:1/0", "p/"); err == nil {
		t.Error("Open of an unreachable server succeeded")
	} else if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open error does not name the address: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open of an unreachable server took %v", d)
	}
}
