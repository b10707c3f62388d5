package walletapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	walletapi "github.com/medid/medid/wallet-api"
)

func TestBackupRoundTrip(t *testing.T) {
	s := startServer(t, walletapi.Options{})
	tok := signUp(t, s, "dora")
	link, _, _ := offer(t, s, sdjwtCfg, false)
	code, out := call(t, "POST", s.URL+"/wallet/offers", tok, map[string]any{"offer": link, "accept": true})
	expect(t, "accept", code, out, 201)
	code, out = call(t, "POST", s.URL+"/wallet/keys", tok, map[string]any{"alg": "EdDSA"})
	expect(t, "key", code, out, 201)
	code, keysBefore := call(t, "GET", s.URL+"/wallet/keys", tok, nil)
	expect(t, "keys", code, keysBefore, 200)
	code, credsBefore := call(t, "GET", s.URL+"/wallet/credentials", tok, nil)
	expect(t, "credentials", code, credsBefore, 200)
	id := credsBefore["credentials"].([]any)[0].(map[string]any)["id"].(string)
	code, detailBefore := call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "detail", code, detailBefore, 200)

	code, out = call(t, "POST", s.URL+"/wallet/export", tok, map[string]any{"passphrase": "short"})
	expect(t, "short passphrase", code, out, 400)
	code, ex := call(t, "POST", s.URL+"/wallet/export", tok, map[string]any{"passphrase": "a long backup passphrase"})
	expect(t, "export", code, ex, 200)
	archive := ex["archive"].(string)
	if !strings.HasPrefix(archive, walletapi.ArchivePrefix) || strings.Contains(archive, "Lovelace") || ex["keys"] != json.Number("2") {
		t.Fatalf("archive: %v", ex)
	}

	imp := func(passphrase, archive, username string) (int, map[string]any) {
		return call(t, "POST", s.URL+"/wallet/import", "", map[string]any{"archive": archive,
			"passphrase": passphrase, "username": username, "password": "restored password"})
	}
	// A wrong passphrase fails cleanly and writes nothing: the username is
	// still free afterwards.
	code, out = imp("the wrong passphrase!", archive, "dora2")
	expect(t, "wrong passphrase", code, out, 422)
	if out["field"] != "passphrase" || !strings.HasSuffix(out["type"].(string), "#wrong-passphrase") {
		t.Fatalf("problem: %v", out)
	}
	code, out = call(t, "POST", s.URL+"/wallet/sessions", "", map[string]string{"username": "dora2", "password": "restored password"})
	expect(t, "no account after a failed import", code, out, 401)
	// A tampered archive does not open either.
	tampered := []byte(archive)
	tampered[len(tampered)-5] ^= 1
	if tampered[len(tampered)-5] == '.' || tampered[len(tampered)-5] > 'z' {
		tampered[len(tampered)-5] = 'A'
	}
	code, out = imp("a long backup passphrase", string(tampered), "dora2")
	if code != 422 && code != 400 {
		t.Fatalf("tampered archive: %d %v", code, out)
	}
	code, out = imp("a long backup passphrase", "medid-wallet-backup/9.xx.yy", "dora2")
	expect(t, "unknown version", code, out, 400)

	// The right passphrase restores keys, credentials and history into a
	// new account.
	code, out = imp("a long backup passphrase", archive, "dora2")
	expect(t, "import", code, out, 201)
	if out["credentials"] != json.Number("1") || out["keys"] != json.Number("2") {
		t.Fatalf("import: %v", out)
	}
	code, out = call(t, "POST", s.URL+"/wallet/sessions", "", map[string]string{"username": "dora2", "password": "restored password"})
	expect(t, "sign in to the restored account", code, out, 201)
	tok2 := out["token"].(string)
	code, keysAfter := call(t, "GET", s.URL+"/wallet/keys", tok2, nil)
	expect(t, "keys after", code, keysAfter, 200)
	if !reflect.DeepEqual(keysBefore, keysAfter) {
		t.Fatalf("keys differ:\n%v\n%v", keysBefore, keysAfter)
	}
	code, detailAfter := call(t, "GET", s.URL+"/wallet/credentials/"+id, tok2, nil)
	expect(t, "detail after", code, detailAfter, 200)
	for _, k := range []string{"claims", "holder_dids", "status", "issuer", "copies", "display"} {
		if !reflect.DeepEqual(detailBefore[k], detailAfter[k]) {
			t.Fatalf("%s differs: %v vs %v", k, detailBefore[k], detailAfter[k])
		}
	}
	code, h := call(t, "GET", s.URL+"/wallet/history", tok2, nil)
	expect(t, "history after", code, h, 200)
	events := []string{}
	for _, e := range h["history"].([]any) {
		events = append(events, e.(map[string]any)["event"].(string))
	}
	if strings.Join(events, ",") != "wallet_imported,credential_received" {
		t.Fatalf("restored history: %v", events)
	}
	// The restored credential can be deleted there without touching the
	// original account.
	code, out = call(t, "DELETE", s.URL+"/wallet/credentials/"+id, tok2, nil)
	expect(t, "delete restored", code, out, 204)
	code, out = call(t, "GET", s.URL+"/wallet/credentials/"+id, tok, nil)
	expect(t, "original still there", code, out, 200)
}
