package audit_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/verifier/audit"
)

// FuzzParseFilter: any query string gives a filter or a 400 naming a
// parameter, never a panic.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", "outcome=deny&limit=10",
		"cursor=MjAyNi0wMy0wMS85MjIzMzcyMDM2ODU0Nzc1ODA3LTAwMDAwMDAw", "limit=-1", "from=2026-03-01T00:00:00.123456789+02:00",
		"patient=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x=%zz", "outcome=permit&outcome=permit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := audit.ParseFilter(q)
		if err != nil {
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != 400 || he.Field == "" {
				t.Fatalf("ParseFilter(%q) = %v, want a 400 naming a field", raw, err)
			}
			return
		}
		if fl.Limit < 0 || fl.Limit > audit.MaxLimit || (fl.Outcome != "" && !fl.Outcome.Valid()) {
			t.Fatalf("ParseFilter(%q) accepted %+v", raw, fl)
		}
	})
}
