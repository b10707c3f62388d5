package ledger_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medid/medid/internal/ledger"
	"github.com/transparency-dev/tessera/api"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	data, _ := appendN(t, l, 300, 16)
	cp, err := l.AwaitCheckpoint(ctx, 299)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 300 {
		t.Fatalf("checkpoint size %d, want 300", cp.Size)
	}
	srv := httptest.NewServer(http.StripPrefix("/ledger", ledger.Handler(l)))
	defer srv.Close()

	get := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/ledger"+path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	resp, body := get("GET", "/checkpoint")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /checkpoint: %d %v", resp.StatusCode, resp.Header)
	}
	if got, err := ledger.VerifyCheckpoint(body, l.VerifierKey()); err != nil || got.Size != 300 {
		t.Fatalf("served checkpoint: %d, %v", got.Size, err)
	}
	if resp, body := get("GET", "/key"); resp.StatusCode != 200 || strings.TrimSpace(string(body)) != l.VerifierKey() {
		t.Fatalf("GET /key: %d %q", resp.StatusCode, body)
	}

	// Full and partial tiles and bundles.
	for _, tc := range []struct {
		path  string
		size  int
		cache string
	}{
		{"/tile/0/000", 256 * 32, "immutable"},
		{"/tile/0/001.p/44", 44 * 32, "max-age=60"},
		{"/tile/1/000.p/1", 32, "max-age=60"},
		{"/tile/entries/000", -1, "immutable"},
		{"/tile/entries/001.p/44", -1, "max-age=60"},
	} {
		resp, body := get("GET", tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || !strings.Contains(resp.Header.Get("Cache-Control"), tc.cache) {
			t.Errorf("GET %s: %d %v", tc.path, resp.StatusCode, resp.Header)
			continue
		}
		if tc.size >= 0 && len(body) != tc.size {
			t.Errorf("GET %s: %d bytes, want %d", tc.path, len(body), tc.size)
		}
		if tc.size < 0 {
			var b api.EntryBundle
			if err := b.UnmarshalText(body); err != nil {
				t.Errorf("GET %s: %v", tc.path, err)
				continue
			}
			first := uint64(0)
			if strings.Contains(tc.path, "001") {
				first = 256
			}
			for i, e := range b.Entries {
				if string(e) != string(data[first+uint64(i)]) {
					t.Errorf("GET %s: entry %d = %q", tc.path, i, e)
				}
			}
		}
	}
	if resp, body := get("HEAD", "/tile/0/000"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 256*32 {
		t.Errorf("HEAD /tile/0/000: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}

	for _, p := range []string{
		"/tile/0/0000", "/tile/0/00", "/tile/0/x000/001", "/tile/00/000", "/tile/64/000",
		"/tile/0/000.p/0", "/tile/0/000.p/256", "/tile/0/000.p/07", "/tile/0/000.p/", "/tile/0/000.p",
		"/tile/entries/x1/000", "/tile/entries/000.p/0", "/tile/abc/000", "/tile/0", "/tile/entries",
		"/tile/-1/000", "/tile/0/x001", "/tile/0/001/", "/tile/0/../000", "/tile/0/000.p/4%2f",
	} {
		if resp, _ := get("GET", p); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/tile/0/999", "/tile/0/001", "/tile/2/000.p/1", "/tile/entries/x001/000", "/tile/entries/001.p/45", "/nope", "/", "/checkpoint/x"} {
		if resp, _ := get("GET", p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := get("POST", "/checkpoint"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /checkpoint: %d", resp.StatusCode)
	}
}
