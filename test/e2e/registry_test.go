package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/did/registry"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/ledger"
	"github.com/medid/medid/internal/ledger/audit"
)

func genKey(t *testing.T, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func docFor(t *testing.T, k *keys.PrivateKey) json.RawMessage {
	t.Helper()
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"verificationMethod": []any{map[string]any{"id": "#key-1", "type": "JsonWebKey", "publicKeyJwk": json.RawMessage(j)}},
		"assertionMethod":    []any{"#key-1"},
		"authentication":     []any{"#key-1"},
		"service":            []any{map[string]any{"id": "#clinic", "type": "LinkedDomains", "serviceEndpoint": "https://clinic.example/"}},
	})
	return b
}

func resolve(t *testing.T, base, d, query, accept string) (*http.Response, []byte) {
	t.Helper()
	u := base + "/1.0/identifiers/" + url.PathEscape(d)
	if query != "" {
		u += "?" + query
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type resolution struct {
	Document did.Document           `json:"didDocument"`
	Meta     did.DocumentMetadata   `json:"didDocumentMetadata"`
	ResMeta  did.ResolutionMetadata `json:"didResolutionMetadata"`
}

func resolveResult(t *testing.T, base, d, query string, wantStatus int) resolution {
	t.Helper()
	resp, b := resolve(t, base, d, query, "application/did-resolution")
	if resp.StatusCode != wantStatus {
		t.Fatalf("resolve %s?%s: status %d, want %d: %s", d, query, resp.StatusCode, wantStatus, b)
	}
	var r resolution
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("resolution result: %v: %s", err, b)
	}
	// The envelope is application/did-resolution; contentType names the
	// representation of the document inside it (W3C DID Resolution).
	if ct := resp.Header.Get("Content-Type"); ct != "application/did-resolution" {
		t.Fatalf("Content-Type %q", ct)
	}
	if r.ResMeta.ContentType != "application/did+ld+json" && resp.StatusCode == 200 {
		t.Fatalf("didResolutionMetadata.contentType %q", r.ResMeta.ContentType)
	}
	return r
}

func jwkKey(t *testing.T, doc did.Document) string {
	t.Helper()
	if len(doc.VerificationMethod) == 0 {
		t.Fatal("no verification method")
	}
	return string(doc.VerificationMethod[0].PublicKeyJwk)
}

func getText(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// checkProof verifies a did:medid ledger proof with nothing but the log's
// public key, as an outside client would.
func checkProof(t *testing.T, p *did.LedgerProof, verifierKey, wantDID string) {
	t.Helper()
	if p == nil || p.Checkpoint == "" {
		t.Fatalf("no complete ledger proof: %+v", p)
	}
	cp, err := ledger.VerifyCheckpoint([]byte(p.Checkpoint), verifierKey)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	entry, err := base64.StdEncoding.DecodeString(p.Entry)
	if err != nil {
		t.Fatal(err)
	}
	var proof [][]byte
	for _, h := range p.InclusionProof {
		b, _ := base64.StdEncoding.DecodeString(h)
		proof = append(proof, b)
	}
	if err := ledger.VerifyInclusion(entry, p.LogIndex, proof, cp); err != nil {
		t.Fatalf("inclusion: %v", err)
	}
	op, _, ok, err := registry.DecodeEntry(entry)
	if err != nil || !ok {
		t.Fatalf("entry: %v", err)
	}
	subject, err := registry.SubjectOf(op)
	if err != nil || subject.String() != wantDID {
		t.Fatalf("proof entry is about %v, want %s", subject, wantDID)
	}
}

// waitProof resolves until a checkpoint covers the latest version (≤ 2 s).
func waitProof(t *testing.T, base, d, query string) resolution {
	t.Helper()
	deadline := time.Now().Add(2500 * time.Millisecond)
	for {
		r := resolveResult(t, base, d, query, 200)
		if r.Meta.LedgerProof != nil && r.Meta.LedgerProof.Checkpoint != "" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint covered %s within 2.5s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRegistryLifecycle(t *testing.T) {
	ctx := context.Background()
	data := tempData(t)
	srv := startServer(t, data, nil)
	vkey := strings.TrimSpace(getText(t, srv.URL+"/ledger/key"))
	cl := &registry.Client{BaseURL: srv.URL}

	// Create in client-managed mode: no private key reaches the server.
	upd, rec, vm1 := genKey(t, keys.ES256), genKey(t, keys.ES256), genKey(t, keys.ES256)
	st, err := cl.Create(ctx, docFor(t, vm1), registry.ClientKeys{Update: upd, Recovery: rec})
	if err != nil {
		t.Fatal(err)
	}
	d := st.DIDState.DID
	if st.DIDState.State != "finished" || !strings.HasPrefix(d, "did:medid:") {
		t.Fatalf("create: %+v", st.DIDState)
	}
	created := waitProof(t, srv.URL, d, "")
	checkProof(t, created.Meta.LedgerProof, vkey, d)
	createdAt := *created.Meta.Created
	if jwkKey(t, created.Document) != string(mustJWK(t, vm1)) {
		t.Fatal("created document does not carry the key")
	}

	// Key rotation by update (and a rotation of the update key itself).
	time.Sleep(1100 * time.Millisecond) // versions a second apart, as RFC 3339 times are
	vm2, upd2 := genKey(t, keys.ES256), genKey(t, keys.ES256)
	if _, err := cl.Update(ctx, d, docFor(t, vm2), upd, upd2); err != nil {
		t.Fatal(err)
	}
	latest := waitProof(t, srv.URL, d, "")
	if latest.Meta.VersionID != "2" || jwkKey(t, latest.Document) != string(mustJWK(t, vm2)) {
		t.Fatalf("after rotation: version %s", latest.Meta.VersionID)
	}
	checkProof(t, latest.Meta.LedgerProof, vkey, d)

	// Historical resolution: as of the creation time, the old key.
	hist := resolveResult(t, srv.URL, d, "versionTime="+url.QueryEscape(createdAt.UTC().Format(time.RFC3339)), 200)
	if hist.Meta.VersionID != "1" || jwkKey(t, hist.Document) != string(mustJWK(t, vm1)) {
		t.Fatalf("versionTime: got version %s", hist.Meta.VersionID)
	}
	checkProof(t, hist.Meta.LedgerProof, vkey, d)
	if v := resolveResult(t, srv.URL, d, "versionId=1", 200); v.Meta.NextVersionID != "2" {
		t.Fatalf("versionId=1: %+v", v.Meta)
	}

	// An update signed with the wrong key (the rotated-away one) is refused
	// and nothing is appended.
	sizeBefore := checkpointSize(t, srv.URL)
	_, err = cl.Update(ctx, d, docFor(t, genKey(t, keys.ES256)), upd, nil)
	var he *registry.HTTPError
	if err == nil {
		t.Fatal("update with the old update key accepted")
	}
	if errors.As(err, &he) {
		t.Fatalf("refused too early (the registrar asked for the current key): %v", err)
	}
	// The client itself refuses to sign for a key it does not hold; force
	// the forged signature through the raw API to see the server refuse it.
	forgedStatus := forgeUpdate(t, srv.URL, d, upd)
	if forgedStatus != http.StatusForbidden {
		t.Fatalf("forged update: status %d, want 403", forgedStatus)
	}
	time.Sleep(1200 * time.Millisecond)
	if got := checkpointSize(t, srv.URL); got != sizeBefore {
		t.Fatalf("log grew from %d to %d after refused updates", sizeBefore, got)
	}

	// Document-alone representations and dereferencing.
	resp, body := resolve(t, srv.URL, d, "", "application/did+ld+json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/did+ld+json" || !bytes.Contains(body, []byte(d)) {
		t.Fatalf("did+ld+json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = resolve(t, srv.URL, d+"#key-1", "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("fragment dereference: %d", resp.StatusCode)
	}
	resp, _ = resolve(t, srv.URL, d, "", "text/html")
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Fatalf("text/html: %d", resp.StatusCode)
	}

	// Restart: state intact.
	srv.Stop(t)
	srv = startServer(t, data, nil)
	cl.BaseURL = srv.URL
	again := resolveResult(t, srv.URL, d, "", 200)
	if again.Meta.VersionID != "2" || jwkKey(t, again.Document) != string(mustJWK(t, vm2)) {
		t.Fatalf("after restart: %+v", again.Meta)
	}
	checkProof(t, again.Meta.LedgerProof, vkey, d)

	// Deactivate with the recovery key: 410 with deactivated metadata.
	if _, err := cl.Deactivate(ctx, d, rec); err != nil {
		t.Fatal(err)
	}
	gone := resolveResult(t, srv.URL, d, "", http.StatusGone)
	if !gone.Meta.Deactivated {
		t.Fatalf("deactivated metadata missing: %+v", gone.Meta)
	}
	// And the DID can no longer be updated.
	if _, err := cl.Update(ctx, d, docFor(t, vm2), upd2, nil); !errors.As(err, &he) || he.Status != http.StatusGone {
		t.Fatalf("update after deactivate: %v", err)
	}

	// An outside witness audits the whole log: server DID, create, update,
	// deactivate (once a checkpoint covers the last).
	waitCheckpoint(t, srv.URL, 4)
	stateFile := filepath.Join(t.TempDir(), "witness.json")
	rep, err := audit.Verify(ctx, audit.Options{BaseURL: srv.URL + "/ledger/", VerifierKey: vkey, StateFile: stateFile})
	if err != nil {
		t.Fatalf("audit of an honest log: %v", err)
	}
	if rep.TreeSize != 4 {
		t.Fatalf("audited only %d entries", rep.TreeSize)
	}

	// Tamper with a stored entry bundle: the witness names the entry.
	srv.Stop(t)
	tamperEntryBundle(t, filepath.Join(data, "ledger"))
	srv = startServer(t, data, nil)
	// An incremental run re-checks nothing it has seen; a full one does.
	if _, err := audit.Verify(ctx, audit.Options{BaseURL: srv.URL + "/ledger/", VerifierKey: vkey, StateFile: stateFile}); err != nil {
		t.Fatalf("incremental audit with no new entries: %v", err)
	}
	_, err = audit.Verify(ctx, audit.Options{BaseURL: srv.URL + "/ledger/", VerifierKey: vkey, StateFile: stateFile, Full: true})
	if err == nil || !strings.Contains(err.Error(), "entry") {
		t.Fatalf("audit of a tampered log: %v", err)
	}
}

func waitCheckpoint(t *testing.T, base string, size uint64) {
	t.Helper()
	deadline := time.Now().Add(2500 * time.Millisecond)
	for checkpointSize(t, base) < size {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d within 2.5s", size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustJWK(t *testing.T, k *keys.PrivateKey) []byte {
	t.Helper()
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func checkpointSize(t *testing.T, base string) uint64 {
	t.Helper()
	cp := getText(t, base+"/ledger/checkpoint")
	lines := strings.SplitN(cp, "\n", 3)
	var n uint64
	for _, c := range lines[1] {
		n = n*10 + uint64(c-'0')
	}
	return n
}

// forgeUpdate asks for an update's signing request and answers it with a
// signature by the wrong key, returning the final status code.
func forgeUpdate(t *testing.T, base, d string, wrong *keys.PrivateKey) int {
	t.Helper()
	post := func(body any) (*http.Response, []byte) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(base+"/1.0/update", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp, out
	}
	resp, body := post(map[string]any{"did": d, "options": map[string]any{"clientSecretMode": true},
		"didDocument": json.RawMessage(docFor(t, genKey(t, keys.ES256)))})
	if resp.StatusCode != 200 {
		t.Fatalf("update request: %d %s", resp.StatusCode, body)
	}
	var st registry.RegistrationState
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	input, _ := base64.RawURLEncoding.DecodeString(st.DIDState.SigningRequest["signingRequest1"].SerializedPayload)
	sig, err := registry.SignInput(wrong, input)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = post(map[string]any{"jobId": st.JobID, "secret": map[string]any{"signingResponse": map[string]any{
		"signingRequest1": map[string]any{"signature": base64.RawURLEncoding.EncodeToString(sig)}}}})
	if resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("forged update answer is not problem+json: %s", body)
	}
	return resp.StatusCode
}

// tamperEntryBundle flips a byte inside the served entry bundle on disk.
func tamperEntryBundle(t *testing.T, ledgerDir string) {
	t.Helper()
	var target string
	_ = filepath.Walk(filepath.Join(ledgerDir, "tile", "entries"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			target = p // the last in lexical order: the widest partial bundle, the one served
		}
		return nil
	})
	if target == "" {
		t.Fatal("no entry bundle found")
	}
	b, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"time"`))
	if i < 0 {
		t.Fatal("entry bundle has no time field")
	}
	b[i+10] ^= 1
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
