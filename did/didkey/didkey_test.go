package didkey

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/medid/medid/did"
)

const (
	edDID   = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	p256DID = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"
)

// specDoc is the did:key v0.7 example document shape for a Multikey key:
// one verification method, four signing relationships, no keyAgreement.
func specDoc(d string) string {
	mk := d[len("did:key:"):]
	vm := d + "#" + mk
	return `{
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
  "id": "` + d + `",
  "verificationMethod": [{
    "id": "` + vm + `",
    "type": "Multikey",
    "controller": "` + d + `",
    "publicKeyMultibase": "` + mk + `"
  }],
  "authentication": ["` + vm + `"],
  "assertionMethod": ["` + vm + `"],
  "capabilityDelegation": ["` + vm + `"],
  "capabilityInvocation": ["` + vm + `"]
}`
}

func resolve(t *testing.T, s string) (*did.Result, error) {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return Method{}.Resolve(context.Background(), d, did.ResolutionOptions{})
}

func TestSpecExamples(t *testing.T) {
	for _, s := range []string{edDID, p256DID} {
		res, err := resolve(t, s)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", s, err)
		}
		if err := res.Document.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		got, err := json.Marshal(res.Document)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(specDoc(s)), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("document of %s:\ngot:  %s\nwant: %s", s, got, specDoc(s))
		}
	}
}

func TestKeys(t *testing.T) {
	res, err := resolve(t, edDID)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := res.Document.VerificationMethod[0].PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pub.(ed25519.PublicKey); !ok {
		t.Fatalf("%T", pub)
	}

	res, err = resolve(t, p256DID)
	if err != nil {
		t.Fatal(err)
	}
	pub, err = res.Document.VerificationMethod[0].PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("%T", pub)
	}
	// The did:key test vectors give this key's JWK coordinates.
	raw, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if x, y := base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:]); x != "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI" || y != "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU" {
		t.Fatalf("P-256 key x=%s y=%s", x, y)
	}
	if !res.Document.Authorized(did.AssertionMethod, "#zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169") || res.Document.Authorized(did.KeyAgreement, "#zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169") {
		t.Fatal("relationships")
	}
}

func TestNew(t *testing.T) {
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []any{edPub, &ecKey.PublicKey} {
		d, err := New(pub)
		if err != nil {
			t.Fatal(err)
		}
		res, err := did.NewResolver(Method{}).ResolveDID(context.Background(), d, did.ResolutionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.Document.VerificationMethod[0].PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("key round trip through %s failed", d)
		}
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(&p384.PublicKey); err == nil {
		t.Fatal("New(P-384) succeeded")
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		"did:key:z6Mk",
		"did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW0",
		"did:key:z82Lm1MpAkeJcix9K8TMiLd5NMAhnwkjjCBeWHXyu3U4oT2MVJJKXkcVBgjGhnLBn2Kaau9", // P-384: unsupported
		"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",                       // secp256k1: unsupported
		"did:key:1.0:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
		"did:web:example.com",
	} {
		res, err := resolve(t, s)
		if !errors.Is(err, did.ErrInvalidDID) || res != nil {
			t.Errorf("Resolve(%s) = %v, %v; want ErrInvalidDID", s, res, err)
		}
	}
}
