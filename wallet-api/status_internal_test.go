package walletapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
)

// listServer serves signed status lists and counts fetches per path.
type listServer struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]string
	hits   map[string]*atomic.Int64
	// gate, when set, holds every answer until it is closed.
	gate chan struct{}
}

func newListServer(t testing.TB) *listServer {
	ls := &listServer{tokens: map[string]string{}, hits: map[string]*atomic.Int64{}}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.Lock()
		tok, ok := ls.tokens[r.URL.Path]
		h := ls.hits[r.URL.Path]
		gate := ls.gate
		ls.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Add(1)
		w.Header().Set("Content-Type", tokenlist.MediaType)
		fmt.Fprint(w, tok)
	}))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *listServer) set(t testing.TB, path string, l *tokenlist.List, k *keys.PrivateKey, kid string, now time.Time) {
	tok, err := tokenlist.SignJWT(l, ls.URL+path, now, now.Add(24*time.Hour), 0, k, kid)
	if err != nil {
		t.Fatal(err)
	}
	ls.mu.Lock()
	ls.tokens[path] = tok
	if ls.hits[path] == nil {
		ls.hits[path] = &atomic.Int64{}
	}
	ls.mu.Unlock()
}

func (ls *listServer) count(path string) int64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.hits[path].Load()
}

// didJWKIssuer returns a key and its did:jwk and kid, an issuer the
// resolver can resolve without a registry.
func didJWKIssuer(t testing.TB) (*keys.PrivateKey, string, string) {
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := k.PublicJWKJSON()
	d, err := didjwk.New(j)
	if err != nil {
		t.Fatal(err)
	}
	return k, d.String(), d.String() + "#0"
}

// fill stores n credentials for a, alternating between the two lists,
// credential i at index i of its list.
func fill(t testing.TB, s *Service, a Account, n int, iss string, uris [2]string, now time.Time) {
	v, err := s.vault(a)
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(365 * 24 * time.Hour)
	for i := range n {
		rec := &credRecord{V: 1, Summary: credSummary{ID: fmt.Sprintf("c%04d", i), Format: "dc+sd-jwt",
			ConfigurationID: "PatientIdentityCredential_dc+sd-jwt", CredentialIssuer: "https://issuer.example",
			Issuer: iss, Type: "https://issuer.example/vct/PatientIdentityCredential", ExpiresAt: &exp,
			ReceivedAt: now.Add(time.Duration(i) * time.Second), Copies: 1,
			Status: []statusRef{{URI: uris[i%2], Idx: i}}}}
		if i == 3 {
			past := now.Add(-time.Hour)
			rec.Summary.ExpiresAt = &past
		}
		if err := s.putCredential(context.Background(), v, a.ID, rec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStatusListsFetchedOncePerList(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newTestService(t, boltStore(t), c)
	a, err := s.CreateAccount(ctx, Credentials{Username: "many", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	k, iss, kid := didJWKIssuer(t)
	ls := newListServer(t)
	l1, _ := tokenlist.New(2, 2048)
	l2, _ := tokenlist.New(2, 2048)
	l1.Set(0, tokenlist.Invalid)   // c0000: revoked
	l2.Set(1, tokenlist.Suspended) // c0001: suspended
	l1.Set(3, tokenlist.Suspended) // c0003 is expired too: expired wins over suspended
	ls.set(t, "/l1", l1, k, kid, c.Now())
	ls.set(t, "/l2", l2, k, kid, c.Now())
	fill(t, s, *a, 1000, iss, [2]string{ls.URL + "/l1", ls.URL + "/l2"}, c.Now())

	want := map[string]string{"c0000": StatusRevoked, "c0001": StatusSuspended, "c0003": StatusExpired, "c0002": StatusValid, "c0999": StatusValid}
	check := func() {
		t.Helper()
		cs, err := s.Credentials(ctx, *a)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1000 || cs[0].ID != "c0999" {
			t.Fatalf("%d credentials, first %s", len(cs), cs[0].ID)
		}
		for _, cr := range cs {
			if w, ok := want[cr.ID]; ok && cr.Status != w {
				t.Errorf("%s: %s, want %s", cr.ID, cr.Status, w)
			}
		}
	}
	check()
	check()
	if n1, n2 := ls.count("/l1"), ls.count("/l2"); n1 != 1 || n2 != 1 {
		t.Fatalf("fetches: l1 %d, l2 %d; want one each", n1, n2)
	}

	// Past the TTL the stale list is shown at once (the list server does
	// not answer until later) and refreshed in the background; the
	// refreshed list shows the change.
	l2.Set(1, tokenlist.Valid)
	ls.set(t, "/l2", l2, k, kid, c.Now())
	gate := make(chan struct{})
	ls.mu.Lock()
	ls.gate = gate
	ls.mu.Unlock()
	c.Add(s.opt.StatusTTL + time.Second)
	check() // still suspended: stale
	ls.mu.Lock()
	ls.gate = nil
	ls.mu.Unlock()
	close(gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := s.Credential(ctx, *a, "c0001")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == StatusValid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh did not happen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := ls.count("/l2"); n != 2 {
		t.Fatalf("l2 fetched %d times, want 2", n)
	}
	want["c0001"] = StatusValid
	check()

	// Far past it, the list is fetched before answering.
	l1.Set(2, tokenlist.Invalid)
	ls.set(t, "/l1", l1, k, kid, c.Now())
	c.Add(s.opt.StatusTTL + s.opt.StatusMaxStale + time.Second)
	want["c0002"] = StatusRevoked
	check()
}

func TestStatusListMustBeSignedByTheIssuer(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newTestService(t, boltStore(t), c)
	a, err := s.CreateAccount(ctx, Credentials{Username: "wary", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	_, iss, kid := didJWKIssuer(t)
	other, _, otherKid := didJWKIssuer(t)
	ls := newListServer(t)
	l, _ := tokenlist.New(1, 64)
	ls.set(t, "/forged", l, other, kid, c.Now())       // the issuer's kid, another key
	ls.set(t, "/foreign", l, other, otherKid, c.Now()) // another issuer's list
	fill(t, s, *a, 2, iss, [2]string{ls.URL + "/forged", ls.URL + "/foreign"}, c.Now())
	cs, err := s.Credentials(ctx, *a)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range cs {
		if cr.Status != StatusUnknown || cr.StatusError == "" {
			t.Errorf("%s: %s %q, want unknown", cr.ID, cr.Status, cr.StatusError)
		}
	}
	// An unreachable list is unknown too, and not a failure of the list.
	ls.Close()
	s.status = newStatusCache()
	if cs, err := s.Credentials(ctx, *a); err != nil || cs[0].Status != StatusUnknown {
		t.Fatalf("unreachable: %v %v", cs, err)
	}
}

// BenchmarkListCredentials1000 is GET /wallet/credentials's work for an
// account of 1,000 credentials, status lists cached (issue 5's target:
// under 20 ms median).
func BenchmarkListCredentials1000(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newTestService(b, boltStore(b), c)
	a, err := s.CreateAccount(ctx, Credentials{Username: "bench", Password: "a good long password"})
	if err != nil {
		b.Fatal(err)
	}
	k, iss, kid := didJWKIssuer(b)
	ls := newListServer(b)
	l, _ := tokenlist.New(2, 2048)
	ls.set(b, "/l1", l, k, kid, c.Now())
	ls.set(b, "/l2", l, k, kid, c.Now())
	fill(b, s, *a, 1000, iss, [2]string{ls.URL + "/l1", ls.URL + "/l2"}, c.Now())
	if _, err := s.Credentials(ctx, *a); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		cs, err := s.Credentials(ctx, *a)
		if err != nil || len(cs) != 1000 {
			b.Fatal(err)
		}
	}
}
