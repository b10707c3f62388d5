package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
	"github.com/medid/medid/verifier/audit"
)

// refusingStore is a kv.Store whose writes under audit/ fail, as a full
// disk or a lost Redis would make them.
type refusingStore struct{ kv.Store }

var errRefused = errors.New("the access log's store refuses writes")

func (s refusingStore) refuses(keys ...string) bool {
	for _, k := range keys {
		if strings.HasPrefix(k, "audit/") {
			return true
		}
	}
	return false
}

func (s refusingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if s.refuses(key) {
		return errRefused
	}
	return s.Store.Put(ctx, key, value, ttl)
}

func (s refusingStore) PutAll(ctx context.Context, items []kv.Item) error {
	for _, it := range items {
		if s.refuses(it.Key) {
			return errRefused
		}
	}
	return s.Store.PutAll(ctx, items)
}

func (s refusingStore) PutAllIf(ctx context.Context, key string, old []byte, items []kv.Item) error {
	if s.refuses(key) {
		return errRefused
	}
	return s.Store.PutAllIf(ctx, key, old, items)
}

// TestUnloggedVerificationsAreNotAccepted: when the access log cannot
// store a verification's entry, the verification is not answered (VC-API:
// 503 problem+json) and not accepted (OpenID4VP: the session fails and
// shows no claim); once the log can store again, the same presentations
// verify.
func TestUnloggedVerificationsAreNotAccepted(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)
	cred := issuePatientIdentity(t, srv.URL, srv.Admin, holder)

	working := srv.App.Audit
	broken, err := audit.New(refusingStore{srv.App.Store}, srv.App.Ledger, audit.Options{Secret: bytes.Repeat([]byte{5}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broken.Close(context.Background()) })

	vcapi := func() (int, map[string]any, http.Header) {
		vp, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}),
			&sdjwt.KeyBindingOptions{Key: holder, Nonce: "n-1", Audience: "https://clinic.example", IssuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]any{"verifiablePresentation": vp, "options": map[string]any{"challenge": "n-1", "domain": "https://clinic.example"}})
		r, _ := http.NewRequest(http.MethodPost, srv.URL+"/presentations/verify", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+srv.Admin)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body, resp.Header
	}
	// session runs one OpenID4VP presentation and returns the session's
	// status document.
	session := func() map[string]any {
		sess, responseURI, form := sessionForm(t, srv, cred, holder, "Sign in")
		resp, err := http.PostForm(responseURI, form)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return sessionStatus(t, srv, sess)
	}

	srv.App.Audit = broken
	code, body, h := vcapi()
	if code != http.StatusServiceUnavailable || h.Get("Content-Type") != "application/problem+json" || h.Get("Retry-After") == "" ||
		body["verified"] != nil || body["presentation"] != nil {
		t.Fatalf("VC-API with the log refusing: %d %v", code, body)
	}
	st := session()
	raw, _ := json.Marshal(st)
	if st["status"] != "failed" || strings.Contains(string(raw), "Ada") {
		t.Fatalf("OpenID4VP with the log refusing: %s", raw)
	}

	srv.App.Audit = working
	if code, body, _ := vcapi(); code != http.StatusOK || body["verified"] != true {
		t.Fatalf("VC-API with the log working: %d %v", code, body)
	}
	st = session()
	raw, _ = json.Marshal(st)
	if st["status"] != "verified" || !strings.Contains(string(raw), `"given_name":"Ada"`) {
		t.Fatalf("OpenID4VP with the log working: %s", raw)
	}
}
