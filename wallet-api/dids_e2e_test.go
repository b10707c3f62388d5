package walletapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
	walletapi "github.com/medid/medid/wallet-api"
)

func TestLedgerDIDRegisteredClientManaged(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "erin")
	code, k := call(t, "POST", s.URL+"/wallet/keys", tok, map[string]any{"alg": "EdDSA"})
	expect(t, "key", code, k, 201)
	keyID := k["id"].(string)

	code, out := call(t, "POST", s.URL+"/wallet/dids", tok, map[string]any{"method": "web"})
	expect(t, "other method", code, out, 400)
	code, out = call(t, "POST", s.URL+"/wallet/dids", tok, map[string]any{"method": "medid", "key_id": "nope"})
	expect(t, "unknown key", code, out, 400)
	code, d := call(t, "POST", s.URL+"/wallet/dids", tok, map[string]any{"method": "medid", "key_id": keyID})
	expect(t, "register", code, d, 201)
	id, _ := d["did"].(string)
	if !strings.HasPrefix(id, "did:medid:") || d["key_id"] != keyID || d["state"] != "registered" {
		t.Fatalf("registered: %v", d)
	}
	// The ledger's document publishes the holder key, for authentication
	// and assertions.
	res, err := issuerApp.App.Resolver.Resolve(context.Background(), id, did.ResolutionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm, ok := res.Document.VerificationMethodByID("#key-1")
	if !ok || !res.Document.Authorized(did.AssertionMethod, vm.ID) || !res.Document.Authorized(did.Authentication, vm.ID) {
		t.Fatalf("document: %+v", res.Document)
	}
	pub, err := vm.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := keys.ThumbprintOf(pub); tp != keyID {
		t.Fatalf("published key %s, want %s", tp, keyID)
	}
	code, l := call(t, "GET", s.URL+"/wallet/dids", tok, nil)
	expect(t, "list", code, l, 200)
	ds := l["dids"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["did"] != id {
		t.Fatalf("list: %v", l)
	}
	// A backup carries the DID's controller keys.
	code, ex := call(t, "POST", s.URL+"/wallet/export", tok, map[string]any{"passphrase": "a long backup passphrase"})
	expect(t, "export", code, ex, 200)
	code, out = call(t, "POST", s.URL+"/wallet/import", "", map[string]any{"archive": ex["archive"],
		"passphrase": "a long backup passphrase", "username": "erin2", "password": "restored password"})
	expect(t, "import", code, out, 201)
	code, out = call(t, "POST", s.URL+"/wallet/sessions", "", map[string]string{"username": "erin2", "password": "restored password"})
	expect(t, "sign in", code, out, 201)
	code, l2 := call(t, "GET", s.URL+"/wallet/dids", out["token"].(string), nil)
	expect(t, "restored list", code, l2, 200)
	if jsonString(l2) != jsonString(l) {
		t.Fatalf("restored DIDs %v, want %v", l2, l)
	}
}

// TestLedgerDIDRotationAndRecovery: a patient rotates the key of their
// did:medid; after losing the phone, a restored backup takes the DID back
// with the recovery key, and the lost phone's update key no longer works.
func TestLedgerDIDRotationAndRecovery(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "fay")
	code, d := call(t, "POST", s.URL+"/wallet/dids", tok, map[string]any{"method": "medid"})
	expect(t, "register", code, d, 201)
	id := d["did"].(string)
	published := func() string {
		t.Helper()
		res, err := issuerApp.App.Resolver.Resolve(context.Background(), id, did.ResolutionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		vm, ok := res.Document.VerificationMethodByID("#key-1")
		if !ok || !res.Document.Authorized(did.Authentication, vm.ID) {
			t.Fatalf("document: %+v", res.Document)
		}
		pub, err := vm.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		tp, _ := keys.ThumbprintOf(pub)
		return tp
	}
	first := published()
	rotate := func(token string, body map[string]any, want int) map[string]any {
		t.Helper()
		code, out := call(t, "POST", s.URL+"/wallet/dids/"+url.PathEscape(id)+"/rotate", token, body)
		expect(t, "rotate", code, out, want)
		return out
	}
	// A backup taken now holds the DID's controller keys.
	code, ex := call(t, "POST", s.URL+"/wallet/export", tok, map[string]any{"passphrase": "a long backup passphrase"})
	expect(t, "export", code, ex, 200)

	// An update on the phone: a fresh holder key is published.
	out := rotate(tok, map[string]any{}, 200)
	second := published()
	if second == first || out["key_id"] != second {
		t.Fatalf("after the update the DID publishes %s (was %s), answer %v", second, first, out)
	}

	// The phone is lost. The backup, restored elsewhere, recovers the DID.
	code, out = call(t, "POST", s.URL+"/wallet/import", "", map[string]any{"archive": ex["archive"],
		"passphrase": "a long backup passphrase", "username": "fay2", "password": "restored password"})
	expect(t, "import", code, out, 201)
	code, out = call(t, "POST", s.URL+"/wallet/sessions", "", map[string]string{"username": "fay2", "password": "restored password"})
	expect(t, "sign in", code, out, 201)
	tok2 := out["token"].(string)
	// The backup's update key is stale (the phone rotated it): only the
	// recovery key still works.
	rotate(tok2, map[string]any{}, 502)
	out = rotate(tok2, map[string]any{"recover": true}, 200)
	third := published()
	if third == second || out["key_id"] != third {
		t.Fatalf("after recovery the DID publishes %s (was %s)", third, second)
	}
	// The lost phone can no longer change the DID.
	rotate(tok, map[string]any{}, 502)
	rotate(tok, map[string]any{"recover": true}, 502)
	if published() != third {
		t.Fatal("the lost phone changed the DID")
	}
	// A DID that is not the account's is not found.
	code, out = call(t, "POST", s.URL+"/wallet/dids/"+url.PathEscape("did:medid:"+strings.Repeat("a", 52))+"/rotate", tok2, map[string]any{})
	expect(t, "unknown DID", code, out, 404)
}
