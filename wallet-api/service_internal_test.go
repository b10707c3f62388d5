package walletapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
)

// clock is an injectable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func boltStore(t testing.TB) kv.Store {
	// A real bbolt store; without fsync, which only slows tests down.
	s, err := boltkv.OpenWith(filepath.Join(t.TempDir(), "wallet.db"), boltkv.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func redisStore(t testing.TB) kv.Store {
	url := kvtest.RedisURL(t)
	s, err := rediskv.Open(url, "medid-wallet-test:"+randomID(6)+":")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var ks []string
		_ = s.List(ctx, "", func(k string, _ []byte) error { ks = append(ks, k); return nil })
		for _, k := range ks {
			_ = s.Delete(ctx, k)
		}
		s.Close()
	})
	return s
}

func testSealer(t testing.TB, b byte) *keys.Sealer {
	mk, _, err := keys.LoadMasterKey(base64Std(bytes.Repeat([]byte{b}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSealer(mk, "wallet/account-key")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestService(t testing.TB, store kv.Store, c *clock) *Service {
	t.Helper()
	s, err := New(store, testSealer(t, 1), did.NewResolver(didjwk.Method{}, didkey.Method{}), nil, Options{
		Now: c.Now, AllowHTTPLoopback: true,
		PasswordParams: Argon2Params{Time: 1, Memory: 64, Threads: 1},
		BackupParams:   Argon2Params{Time: 1, Memory: 64, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stores(t *testing.T, f func(t *testing.T, store kv.Store)) {
	t.Run("bolt", func(t *testing.T) { f(t, boltStore(t)) })
	t.Run("redis", func(t *testing.T) { f(t, redisStore(t)) })
}

func TestAccountsAndSessions(t *testing.T) {
	stores(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		s := newTestService(t, store, c)
		creds := Credentials{Username: "Patient.One", Password: "a good long password"}
		a, err := s.CreateAccount(ctx, creds)
		if err != nil {
			t.Fatal(err)
		}
		if a.Username != "patient.one" {
			t.Fatalf("username %q", a.Username)
		}
		if _, err := s.CreateAccount(ctx, Credentials{Username: "PATIENT.ONE", Password: "another long password"}); !errors.Is(err, ErrUsernameTaken) {
			t.Fatalf("duplicate: %v", err)
		}
		for _, bad := range []Credentials{{"ab", "a good long password"}, {"-lead", "a good long password"},
			{"with space", "a good long password"}, {"fine", "short"}} {
			var fe *FieldError
			if _, err := s.CreateAccount(ctx, bad); !errors.As(err, &fe) {
				t.Errorf("%q: %v", bad.Username, err)
			}
		}
		// The account starts with one P-256 holder key.
		ks, err := s.Keys(ctx, *a)
		if err != nil || len(ks) != 1 || ks[0].Alg != "ES256" {
			t.Fatalf("keys: %v %v", ks, err)
		}

		if _, err := s.SignIn(ctx, Credentials{Username: "patient.one", Password: "wrong password!!"}); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.SignIn(ctx, Credentials{Username: "nobody", Password: "a good long password"}); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("unknown user: %v", err)
		}
		s1, err := s.SignIn(ctx, creds)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := s.SignIn(ctx, creds)
		if err != nil {
			t.Fatal(err)
		}
		if s1.Token == s2.Token || len(s1.Token) < 40 {
			t.Fatalf("tokens %d bytes, equal=%v", len(s1.Token), s1.Token == s2.Token)
		}
		// Tokens are stored only by hash.
		_ = store.List(ctx, "wallet/", func(k string, v []byte) error {
			if bytes.Contains([]byte(k), []byte(s1.Token)) || bytes.Contains(v, []byte(s1.Token)) {
				t.Fatalf("token stored in clear under %s", k)
			}
			return nil
		})
		if got, err := s.Authenticate(ctx, s1.Token); err != nil || got.ID != a.ID {
			t.Fatalf("authenticate: %v %v", got, err)
		}
		// Expiry by the injected clock.
		c.Add(s.opt.SessionTTL - time.Second)
		if _, err := s.Authenticate(ctx, s1.Token); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		c.Add(time.Second)
		if _, err := s.Authenticate(ctx, s1.Token); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("after expiry: %v", err)
		}
		// Signing out everywhere ends every session.
		s3, _ := s.SignIn(ctx, creds)
		s4, _ := s.SignIn(ctx, creds)
		acct, err := s.Authenticate(ctx, s3.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SignOutEverywhere(ctx, *acct, s3.Token); err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{s3.Token, s4.Token} {
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("after sign-out: %v", err)
			}
		}
		// A new sign-in works again.
		s5, err := s.SignIn(ctx, creds)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, s5.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Fatal(err)
		}
	})
}

func TestSignInRateLimitedPerUsername(t *testing.T) {
	stores(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		s := newTestService(t, store, c)
		creds := Credentials{Username: "victim", Password: "a good long password"}
		if _, err := s.CreateAccount(ctx, creds); err != nil {
			t.Fatal(err)
		}
		for i := range s.opt.SignInFailures {
			if _, err := s.SignIn(ctx, Credentials{Username: "victim", Password: "guess number " + string(rune('a'+i))}); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		// Now even the right password is refused until the window ends.
		var rl *RateLimitedError
		if _, err := s.SignIn(ctx, creds); !errors.As(err, &rl) || rl.RetryAfter <= 0 {
			t.Fatalf("after %d failures: %v", s.opt.SignInFailures, err)
		}
		c.Add(s.opt.SignInWindow)
		if _, err := s.SignIn(ctx, creds); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestRecordsAreSealedPerAccount(t *testing.T) {
	ctx := context.Background()
	store := boltStore(t)
	c := &clock{t: time.Now()}
	s := newTestService(t, store, c)
	a, err := s.CreateAccount(ctx, Credentials{Username: "one", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateAccount(ctx, Credentials{Username: "two", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	// A credential record with recognisable claims.
	va, _ := s.vault(*a)
	rec := &credRecord{V: 1, Summary: credSummary{ID: "c1", Format: "dc+sd-jwt", Issuer: "did:example:x", ReceivedAt: c.Now()},
		Claims: map[string]any{"family_name": "Lovelace"}}
	if err := s.putCredential(ctx, va, a.ID, rec); err != nil {
		t.Fatal(err)
	}
	ks, _ := s.Keys(ctx, *a)
	k, err := s.privateKey(ctx, *a, ks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := keys.ExportPKCS8(k)
	// Nothing readable at rest: neither claims nor key material.
	_ = store.List(ctx, "", func(key string, v []byte) error {
		if bytes.Contains(v, []byte("Lovelace")) || bytes.Contains(v, der[len(der)-32:]) {
			t.Fatalf("plaintext at rest under %s", key)
		}
		return nil
	})
	// A record copied into another account's place does not open there.
	raw, err := store.Get(ctx, dataKey(a.ID, "cred", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, dataKey(b.ID, "cred", "c1"), raw, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Credential(ctx, *b, "c1"); !errors.Is(err, errSealed) {
		t.Fatalf("moved record: %v", err)
	}
	if d, err := s.Credential(ctx, *a, "c1"); err != nil || d.Claims["family_name"] != "Lovelace" {
		t.Fatalf("own record: %v %v", d, err)
	}
	// Another master key cannot unwrap the account's data key.
	other, err := New(store, testSealer(t, 2), s.resolver, nil, s.opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Credential(ctx, *a, "c1"); err == nil || !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("other master key: %v", err)
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
