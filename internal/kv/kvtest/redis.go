package kvtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the Redis server tests use unless MEDID_TEST_REDIS_URL
// names another.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// RedisURL returns the URL of the Redis server for tests: the value of
// MEDID_TEST_REDIS_URL, or DefaultRedisURL. It checks that the server
// answers PING. If it does not, the test is skipped, except when the
// environment variable CI is "true": continuous integration must never skip
// the Redis tests, so there the test fails.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("MEDID_TEST_REDIS_URL")
	if url == "" {
		url = DefaultRedisURL
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set MEDID_TEST_REDIS_URL, or CI=true to fail instead of skipping)", args...)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		unavailable("kvtest: the Redis URL for tests is invalid: %v", err)
		return ""
	}
	opts.DialTimeout = 2 * time.Second
	opts.MaxRetries = -1
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		unavailable("kvtest: Redis at %s is unreachable: %v", opts.Addr, err)
		return ""
	}
	return url
}
