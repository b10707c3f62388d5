package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/medid/medid/internal/keys"
)

// TestIssuanceRecordPages: GET /issuer/credentials pages with limit and
// cursor (next_cursor until the last page), still answers every record
// without them, and refuses a bad limit or a cursor it did not give with a
// problem naming the parameter.
func TestIssuanceRecordPages(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		issuePatientIdentity(t, srv.URL, srv.Admin, holder)
	}
	type page struct {
		Credentials []struct {
			ID string `json:"id"`
		} `json:"credentials"`
		NextCursor *string `json:"next_cursor"`
		Field      string  `json:"field"`
	}
	get := func(query string) (int, string, page) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/issuer/credentials"+query, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var p page
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("GET %s: %v: %s", query, err, raw)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), p
	}
	ids := func(p page) []string {
		var out []string
		for _, c := range p.Credentials {
			out = append(out, c.ID)
		}
		return out
	}

	code, _, all := get("")
	if code != http.StatusOK || len(all.Credentials) != 5 || all.NextCursor != nil {
		t.Fatalf("unpaged: %d, %d records, next %v", code, len(all.Credentials), all.NextCursor)
	}
	var paged []string
	query := "?limit=2"
	for pages := 1; ; pages++ {
		code, _, p := get(query)
		if code != http.StatusOK || len(p.Credentials) > 2 {
			t.Fatalf("page %d: %d, %d records", pages, code, len(p.Credentials))
		}
		paged = append(paged, ids(p)...)
		if p.NextCursor == nil {
			if pages != 3 {
				t.Errorf("%d pages of 2 for 5 records", pages)
			}
			break
		}
		if pages > 5 {
			t.Fatal("no last page")
		}
		query = "?limit=2&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if !slices.Equal(paged, ids(all)) {
		t.Errorf("pages %v, unpaged %v", paged, ids(all))
	}

	for query, field := range map[string]string{
		"?limit=0": "limit", "?limit=1001": "limit", "?limit=two": "limit",
		"?cursor=bm90IGEgY3Vyc29y": "cursor", "?limit=2&cursor=%25%25": "cursor",
	} {
		code, ctype, p := get(query)
		if code != http.StatusBadRequest || ctype != "application/problem+json" || p.Field != field {
			t.Errorf("GET %s: %d %s, field %q (want 400, %s)", query, code, ctype, p.Field, field)
		}
	}
}
