package statuscheck_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier/statuscheck"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

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

// party is an issuer with a did:jwk.
type party struct {
	key *keys.PrivateKey
	did string
	kid string
}

func newParty(t testing.TB) party {
	t.Helper()
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	d, err := didjwk.New(j)
	if err != nil {
		t.Fatal(err)
	}
	return party{key: k, did: d.String(), kid: d.String() + "#0"}
}

// resolverKeys is a KeyFunc over the real DID resolver (did:jwk).
func resolverKeys() statuscheck.KeyFunc {
	r := did.NewResolver(didjwk.Method{})
	return func(ctx context.Context, issuer, kid string) (crypto.PublicKey, error) {
		res, err := r.Resolve(ctx, issuer, did.ResolutionOptions{})
		if err != nil {
			return nil, err
		}
		vm, ok := res.Document.VerificationMethodByID(kid)
		if !ok || !res.Document.Authorized(did.AssertionMethod, vm.ID) {
			return nil, errors.New("no such assertion key")
		}
		return vm.PublicKey()
	}
}

// listServer serves a token status list signed by p at /token and a
// bitstring status list credential at /bits; hits counts requests.
type listServer struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	token  string
	bits   string
	header http.Header
	delay  time.Duration
	status int
}

func newListServer(t *testing.T) *listServer {
	s := &listServer{status: 200, header: http.Header{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, delay := s.token, s.status, s.delay
		if r.URL.Path == "/bits" {
			body = s.bits
		}
		for k, v := range s.header {
			w.Header()[k] = v
		}
		s.mu.Unlock()
		time.Sleep(delay)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func signToken(t *testing.T, p party, uri string, values map[int]uint8, iat time.Time, ttl time.Duration) string {
	t.Helper()
	l, err := tokenlist.New(2, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		if err := l.Set(i, v); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := tokenlist.SignJWT(l, uri, iat, iat.Add(24*time.Hour), ttl, p.key, p.kid)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func signBits(t *testing.T, p party, uri string, purpose bitstring.Purpose, set []int, ttl time.Duration) string {
	t.Helper()
	l, err := bitstring.New(bitstring.MinEntries)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range set {
		if err := l.Set(i, true); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bitstring.NewCredential(bitstring.CredentialParams{ID: uri, Issuer: p.did, ValidFrom: t0, Purpose: purpose, EncodedList: enc, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	tok, err := jwtvc.IssueVCJWT(m, jwtvc.IssueOptions{Issuer: p.did, KID: p.kid, Key: p.key, IssuedAt: t0, ID: uri})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newChecker(t *testing.T, clk *clock) *statuscheck.Checker {
	t.Helper()
	c, err := statuscheck.New(resolverKeys(), statuscheck.Options{Now: clk.Now, AllowHTTP: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenStatusAndCache(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	uri := srv.URL + "/token"
	srv.token = signToken(t, p, uri, map[int]uint8{1: tokenlist.Invalid, 2: tokenlist.Suspended}, t0, 10*time.Minute)
	clk := &clock{t: t0}
	c := newChecker(t, clk)
	ctx := context.Background()
	for idx, want := range []uint8{tokenlist.Valid, tokenlist.Invalid, tokenlist.Suspended} {
		got, err := c.TokenStatus(ctx, uri, idx, p.did)
		if err != nil || got != want {
			t.Fatalf("index %d: %d %v, want %d", idx, got, err, want)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (cached by ttl)", n)
	}
	// Within the ttl, a change on the server is not seen; after it, it is.
	srv.mu.Lock()
	srv.token = signToken(t, p, uri, map[int]uint8{0: tokenlist.Invalid}, t0.Add(5*time.Minute), 10*time.Minute)
	srv.mu.Unlock()
	clk.Add(9 * time.Minute)
	if v, _ := c.TokenStatus(ctx, uri, 0, p.did); v != tokenlist.Valid || srv.hits.Load() != 1 {
		t.Fatalf("within ttl: %d after %d fetches", v, srv.hits.Load())
	}
	clk.Add(2 * time.Minute)
	if v, err := c.TokenStatus(ctx, uri, 0, p.did); v != tokenlist.Invalid || err != nil || srv.hits.Load() != 2 {
		t.Fatalf("after ttl: %d %v after %d fetches", v, err, srv.hits.Load())
	}
	if _, err := c.TokenStatus(ctx, uri, 5000, p.did); !errors.Is(err, statuscheck.ErrInvalidList) {
		t.Fatalf("index beyond the list: %v", err)
	}
}

func TestMaxAgeWithoutTTL(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	uri := srv.URL + "/token"
	srv.token = signToken(t, p, uri, nil, t0, 0)
	srv.header.Set("Cache-Control", "public, max-age=60")
	clk := &clock{t: t0}
	c := newChecker(t, clk)
	for range 2 {
		if _, err := c.TokenStatus(context.Background(), uri, 0, p.did); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(61 * time.Second)
	if _, err := c.TokenStatus(context.Background(), uri, 0, p.did); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (max-age 60 s)", n)
	}
}

func TestListSignedByAnotherParty(t *testing.T) {
	p, other := newParty(t), newParty(t)
	srv := newListServer(t)
	uri := srv.URL + "/token"
	srv.token = signToken(t, other, uri, nil, t0, time.Minute)
	c := newChecker(t, &clock{t: t0})
	_, err := c.TokenStatus(context.Background(), uri, 0, p.did)
	if !errors.Is(err, statuscheck.ErrInvalidList) || !strings.Contains(err.Error(), "another party") {
		t.Fatalf("list signed by another issuer: %v", err)
	}
	// The other party's own credentials may use it: the cache is per issuer.
	if _, err := c.TokenStatus(context.Background(), uri, 0, other.did); err != nil {
		t.Fatal(err)
	}
}

func TestTokenListWrongSub(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	srv.token = signToken(t, p, "https://elsewhere.example/list", nil, t0, time.Minute)
	c := newChecker(t, &clock{t: t0})
	if _, err := c.TokenStatus(context.Background(), srv.URL+"/token", 0, p.did); !errors.Is(err, statuscheck.ErrInvalidList) {
		t.Fatalf("list for another URI: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	srv.status = http.StatusServiceUnavailable
	c := newChecker(t, &clock{t: t0})
	if _, err := c.TokenStatus(context.Background(), srv.URL+"/token", 0, p.did); !errors.Is(err, statuscheck.ErrUnreachable) {
		t.Fatalf("503: %v", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	if _, err := c.TokenStatus(context.Background(), url+"/token", 0, p.did); !errors.Is(err, statuscheck.ErrUnreachable) {
		t.Fatalf("closed server: %v", err)
	}
	slow := newListServer(t)
	slow.delay = 500 * time.Millisecond
	fast, err := statuscheck.New(resolverKeys(), statuscheck.Options{AllowHTTP: true, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := fast.TokenStatus(context.Background(), slow.URL+"/token", 0, p.did); !errors.Is(err, statuscheck.ErrUnreachable) {
		t.Fatalf("timeout: %v", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Fatalf("the timeout did not apply: %v", d)
	}
}

func TestOnlyHTTPS(t *testing.T) {
	c, err := statuscheck.New(resolverKeys(), statuscheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://status.example/1", "file:///etc/passwd", "/relative", "https://user:pw@status.example/1"} {
		if _, err := c.TokenStatus(context.Background(), u, 0, "did:web:x.example"); !errors.Is(err, statuscheck.ErrReference) {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestSharedFetch(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	uri := srv.URL + "/token"
	srv.token = signToken(t, p, uri, nil, t0, time.Minute)
	srv.delay = 100 * time.Millisecond
	c := newChecker(t, &clock{t: t0})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.TokenStatus(context.Background(), uri, 0, p.did); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 10 concurrent lookups, want 1", n)
	}
}

func TestBitstring(t *testing.T) {
	p := newParty(t)
	srv := newListServer(t)
	uri := srv.URL + "/bits"
	srv.bits = signBits(t, p, uri, bitstring.Revocation, []int{7}, time.Minute)
	clk := &clock{t: t0}
	c := newChecker(t, clk)
	ctx := context.Background()
	if v, err := c.BitstringStatus(ctx, uri, bitstring.Revocation, 7, p.did); err != nil || !v {
		t.Fatalf("set bit: %v %v", v, err)
	}
	if v, err := c.BitstringStatus(ctx, uri, bitstring.Revocation, 8, p.did); err != nil || v {
		t.Fatalf("clear bit: %v %v", v, err)
	}
	if _, err := c.BitstringStatus(ctx, uri, bitstring.Suspension, 7, p.did); !errors.Is(err, statuscheck.ErrInvalidList) {
		t.Fatalf("purpose mismatch: %v", err)
	}
	if _, err := c.BitstringStatus(ctx, uri, "message", 7, p.did); !errors.Is(err, statuscheck.ErrReference) {
		t.Fatalf("unsupported purpose: %v", err)
	}
	other := newParty(t)
	if _, err := c.BitstringStatus(ctx, uri, bitstring.Revocation, 7, other.did); !errors.Is(err, statuscheck.ErrInvalidList) {
		t.Fatalf("list issued by someone else: %v", err)
	}
}
