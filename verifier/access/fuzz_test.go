package access_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/medid/medid/internal/httpx"
	"github.com/medid/medid/verifier/access"
)

// FuzzParseDecisionRequest: any body gives a valid request or a 400 naming
// a field (or the body), never a panic.
func FuzzParseDecisionRequest(f *testing.F) {
	for _, s := range []string{
		`{"session_id":"abc","request":{"patient":"did:example:p","grantee":"did:web:clinic.example","resource_type":"Observation","interaction":"s","params":{"code":"8867-4","date":["ge2026-01-01","lt2026-02-01"]},"purpose":"TREAT","labels":["HIV"],"time":"2026-03-01T12:00:00Z"}}`,
		`{"presentation":{"format":"dc+sd-jwt","vp_token":"eyJ.eyJ.sig~~eyJ.eyJ.sig","nonce":"n"},"request":{"patient":"did:example:p","grantee":"did:key:z6Mk","delegated_by":"did:web:c.example","resource_type":"*","interaction":"read","purpose":"ETREAT"}}`,
		`{"presentation":{"vp_token":{"@context":[],"proof":{}},"nonce":"n"},"request":{}}`,
		`{"session_id":"a","session_id":"b","request":null}`,
		`{"session_id":"s","request":{"patient":"did:example:p","grantee":"did:example:g","resource_type":"Observation","interaction":"s","purpose":"TREAT","params":{"":"x"}}}`,
		`{"session_id":"s","request":{"patient":"did:example:p","grantee":"did:example:g","resource_type":"Observation","interaction":"s","purpose":"TREAT","params":{"a":[]}}}`,
		`[]`, `null`, `{"request":{"labels":[1]}}`, "{\"session_id\":\"\u0000\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := access.ParseDecisionRequest(body)
		if err != nil {
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
				t.Fatalf("ParseDecisionRequest(%q) = %v, want a 400", body, err)
			}
			return
		}
		if (req.Presentation == nil) == (req.SessionID == "") {
			t.Fatalf("accepted %q with presentation %v and session %q", body, req.Presentation, req.SessionID)
		}
		r := req.Request
		if r.Patient.IsZero() || r.Grantee.IsZero() || !r.Interaction.Valid() || !r.Purpose.Known() || r.ResourceType == "" {
			t.Fatalf("accepted an incomplete request %q: %+v", body, r)
		}
		if req.Presentation != nil && (req.Presentation.Nonce == "" || len(req.Presentation.VPToken) == 0) {
			t.Fatalf("accepted a presentation without nonce or token: %q", body)
		}
	})
}
