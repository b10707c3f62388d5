package walletapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	walletapi "github.com/medid/medid/wallet-api"
)

// TestNoCrossAccountAccess walks every wallet route with a second
// account's session and proves that it neither reads, lists, changes nor
// deletes anything of the first account. The route list comes from the
// server, so a new route without a case here fails the test.
func TestNoCrossAccountAccess(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	alice := signUp(t, s, "alice")
	mallory := signUp(t, s, "mallory")

	// Alice receives a credential and makes a second key.
	link, _, _ := offer(t, s, sdjwtCfg, false)
	code, acc := call(t, "POST", s.URL+"/wallet/offers", alice, map[string]any{"offer": link, "accept": true})
	expect(t, "alice accepts", code, acc, 201)
	aliceCred := acc["credentials"].([]any)[0].(map[string]any)["id"].(string)
	code, out := call(t, "POST", s.URL+"/wallet/keys", alice, map[string]any{"alg": "EdDSA"})
	expect(t, "alice key", code, out, 201)
	aliceKeys := keyIDs(t, s, alice)
	if len(aliceKeys) != 2 {
		t.Fatalf("alice keys: %v", aliceKeys)
	}
	aliceHistory := historyLen(t, s, alice)

	covered := map[string]bool{}
	check := func(route string, f func()) {
		t.Helper()
		covered[route] = true
		f()
	}

	check("POST /wallet/accounts", func() {
		// Mallory cannot take Alice's username.
		code, out := call(t, "POST", s.URL+"/wallet/accounts", "", map[string]string{"username": "ALICE", "password": "another password!"})
		expect(t, "take alice's username", code, out, 409)
	})
	check("POST /wallet/sessions", func() {
		code, out := call(t, "POST", s.URL+"/wallet/sessions", "", map[string]string{"username": "alice", "password": "correct horse battery!"})
		expect(t, "sign in as alice with another password", code, out, 401)
	})
	check("GET /wallet/keys", func() {
		for k := range keyIDs(t, s, mallory) {
			if aliceKeys[k] {
				t.Fatalf("mallory lists alice's key %s", k)
			}
		}
	})
	check("POST /wallet/keys", func() {
		code, out := call(t, "POST", s.URL+"/wallet/keys", mallory, map[string]any{})
		expect(t, "mallory key", code, out, 201)
		if aliceKeys[out["id"].(string)] || len(keyIDs(t, s, alice)) != 2 {
			t.Fatal("mallory's new key landed in alice's wallet")
		}
	})
	code, out = call(t, "POST", s.URL+"/wallet/dids", alice, map[string]any{"method": "medid"})
	expect(t, "alice's did:medid", code, out, 201)
	aliceDID := out["did"].(string)
	check("POST /wallet/dids", func() {
		// Mallory cannot publish Alice's key in a DID of Mallory's.
		for k := range aliceKeys {
			code, out := call(t, "POST", s.URL+"/wallet/dids", mallory, map[string]any{"method": "medid", "key_id": k})
			expect(t, "did with alice's key", code, out, 400)
		}
	})
	check("GET /wallet/dids", func() {
		code, out := call(t, "GET", s.URL+"/wallet/dids", mallory, nil)
		expect(t, "mallory's DIDs", code, out, 200)
		if strings.Contains(jsonString(out), aliceDID) || len(out["dids"].([]any)) != 0 {
			t.Fatalf("mallory lists %v", out)
		}
	})
	check("POST /wallet/dids/:did/rotate", func() {
		// Mallory can neither update nor recover Alice's DID, and Alice's
		// DID still lists her key afterwards.
		for _, rec := range []bool{false, true} {
			code, out := call(t, "POST", s.URL+"/wallet/dids/"+url.PathEscape(aliceDID)+"/rotate", mallory, map[string]any{"recover": rec})
			expect(t, "rotate alice's DID", code, out, 404)
		}
		code, out := call(t, "GET", s.URL+"/wallet/dids", alice, nil)
		expect(t, "alice's DIDs", code, out, 200)
		if !strings.Contains(jsonString(out), aliceDID) {
			t.Fatalf("alice lost her DID: %v", out)
		}
	})
	check("POST /wallet/offers", func() {
		// Mallory cannot bind a credential to Alice's key.
		link, _, _ := offer(t, s, sdjwtCfg, false)
		for k := range aliceKeys {
			code, out := call(t, "POST", s.URL+"/wallet/offers", mallory, map[string]any{"offer": link, "accept": true, "key_id": k})
			expect(t, "accept with alice's key", code, out, 400)
		}
		// What Mallory accepts is Mallory's.
		code, out := call(t, "POST", s.URL+"/wallet/offers", mallory, map[string]any{"offer": link, "accept": true})
		expect(t, "mallory accepts", code, out, 201)
		if n := len(credIDs(t, s, alice)); n != 1 {
			t.Fatalf("alice has %d credentials after mallory's offer", n)
		}
	})
	check("GET /wallet/credentials", func() {
		ids := credIDs(t, s, mallory)
		if ids[aliceCred] || len(ids) != 1 {
			t.Fatalf("mallory's list: %v", ids)
		}
	})
	check("GET /wallet/credentials/:id", func() {
		code, out := call(t, "GET", s.URL+"/wallet/credentials/"+aliceCred, mallory, nil)
		expect(t, "mallory reads alice's credential", code, out, 404)
		if strings.Contains(jsonString(out), "Lovelace") {
			t.Fatal("claims leaked")
		}
	})
	check("DELETE /wallet/credentials/:id", func() {
		code, out := call(t, "DELETE", s.URL+"/wallet/credentials/"+aliceCred, mallory, nil)
		expect(t, "mallory deletes alice's credential", code, out, 404)
		if !credIDs(t, s, alice)[aliceCred] {
			t.Fatal("alice's credential is gone")
		}
	})
	check("GET /wallet/history", func() {
		code, out := call(t, "GET", s.URL+"/wallet/history", mallory, nil)
		expect(t, "mallory history", code, out, 200)
		if strings.Contains(jsonString(out), aliceCred) {
			t.Fatal("mallory's history shows alice's credential")
		}
		if historyLen(t, s, alice) != aliceHistory {
			t.Fatal("alice's history changed")
		}
	})
	var malloryArchive string
	check("POST /wallet/export", func() {
		code, out := call(t, "POST", s.URL+"/wallet/export", mallory, map[string]any{"passphrase": "mallory's own passphrase"})
		expect(t, "mallory export", code, out, 200)
		malloryArchive = out["archive"].(string)
		if out["credentials"] != json.Number("1") {
			t.Fatalf("mallory's export: %v", out["credentials"])
		}
	})
	check("POST /wallet/import", func() {
		// An import cannot land in Alice's account.
		code, out := call(t, "POST", s.URL+"/wallet/import", "", map[string]any{"archive": malloryArchive,
			"passphrase": "mallory's own passphrase", "username": "alice", "password": "correct horse battery"})
		expect(t, "import into alice", code, out, 409)
		if n := len(credIDs(t, s, alice)); n != 1 {
			t.Fatalf("alice has %d credentials", n)
		}
	})
	check("POST /wallet/presentations/preview", func() {
		// Mallory's preview matches Mallory's credential, never Alice's.
		_, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Isolation"})
		code, out := call(t, "POST", s.URL+"/wallet/presentations/preview", mallory, map[string]any{"request": link})
		expect(t, "mallory previews", code, out, 200)
		if strings.Contains(jsonString(out), aliceCred) || out["satisfiable"] != true {
			t.Fatalf("mallory's preview: %v", out)
		}
	})
	check("POST /wallet/presentations", func() {
		// Mallory cannot present Alice's credential; the session stays
		// pending.
		sid, link := verifierSession(t, s, map[string]any{"template": "patient-identity", "purpose": "Isolation"})
		code, out := call(t, "POST", s.URL+"/wallet/presentations", mallory, map[string]any{"request": link,
			"choices": map[string]any{"patient_identity": map[string]any{"credential_id": aliceCred}}})
		expect(t, "mallory presents alice's credential", code, out, 400)
		if st := sessionStatus(t, s, sid); st["status"] != "pending" {
			t.Fatalf("session: %v", st)
		}
		// Alice presents hers, for the next check.
		code, out = call(t, "POST", s.URL+"/wallet/presentations", alice, map[string]any{"request": link})
		expect(t, "alice presents", code, out, 200)
	})
	check("GET /wallet/presentations", func() {
		code, out := call(t, "GET", s.URL+"/wallet/presentations", mallory, nil)
		expect(t, "mallory's presentations", code, out, 200)
		if len(out["presentations"].([]any)) != 0 {
			t.Fatalf("mallory lists %v", out)
		}
		code, out = call(t, "GET", s.URL+"/wallet/presentations", alice, nil)
		expect(t, "alice's presentations", code, out, 200)
		if len(out["presentations"].([]any)) != 1 {
			t.Fatalf("alice lists %v", out)
		}
	})
	check("DELETE /wallet/sessions", func() {
		code, out := call(t, "DELETE", s.URL+"/wallet/sessions", mallory, nil)
		expect(t, "mallory signs out", code, out, 204)
		code, out = call(t, "GET", s.URL+"/wallet/keys", mallory, nil)
		expect(t, "mallory signed out", code, out, 401)
		code, out = call(t, "GET", s.URL+"/wallet/keys", alice, nil)
		expect(t, "alice still signed in", code, out, 200)
	})

	// Every route the server has under /wallet was walked, and every route
	// that needs a session refuses a request without one.
	var missing []string
	for _, r := range s.Echo.Routes() {
		if !strings.HasPrefix(r.Path, "/wallet/") {
			continue
		}
		key := r.Method + " " + r.Path
		if !covered[key] {
			missing = append(missing, key)
		}
		switch key {
		case "POST /wallet/accounts", "POST /wallet/sessions", "POST /wallet/import":
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", aliceCred)
		code, _ := callRaw(t, r.Method, s.URL+path, "", nil)
		if code != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d, want 401", key, code)
		}
		code, _ = callRaw(t, r.Method, s.URL+path, "not-a-session-token", nil)
		if code != http.StatusUnauthorized {
			t.Errorf("%s with a made-up token: %d, want 401", key, code)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes not walked by this test: %v", missing)
	}
	if len(covered) < 12 {
		t.Fatalf("only %d routes walked", len(covered))
	}
}

func keyIDs(t *testing.T, s *server, tok string) map[string]bool {
	t.Helper()
	code, out := call(t, "GET", s.URL+"/wallet/keys", tok, nil)
	expect(t, "keys", code, out, 200)
	ids := map[string]bool{}
	for _, k := range out["keys"].([]any) {
		ids[k.(map[string]any)["id"].(string)] = true
	}
	return ids
}

func credIDs(t *testing.T, s *server, tok string) map[string]bool {
	t.Helper()
	code, out := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "credentials", code, out, 200)
	ids := map[string]bool{}
	for _, c := range out["credentials"].([]any) {
		ids[c.(map[string]any)["id"].(string)] = true
	}
	return ids
}

func historyLen(t *testing.T, s *server, tok string) int {
	t.Helper()
	code, out := call(t, "GET", s.URL+"/wallet/history", tok, nil)
	expect(t, "history", code, out, 200)
	return len(out["history"].([]any))
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
