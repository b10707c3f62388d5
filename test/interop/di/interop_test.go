package di

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/did/multikey"
	"github.com/medid/medid/internal/keys"
)

const base = "https://issuer.example"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var credential = `{
  "@context": ["https://www.w3.org/ns/credentials/v2", "https://issuer.example/contexts/health-v1.jsonld"],
  "id": "urn:uuid:3f1c7a52-9b8e-4c1d-a6f0-2d5e8b7c9a10",
  "type": ["VerifiableCredential", "PatientIdentityCredential"],
  "issuer": "did:example:issuer",
  "validFrom": "2026-03-01T12:00:00Z",
  "credentialSubject": {
    "id": "did:example:patient",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birthdate": "1990-12-10",
    "identifiers": [
      {"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"},
      {"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990", "type": "NHI"}
    ],
    "address": {"street_address": "1 Main Street", "locality": "Springfield", "country": "US"}
  }
}`

var presentation = `{
  "@context": ["https://www.w3.org/ns/credentials/v2"],
  "type": ["VerifiablePresentation"],
  "holder": "did:example:patient"
}`

// requireNode skips without the Node packages, or fails under CI.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat("node_modules"); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or test/interop/di/node_modules missing (run npm ci --prefix test/interop/di): %v %v", err, statErr)
		}
		t.Skip("node or node_modules missing: npm ci --prefix test/interop/di")
	}
	return node
}

type verifyIn struct {
	Name               string          `json:"name"`
	Document           json.RawMessage `json:"document"`
	PublicKeyMultibase string          `json:"publicKeyMultibase"`
	Cryptosuite        string          `json:"cryptosuite"`
	Purpose            string          `json:"purpose,omitempty"`
	Challenge          string          `json:"challenge,omitempty"`
	Domain             string          `json:"domain,omitempty"`
}

type signIn struct {
	Name        string          `json:"name"`
	Document    json.RawMessage `json:"document"`
	Cryptosuite string          `json:"cryptosuite"`
	Curve       string          `json:"curve,omitempty"`
	Purpose     string          `json:"purpose,omitempty"`
	Challenge   string          `json:"challenge,omitempty"`
	Domain      string          `json:"domain,omitempty"`
}

type nodeOut struct {
	Verified []struct {
		Name     string `json:"name"`
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	} `json:"verified"`
	Signed []struct {
		Name               string          `json:"name"`
		Document           json.RawMessage `json:"document"`
		PublicKeyMultibase string          `json:"publicKeyMultibase"`
	} `json:"signed"`
}

// p384Multikey encodes a P-384 public key as Multikey (p384-pub, 0x1201),
// which did/multikey does not do.
func p384Multikey(pub *ecdsa.PublicKey) string {
	b := append([]byte{0x81, 0x24}, elliptic.MarshalCompressed(elliptic.P384(), pub.X, pub.Y)...)
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int).SetBytes(b)
	var out []byte
	mod, radix := new(big.Int), big.NewInt(58)
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, alphabet[mod.Int64()])
	}
	for _, c := range b {
		if c != 0 {
			break
		}
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return "z" + string(out)
}

func didKeyMethod(mk string) string { return "did:key:" + mk + "#" + mk }

// resolveDIDKey is the KeyResolver for did:key:KEY#KEY methods.
func resolveDIDKey(_ context.Context, vm string, _ time.Time) (crypto.PublicKey, error) {
	did, frag, ok := strings.Cut(vm, "#")
	if !ok || did != "did:key:"+frag {
		return nil, errors.New("not a did:key verification method")
	}
	return multikey.Decode(frag)
}

func TestNodeInterop(t *testing.T) {
	node := requireNode(t)
	l, err := jsonld.NewLoader(jsonld.HealthContext(base))
	if err != nil {
		t.Fatal(err)
	}
	suite := dataintegrity.New(l)
	ctxs := map[string]json.RawMessage{}
	for _, u := range l.URLs() {
		b, _ := l.Document(u)
		ctxs[u] = b
	}

	ed, _ := keys.Generate(keys.EdDSA)
	p256, _ := keys.Generate(keys.ES256)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edMK, _ := ed.Multikey()
	p256MK, _ := p256.Multikey()
	p384MK := p384Multikey(&p384.PublicKey)

	sign := func(doc string, signer crypto.Signer, mk, cs string, o dataintegrity.Options) json.RawMessage {
		o.Cryptosuite, o.VerificationMethod, o.Created = cs, didKeyMethod(mk), now
		out, err := suite.Sign(context.Background(), []byte(doc), signer, o)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	edCred := sign(credential, ed.Signer(), edMK, dataintegrity.EdDSARDFC2022, dataintegrity.Options{})
	vp := sign(presentation, ed.Signer(), edMK, dataintegrity.EdDSARDFC2022, dataintegrity.Options{
		ProofPurpose: dataintegrity.Authentication, Challenge: "c-42", Domain: "https://verifier.example"})
	verify := []verifyIn{
		{Name: "eddsa credential", Document: edCred, PublicKeyMultibase: edMK, Cryptosuite: dataintegrity.EdDSARDFC2022},
		{Name: "ecdsa P-256 credential", Document: sign(credential, p256.Signer(), p256MK, dataintegrity.ECDSARDFC2019, dataintegrity.Options{}), PublicKeyMultibase: p256MK, Cryptosuite: dataintegrity.ECDSARDFC2019},
		{Name: "ecdsa P-384 credential", Document: sign(credential, p384, p384MK, dataintegrity.ECDSARDFC2019, dataintegrity.Options{}), PublicKeyMultibase: p384MK, Cryptosuite: dataintegrity.ECDSARDFC2019},
		{Name: "eddsa presentation", Document: vp, PublicKeyMultibase: edMK, Cryptosuite: dataintegrity.EdDSARDFC2022,
			Purpose: "authentication", Challenge: "c-42", Domain: "https://verifier.example"},
		// Node must refuse these two, or it checks nothing.
		{Name: "tampered credential", Document: bytes.Replace(edCred, []byte(`"Ada"`), []byte(`"Eve"`), 1), PublicKeyMultibase: edMK, Cryptosuite: dataintegrity.EdDSARDFC2022},
		{Name: "presentation, wrong challenge", Document: vp, PublicKeyMultibase: edMK, Cryptosuite: dataintegrity.EdDSARDFC2022,
			Purpose: "authentication", Challenge: "c-43", Domain: "https://verifier.example"},
	}
	wantVerified := map[string]bool{"tampered credential": false, "presentation, wrong challenge": false}
	signs := []signIn{
		{Name: "eddsa credential", Document: json.RawMessage(credential), Cryptosuite: dataintegrity.EdDSARDFC2022},
		{Name: "ecdsa P-256 credential", Document: json.RawMessage(credential), Cryptosuite: dataintegrity.ECDSARDFC2019, Curve: "P-256"},
		{Name: "eddsa presentation", Document: json.RawMessage(presentation), Cryptosuite: dataintegrity.EdDSARDFC2022,
			Purpose: "authentication", Challenge: "n-7", Domain: "https://verifier.example"},
	}

	dir := t.TempDir()
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("contexts.json", ctxs)
	write("input.json", map[string]any{"verify": verify, "sign": signs})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "di.mjs", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	var out nodeOut
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout)
	}

	// Node verifies ours.
	if len(out.Verified) != len(verify) {
		t.Fatalf("node verified %d documents, want %d", len(out.Verified), len(verify))
	}
	for _, v := range out.Verified {
		want, listed := wantVerified[v.Name]
		if !listed {
			want = true
		}
		if !v.Verified {
			t.Logf("node refused %q: %s", v.Name, v.Error)
		}
		if v.Verified != want {
			t.Errorf("node on %q: verified=%v, want %v (%s)", v.Name, v.Verified, want, v.Error)
		}
	}

	// We verify Node's.
	if len(out.Signed) != len(signs) {
		t.Fatalf("node signed %d documents, want %d", len(out.Signed), len(signs))
	}
	for i, s := range out.Signed {
		opts := dataintegrity.VerifyOptions{Now: time.Now()}
		if signs[i].Purpose == "authentication" {
			opts.Purpose, opts.Challenge, opts.Domain = dataintegrity.Authentication, signs[i].Challenge, signs[i].Domain
		}
		v, err := suite.Verify(context.Background(), s.Document, resolveDIDKey, opts)
		if err != nil {
			t.Errorf("verifying node's %q: %v\n%s", s.Name, err, s.Document)
			continue
		}
		if v.Proof.Cryptosuite != signs[i].Cryptosuite || v.Proof.VerificationMethod != didKeyMethod(s.PublicKeyMultibase) {
			t.Errorf("node's %q: proof %+v", s.Name, v.Proof)
		}
		tampered := bytes.Replace(s.Document, []byte(`"Ada"`), []byte(`"Eve"`), 1)
		if !bytes.Equal(tampered, s.Document) {
			if _, err := suite.Verify(context.Background(), tampered, resolveDIDKey, opts); !errors.Is(err, dataintegrity.ErrSignature) {
				t.Errorf("tampered %q: %v", s.Name, err)
			}
		}
	}
}
