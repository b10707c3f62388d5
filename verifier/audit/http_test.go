package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/verifier/audit"
)

const adminToken = "test-admin-token-0123456789"

func serve(t *testing.T, svc *audit.Service) *httptest.Server {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Register(e.Group(""), httpx.AdminAuth(adminToken))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, query string, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+audit.PathAudit+query, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %d, undecodable body: %v", query, resp.StatusCode, err)
	}
	if resp.StatusCode != 200 && resp.Header.Get("Content-Type") != httpx.ContentTypeProblem {
		t.Fatalf("GET %s: %d with Content-Type %q", query, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, body
}

func TestHTTPListing(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, f.svc)
	alice := mustDID(t, "did:example:alice")
	for _, o := range []audit.Outcome{audit.OutcomePermit, audit.OutcomeDeny, audit.OutcomePermit} {
		if _, err := f.svc.Record(context.Background(), decision(alice, o)); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
	}

	if code, _ := get(t, srv, "", ""); code != http.StatusUnauthorized {
		t.Fatalf("without the admin token: %d", code)
	}
	code, body := get(t, srv, "?outcome=permit&limit=1", adminToken)
	if code != 200 {
		t.Fatalf("GET: %d %v", code, body)
	}
	entries := body["entries"].([]any)
	if len(entries) != 1 || body["next_cursor"] == nil {
		t.Fatalf("first page: %v", body)
	}
	first := entries[0].(map[string]any)
	for _, k := range []string{"id", "kind", "time", "verifier", "client", "patient", "credential_types", "claim_names",
		"scopes", "purpose", "outcome", "reasons", "seq", "prev", "commitment", "leaf_index"} {
		if _, ok := first[k]; !ok {
			t.Errorf("entry has no %q: %v", k, first)
		}
	}
	if _, ok := first["salt"]; ok {
		t.Error("the operator's listing shows a salt")
	}
	if first["outcome"] != "permit" || first["seq"].(float64) != 3 {
		t.Errorf("newest permit entry: %v", first)
	}
	code, body = get(t, srv, "?outcome=permit&limit=1&cursor="+url.QueryEscape(body["next_cursor"].(string)), adminToken)
	if code != 200 || len(body["entries"].([]any)) != 1 || body["next_cursor"] != nil {
		t.Fatalf("second page: %d %v", code, body)
	}
	if s := body["entries"].([]any)[0].(map[string]any)["seq"].(float64); s != 1 {
		t.Fatalf("second page holds seq %v, want 1", s)
	}

	from := f.clock.Now().Add(-150 * time.Minute).Format(time.RFC3339)
	code, body = get(t, srv, "?from="+url.QueryEscape(from)+"&patient="+f.svc.Pseudonym(alice), adminToken)
	if code != 200 || len(body["entries"].([]any)) != 2 {
		t.Fatalf("from filter: %d %v", code, body)
	}

	for q, field := range map[string]string{
		"?from=yesterday":                                    "from",
		"?to=2026-13-01T00:00:00Z":                           "to",
		"?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z": "from",
		"?outcome=maybe":                                     "outcome",
		"?limit=0":                                           "limit",
		"?limit=1000":                                        "limit",
		"?limit=ten":                                         "limit",
		"?cursor=bm90IGEgY3Vyc29y":                           "cursor",
		"?patient=did:example:alice":                         "patient",
		"?sort=asc":                                          "sort",
		"?outcome=permit&outcome=deny":                       "outcome",
	} {
		code, body := get(t, srv, q, adminToken)
		if code != http.StatusBadRequest || body["field"] != field || !strings.HasSuffix(body["type"].(string), "#invalid-request") {
			t.Errorf("GET %s: %d %v, want 400 naming %s", q, code, body, field)
		}
	}
}
