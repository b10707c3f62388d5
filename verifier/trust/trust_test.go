package trust_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/internal/kv/kvtest"
	"github.com/medid/medid/internal/kv/rediskv"
	"github.com/medid/medid/verifier/trust"
)

const (
	issA = "did:web:hospital.example"
	issB = "did:jwk:eyJrdHkiOiJPS1AifQ"
	vct  = "https://medid.example/vct/PatientIdentityCredential"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func stores(t *testing.T) map[string]trust.Store {
	t.Helper()
	bolt, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	out := map[string]trust.Store{"bolt": bolt}
	outer := t
	t.Run("redis-probe", func(t *testing.T) {
		url := kvtest.RedisURL(t)
		r, err := rediskv.Open(url, "medid-test-"+uuid.NewString()+":")
		if err != nil {
			t.Fatal(err)
		}
		outer.Cleanup(func() { r.Close() })
		out["redis"] = r
	})
	return out
}

func TestRegistry(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := trust.New(s, func() time.Time { return t0 })
			t.Cleanup(func() {
				for _, typ := range []string{vct, trust.Any} {
					_ = r.Delete(context.Background(), typ)
				}
			})
			ok, reason, err := r.Trusted(ctx, issA, []string{vct})
			if err != nil || ok || !strings.Contains(reason, "no trusted issuers") {
				t.Fatalf("empty registry: %v %q %v", ok, reason, err)
			}
			l, err := r.Set(ctx, vct, []string{issB, issA, issA})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Issuers) != 2 || l.Issuers[1] != issA || !l.Updated.Equal(t0) {
				t.Fatalf("Set: %+v", l)
			}
			if ok, _, _ := r.Trusted(ctx, issA, []string{"Other", vct}); !ok {
				t.Fatal("listed issuer not trusted")
			}
			if ok, reason, _ := r.Trusted(ctx, "did:web:evil.example", []string{vct}); ok || !strings.Contains(reason, "not trusted") {
				t.Fatalf("unlisted issuer: %v %q", ok, reason)
			}
			if ok, _, _ := r.Trusted(ctx, issA, []string{"PractitionerCredential"}); ok {
				t.Fatal("issuer trusted for a type it is not listed under")
			}
			if _, err := r.Set(ctx, trust.Any, []string{"did:web:everything.example"}); err != nil {
				t.Fatal(err)
			}
			if ok, _, _ := r.Trusted(ctx, "did:web:everything.example", []string{"PractitionerCredential"}); !ok {
				t.Fatal("issuer under * not trusted")
			}
			all, err := r.All(ctx)
			if err != nil || len(all) != 2 || all[0].Type != trust.Any || all[1].Type != vct {
				t.Fatalf("All: %+v %v", all, err)
			}
			if err := r.Delete(ctx, vct); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Get(ctx, vct); !errors.Is(err, trust.ErrNotFound) {
				t.Fatalf("after Delete: %v", err)
			}
			if _, err := r.Set(ctx, vct, []string{"not a did"}); !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("bad DID: %v", err)
			}
			if _, err := r.Set(ctx, "", []string{issA}); !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("empty type: %v", err)
			}
			if _, err := r.Set(ctx, "a\nb", []string{issA}); !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("control character: %v", err)
			}
		})
	}
}

func TestAdminAPI(t *testing.T) {
	bolt, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	trust.New(bolt, nil).Register(e.Group(""), httpx.AdminAuth("0123456789abcdef0123"))
	srv := httptest.NewServer(e)
	defer srv.Close()

	do := func(method, path, token, body string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	const tok = "0123456789abcdef0123"
	p := "/verifier/trusted-issuers/" + url.PathEscape(vct)
	if r, _ := do("PUT", p, "", `{"issuers":["`+issA+`"]}`); r.StatusCode != 401 {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r, _ := do("GET", "/verifier/trusted-issuers", "wrong-token-wrong-token", ""); r.StatusCode != 401 {
		t.Fatalf("wrong token: %d", r.StatusCode)
	}
	if r, m := do("GET", p, tok, ""); r.StatusCode != 404 {
		t.Fatalf("missing list: %d %v", r.StatusCode, m)
	}
	r, m := do("PUT", p, tok, `{"issuers":["`+issA+`","`+issB+`"]}`)
	if r.StatusCode != 200 || m["type"] != vct || len(m["issuers"].([]any)) != 2 {
		t.Fatalf("PUT: %d %v", r.StatusCode, m)
	}
	if r, m := do("GET", p, tok, ""); r.StatusCode != 200 || m["type"] != vct {
		t.Fatalf("GET: %d %v", r.StatusCode, m)
	}
	if r, m := do("GET", "/verifier/trusted-issuers", tok, ""); r.StatusCode != 200 || len(m["trusted_issuers"].([]any)) != 1 {
		t.Fatalf("GET all: %d %v", r.StatusCode, m)
	}
	if r, m := do("PUT", p, tok, `{"issuers":["nope"]}`); r.StatusCode != 400 || m["field"] != "issuers" {
		t.Fatalf("bad DID: %d %v", r.StatusCode, m)
	}
	if r, m := do("PUT", p, tok, `{"issuer":["`+issA+`"]}`); r.StatusCode != 400 {
		t.Fatalf("unknown member: %d %v", r.StatusCode, m)
	}
	if r, m := do("PUT", p, tok, `{}`); r.StatusCode != 400 || m["field"] != "issuers" {
		t.Fatalf("no issuers: %d %v", r.StatusCode, m)
	}
	if r, _ := do("DELETE", p, tok, ""); r.StatusCode != 204 {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	if r, _ := do("GET", p, tok, ""); r.StatusCode != 404 {
		t.Fatalf("after DELETE: %d", r.StatusCode)
	}
}
