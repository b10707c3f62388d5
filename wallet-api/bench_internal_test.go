package walletapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/credentials/status/tokenlist"
)

// BenchmarkHTTPListCredentials1000 is GET /wallet/credentials over loopback
// HTTP for an account of 1,000 credentials (two status lists, cached):
// session check, decryption, status, JSON. Issue 5's target: under 20 ms
// median.
func BenchmarkHTTPListCredentials1000(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newTestService(b, boltStore(b), c)
	creds := Credentials{Username: "bench", Password: "a good long password"}
	a, err := s.CreateAccount(ctx, creds)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := s.SignIn(ctx, creds)
	if err != nil {
		b.Fatal(err)
	}
	k, iss, kid := didJWKIssuer(b)
	ls := newListServer(b)
	l, _ := tokenlist.New(2, 2048)
	ls.set(b, "/l1", l, k, kid, c.Now())
	ls.set(b, "/l2", l, k, kid, c.Now())
	fill(b, s, *a, 1000, iss, [2]string{ls.URL + "/l1", ls.URL + "/l2"}, c.Now())
	e := echo.New()
	s.Register(e.Group(""))
	srv := httptest.NewServer(e)
	defer srv.Close()
	get := func() {
		req, _ := http.NewRequest("GET", srv.URL+"/wallet/credentials", nil)
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	get()
	b.ResetTimer()
	for b.Loop() {
		get()
	}
}
