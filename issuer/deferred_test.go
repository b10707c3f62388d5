package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

const pic = "PatientIdentityCredential_dc+sd-jwt"

// deferredFetch asks the deferred credential endpoint with a Bearer token.
func (e *env) deferredFetch(token, txID string) (int, map[string]any) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"transaction_id": txID})
	s, out, _ := e.do("POST", "/deferred_credential", "application/json", string(body), token)
	return s, out
}

func (e *env) approve(offerID, token string) (int, map[string]any) {
	e.t.Helper()
	s, out, _ := e.do("POST", "/issuer/offers/"+offerID+"/approve", "", "", token)
	return s, out
}

// deferredRequest redeems a deferred offer and makes the credential request
// with every wallet key; it returns the Bearer token and the transaction.
func (e *env) deferredRequest(w *wallet) (offerID, token, txID string) {
	e.t.Helper()
	offerID, code := e.newCode(true)
	s, tok := w.token(code, "")
	if s != 200 {
		e.t.Fatalf("token: %d %v", s, tok)
	}
	token = tok["access_token"].(string)
	n, now := w.nonce(), e.clock.Now()
	var proofs []string
	for _, k := range w.keys {
		proofs = append(proofs, proofJWT(e.t, k, e.url, n, now, nil))
	}
	s, out, h := w.credential(token, pic, proofs...)
	if s != http.StatusAccepted || h.Get("Cache-Control") != "no-store" {
		e.t.Fatalf("deferred credential request: %d %v", s, out)
	}
	if out["credentials"] != nil || out["notification_id"] != nil || out["interval"] != float64(5) {
		e.t.Fatalf("deferred credential response: %v", out)
	}
	txID, _ = out["transaction_id"].(string)
	if txID == "" {
		e.t.Fatalf("no transaction_id: %v", out)
	}
	return offerID, token, txID
}

func TestDeferredIssuance(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 2)
	offerID, at, tx := e.deferredRequest(w)
	// The recorded request keeps the claims sealed.
	e.store.List(context.Background(), "", func(k string, v []byte) error {
		if bytes.Contains(v, []byte("Lovelace-Secret")) {
			t.Errorf("claims in clear under %s", k)
		}
		return nil
	})
	// Pending: the same transaction and the interval, again and again.
	for range 2 {
		if s, out := e.deferredFetch(at, tx); s != http.StatusAccepted || out["transaction_id"] != tx || out["interval"] != float64(5) || out["credentials"] != nil {
			t.Fatalf("pending: %d %v", s, out)
		}
	}
	if s, _ := e.approve(offerID, ""); s != 401 {
		t.Fatalf("approve without the admin token: %d", s)
	}
	if s, out := e.approve("no-such-offer", admin); s != 404 {
		t.Fatalf("approve an unknown offer: %d %v", s, out)
	}
	if s, out := e.approve(offerID, admin); s != 200 || out["approved"] != true {
		t.Fatalf("approve: %d %v", s, out)
	}
	if s, _ := e.approve(offerID, admin); s != 200 {
		t.Fatalf("approving twice: %d", s)
	}
	// Past the token's own lifetime: no more credential requests, but the
	// deferred credential (and notification) endpoints still take it.
	e.clock.Add(30 * time.Minute)
	if s, out, _ := w.credential(at, pic, proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil)); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("credential request with an expired token: %d %v", s, out)
	}
	s, out := e.deferredFetch(at, tx)
	if s != 200 || out["transaction_id"] != nil || out["interval"] != nil {
		t.Fatalf("approved: %d %v", s, out)
	}
	creds := out["credentials"].([]any)
	holders := map[string]bool{}
	for _, c := range creds {
		var got map[string]any
		json.Unmarshal([]byte(c.(map[string]any)["credential"].(string)), &got)
		holders[got["holder"].(string)] = true
		if got["claims"].(map[string]any)["family_name"] != "Lovelace-Secret" || got["cfg"] != pic {
			t.Fatalf("deferred credential content: %v", got)
		}
	}
	if len(creds) != 2 || !holders[w.keys[0].Thumbprint()] || !holders[w.keys[1].Thumbprint()] {
		t.Fatalf("deferred credentials not bound to the proven keys: %v", out)
	}
	body, _ := json.Marshal(map[string]any{"notification_id": out["notification_id"], "event": "credential_accepted"})
	if s, out, _ := e.do("POST", "/notification", "application/json", string(body), at); s != http.StatusNoContent {
		t.Fatalf("notification after deferred issuance: %d %v", s, out)
	}
	// Exactly once.
	if s, out := e.deferredFetch(at, tx); s != 400 || out["error"] != CodeInvalidTransactionID {
		t.Fatalf("second fetch: %d %v", s, out)
	}
}

func TestDeferredRefusals(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	offerID, at, tx := e.deferredRequest(w)
	_, other, _ := e.deferredRequest(newWallet(e, 1))
	if s, out := e.deferredFetch(at, ""); s != 400 || out["error"] != CodeInvalidCredentialRequest {
		t.Fatalf("no transaction_id: %d %v", s, out)
	}
	if s, out := e.deferredFetch(at, "made-up"); s != 400 || out["error"] != CodeInvalidTransactionID {
		t.Fatalf("unknown transaction_id: %d %v", s, out)
	}
	if s, out := e.deferredFetch("", tx); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("no token: %d %v", s, out)
	}
	if s, out := e.deferredFetch("nope", tx); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("unknown token: %d %v", s, out)
	}
	// Another wallet's token cannot collect this transaction, even approved.
	e.approve(offerID, admin)
	if s, out := e.deferredFetch(other, tx); s != 400 || out["error"] != CodeInvalidTransactionID {
		t.Fatalf("foreign token: %d %v", s, out)
	}
	s, out, _ := e.do("POST", "/deferred_credential", "application/json", `{"transaction_id":"`+tx+`","credential_response_encryption":{}}`, at)
	if s != 400 || out["error"] != CodeInvalidCredentialRequest {
		t.Fatalf("unsupported member: %d %v", s, out)
	}
	if s, out := e.deferredFetch(at, tx); s != 200 {
		t.Fatalf("the refusals spent the transaction: %d %v", s, out)
	}
	// An offer that is not deferred cannot be approved.
	plain, _ := e.newCode(false)
	if s, out := e.approve(plain, admin); s != 404 {
		t.Fatalf("approve an immediate offer: %d %v", s, out)
	}
}

// An offer approved before the wallet asks is issued at once.
func TestDeferredOfferApprovedEarly(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	offerID, code := e.newCode(true)
	if s, out := e.approve(offerID, admin); s != 200 {
		t.Fatalf("approve: %d %v", s, out)
	}
	_, tok := w.token(code, "")
	s, out, _ := w.credential(tok["access_token"].(string), pic, proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil))
	if s != 200 || len(out["credentials"].([]any)) != 1 || out["transaction_id"] != nil {
		t.Fatalf("credential: %d %v", s, out)
	}
}

// A transaction lives DeferredTTL from its request; each request extends
// the token only for its own transaction.
func TestDeferredExpiry(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DeferredTTL = time.Hour })
	w := newWallet(e, 1)
	_, code := e.newCode(true)
	_, tok := w.token(code, "")
	at := tok["access_token"].(string)
	request := func() string {
		s, out, _ := w.credential(at, pic, proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil))
		if s != http.StatusAccepted {
			t.Fatalf("credential: %d %v", s, out)
		}
		return out["transaction_id"].(string)
	}
	tx1 := request()
	e.clock.Add(5 * time.Minute)
	tx2 := request()
	e.clock.Add(56 * time.Minute) // tx1 is 61 minutes old, tx2 56
	if s, out := e.deferredFetch(at, tx1); s != 400 || out["error"] != CodeInvalidTransactionID {
		t.Fatalf("expired transaction: %d %v", s, out)
	}
	if s, out := e.deferredFetch(at, tx2); s != http.StatusAccepted {
		t.Fatalf("live transaction: %d %v", s, out)
	}
	e.clock.Add(5 * time.Minute)
	if s, out := e.deferredFetch(at, tx2); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("after the deferred period: %d %v", s, out)
	}
}

func TestDeferredConcurrentFetchIssuesOnce(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	offerID, at, tx := e.deferredRequest(w)
	e.approve(offerID, admin)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _ := e.deferredFetch(at, tx)
			mu.Lock()
			got[s]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got[200] != 1 || got[400] != 9 {
		t.Fatalf("statuses of concurrent fetches: %v", got)
	}
}

func TestDeferredWithDPoP(t *testing.T) {
	e := newEnv(t)
	w := newWallet(e, 1)
	dk, _ := keys.Generate(keys.ES256)
	offerID, code := e.newCode(true)
	now := e.clock.Now()
	_, tok, _ := e.dpopToken(code, dpop(t, dk, dpopOpts{htu: e.url + "/token", iat: now}))
	at := tok["access_token"].(string)
	s, out, _ := e.dpopCredential(at, []string{dpop(t, dk, dpopOpts{htu: e.url + "/credential", token: at, iat: now})},
		proofJWT(t, w.keys[0], e.url, w.nonce(), now, nil))
	if s != http.StatusAccepted {
		t.Fatalf("credential: %d %v", s, out)
	}
	tx := out["transaction_id"].(string)
	fetch := func(proof string) (int, map[string]any) {
		body, _ := json.Marshal(map[string]any{"transaction_id": tx})
		s, out, _ := e.send("POST", "/deferred_credential", "application/json", string(body),
			http.Header{"Authorization": {"DPoP " + at}, "Dpop": {proof}})
		return s, out
	}
	if s, out := e.deferredFetch(at, tx); s != 401 || out["error"] != CodeInvalidToken {
		t.Fatalf("DPoP token as Bearer: %d %v", s, out)
	}
	if s, out := fetch(dpop(t, dk, dpopOpts{htu: e.url + "/credential", token: at, iat: now})); s != 401 || out["error"] != CodeInvalidDPoPProof {
		t.Fatalf("proof for another endpoint: %d %v", s, out)
	}
	if s, out := fetch(dpop(t, dk, dpopOpts{htu: e.url + "/deferred_credential", token: at, iat: now})); s != http.StatusAccepted {
		t.Fatalf("pending: %d %v", s, out)
	}
	e.approve(offerID, admin)
	// Hours later, past the token's own lifetime, with a fresh proof.
	e.clock.Add(3 * time.Hour)
	if s, out := fetch(dpop(t, dk, dpopOpts{htu: e.url + "/deferred_credential", token: at, iat: e.clock.Now()})); s != 200 || len(out["credentials"].([]any)) != 1 {
		t.Fatalf("approved: %d %v", s, out)
	}
}

func TestDeferredPendingAsDraftError(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.DeferredPendingError = true; o.DeferredInterval = 30 * time.Second })
	w := newWallet(e, 1)
	offerID, code := e.newCode(true)
	_, tok := w.token(code, "")
	at := tok["access_token"].(string)
	_, out, _ := w.credential(at, pic, proofJWT(t, w.keys[0], e.url, w.nonce(), e.clock.Now(), nil))
	tx := out["transaction_id"].(string)
	if s, out := e.deferredFetch(at, tx); s != 400 || out["error"] != CodeIssuancePending || out["interval"] != float64(30) {
		t.Fatalf("pending: %d %v", s, out)
	}
	e.approve(offerID, admin)
	if s, out := e.deferredFetch(at, tx); s != 200 {
		t.Fatalf("approved: %d %v", s, out)
	}
}

func TestDeferredMetadata(t *testing.T) {
	e := newEnv(t)
	s, md, _ := e.do("GET", "/.well-known/openid-credential-issuer", "", "", "")
	if s != 200 || md["deferred_credential_endpoint"] != e.url+"/deferred_credential" {
		t.Fatalf("metadata: %v", md)
	}
	s, out, _ := e.do("POST", "/issuer/offers", "application/json",
		`{"credential_configuration_ids":["`+pic+`"],"claims":{"given_name":"Ada"},"deferred":true}`, admin)
	if s != 201 || out["deferred"] != true {
		t.Fatalf("deferred offer: %d %v", s, out)
	}
}
