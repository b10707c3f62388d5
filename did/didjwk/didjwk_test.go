package didjwk

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

const (
	p256DID   = "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
	x25519DID = "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJYMjU1MTkiLCJ1c2UiOiJlbmMiLCJ4IjoiM3A3YmZYdDl3YlRUVzJIQzdPUTFOei1EUThoYmVHZE5yZngtRkctSUswOCJ9"
)

// The spec's example documents. (The spec's P-256 example has a stray "$"
// in its authentication entry, "did:jwk:$eyJ…"; it is removed here.)
const p256Doc = `{
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
  "id": "` + p256DID + `",
  "verificationMethod": [{
    "id": "` + p256DID + `#0",
    "type": "JsonWebKey2020",
    "controller": "` + p256DID + `",
    "publicKeyJwk": {"crv": "P-256", "kty": "EC", "x": "acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0", "y": "_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE"}
  }],
  "assertionMethod": ["` + p256DID + `#0"],
  "authentication": ["` + p256DID + `#0"],
  "capabilityInvocation": ["` + p256DID + `#0"],
  "capabilityDelegation": ["` + p256DID + `#0"],
  "keyAgreement": ["` + p256DID + `#0"]
}`

const x25519Doc = `{
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
  "id": "` + x25519DID + `",
  "verificationMethod": [{
    "id": "` + x25519DID + `#0",
    "type": "JsonWebKey2020",
    "controller": "` + x25519DID + `",
    "publicKeyJwk": {"kty":"OKP","crv":"X25519","use":"enc","x":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"}
  }],
  "keyAgreement": ["` + x25519DID + `#0"]
}`

func resolve(t *testing.T, s string) (*did.Result, error) {
	t.Helper()
	d, err := did.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return Method{}.Resolve(context.Background(), d, did.ResolutionOptions{})
}

func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON mismatch\ngot:  %s\nwant: %s", got, want)
	}
}

func TestSpecExamples(t *testing.T) {
	for _, tt := range []struct{ did, doc string }{{p256DID, p256Doc}, {x25519DID, x25519Doc}} {
		res, err := resolve(t, tt.did)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tt.did, err)
		}
		if err := res.Document.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		b, err := json.Marshal(res.Document)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, b, []byte(tt.doc))
		if _, err := res.Document.VerificationMethod[0].PublicKey(); err != nil {
			t.Fatalf("PublicKey: %v", err)
		}
	}
}

func TestResolveThroughResolver(t *testing.T) {
	r := did.NewResolver(Method{})
	res, err := r.Resolve(context.Background(), p256DID, did.ResolutionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := res.Document.VerificationMethod[0].PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		t.Fatalf("%T", pub)
	}
	if !res.Document.Authorized(did.KeyAgreement, "#0") || !res.Document.Authorized(did.AssertionMethod, p256DID+"#0") {
		t.Fatal("relationships missing")
	}
}

func TestRelationshipsByUse(t *testing.T) {
	const edX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	const p256 = `"kty":"EC","crv":"P-256","x":"acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0","y":"_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE"`
	tests := []struct {
		jwk        string
		sign, kagr bool
	}{
		{`{"kty":"OKP","crv":"Ed25519","x":"` + edX + `"}`, true, false},
		{`{"kty":"OKP","crv":"Ed25519","use":"sig","x":"` + edX + `"}`, true, false},
		{`{"kty":"OKP","crv":"X25519","x":"` + edX + `"}`, false, true},
		{`{` + p256 + `}`, true, true},
		{`{` + p256 + `,"use":"sig"}`, true, false},
		{`{` + p256 + `,"use":"enc"}`, false, true},
		{`{` + p256 + `,"kid":"ignored","alg":"ES256"}`, true, true},
	}
	for _, tt := range tests {
		d, err := New([]byte(tt.jwk))
		if err != nil {
			t.Fatalf("New(%s): %v", tt.jwk, err)
		}
		res, err := resolve(t, d.String())
		if err != nil {
			t.Fatalf("Resolve(%s): %v", tt.jwk, err)
		}
		doc := res.Document
		if err := doc.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{did.Authentication, did.AssertionMethod, did.CapabilityInvocation, did.CapabilityDelegation} {
			if got := doc.Authorized(rel, "#0"); got != tt.sign {
				t.Errorf("%s: %s = %v, want %v", tt.jwk, rel, got, tt.sign)
			}
		}
		if got := doc.Authorized(did.KeyAgreement, "#0"); got != tt.kagr {
			t.Errorf("%s: keyAgreement = %v, want %v", tt.jwk, got, tt.kagr)
		}
		pub, err := doc.VerificationMethod[0].PublicKey()
		if err != nil {
			t.Fatalf("%s: PublicKey: %v", tt.jwk, err)
		}
		switch pub.(type) {
		case ed25519.PublicKey, *ecdsa.PublicKey, *ecdh.PublicKey:
		default:
			t.Fatalf("%T", pub)
		}
	}
}

func TestNew(t *testing.T) {
	// The spec's P-256 example is already in JCS form, so New reproduces it.
	d, err := New([]byte(`{ "kty": "EC", "crv": "P-256", "y": "_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE", "x": "acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0" }`))
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != p256DID {
		t.Fatalf("New = %s, want %s", d, p256DID)
	}
}

// TestFromPublicKey: the DID of a key is New of its JWK, for both key
// types, and other keys are refused.
func TestFromPublicKey(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"P-256": &ec.PublicKey, "Ed25519": edPub} {
		got, err := FromPublicKey(pub)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		j, err := keys.PublicJWKJSONOf(pub)
		if err != nil {
			t.Fatal(err)
		}
		// New from the members in another order: JCS puts them back.
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		shuffled := fmt.Appendf(nil, `{"x":%q,"kty":%q,"crv":%q`, m["x"], m["kty"], m["crv"])
		if y, ok := m["y"]; ok {
			shuffled = fmt.Appendf(shuffled, `,"y":%q`, y)
		}
		want, err := New(append(shuffled, '}'))
		if err != nil {
			t.Fatalf("%s: New: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s: FromPublicKey = %s, New = %s", name, got, want)
		}
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"P-384": &p384.PublicKey, "nil": nil, "bytes": []byte("key")} {
		if d, err := FromPublicKey(pub); err == nil {
			t.Errorf("%s: FromPublicKey = %s, want an error", name, d)
		}
	}
}

func TestInvalid(t *testing.T) {
	enc := func(s string) string { return "did:jwk:" + base64.RawURLEncoding.EncodeToString([]byte(s)) }
	const edX = `"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`
	bad := []string{
		"did:jwk:!!!!",
		"did:jwk:eyJ", // truncated
		p256DID + "A", // not canonical base64url
		"did:jwk:" + base64.URLEncoding.EncodeToString([]byte(`{"kty":"OKP","crv":"Ed25519",` + edX + `}`))[:10] + "%3D",
		enc(`not json`),
		enc(`[]`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `,"d":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`),
		enc(`{"kty":"oct","k":"AAAA"}`),
		enc(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`),
		enc(`{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}`),
		enc(`{"kty":"EC","crv":"secp256k1",` + edX + `,"y":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`),
		enc(`{"kty":"EC","crv":"P-256","x":"acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0","y":"_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSA"}`),
		enc(`{"kty":"EC","crv":"P-256","x":"acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0"}`),
		enc(`{"kty":"OKP","crv":"Ed25519","x":"AAAA"}`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `,"use":"enc"}`),
		enc(`{"kty":"OKP","crv":"X25519",` + edX + `,"use":"sig"}`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `,"use":"other"}`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `,"y":"x"}`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `,"crv":"X25519"}`),
		enc(`{"kty":"OKP","crv":"Ed25519",` + edX + `} {}`),
		enc(`{"kty":"OKP","crv":"Ed25519","x":5}`),
		enc("{\"kty\":\"OKP\",\"crv\":\"Ed25519\"," + edX + ",\"kid\":\"\xff\"}"),
	}
	for _, s := range bad {
		d, err := did.Parse(s)
		if err != nil {
			continue // not even a DID: fine
		}
		res, err := Method{}.Resolve(context.Background(), d, did.ResolutionOptions{})
		if !errors.Is(err, did.ErrInvalidDID) || res != nil {
			t.Errorf("Resolve(%s) = %v, %v; want ErrInvalidDID", s, res, err)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "did:jwk:")); err == nil {
			if _, err := New(raw); err == nil {
				t.Errorf("New(%s) succeeded", raw)
			}
		}
	}
	d, _ := did.Parse("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
	if _, err := (Method{}).Resolve(context.Background(), d, did.ResolutionOptions{}); !errors.Is(err, did.ErrInvalidDID) {
		t.Errorf("wrong method: %v", err)
	}
}

func FuzzDidJWK(f *testing.F) {
	f.Add(strings.TrimPrefix(p256DID, "did:jwk:"))
	f.Add(strings.TrimPrefix(x25519DID, "did:jwk:"))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"x"}`)))
	f.Add("eyJ")
	f.Fuzz(func(t *testing.T, id string) {
		d, err := did.Parse("did:jwk:" + id)
		if err != nil {
			return
		}
		res, err := Method{}.Resolve(context.Background(), d, did.ResolutionOptions{})
		if err != nil {
			if !errors.Is(err, did.ErrInvalidDID) {
				t.Fatalf("error %v does not wrap ErrInvalidDID", err)
			}
			return
		}
		// Whatever is accepted gives a valid document with a usable key.
		if err := res.Document.Validate(); err != nil {
			t.Fatalf("invalid document for %s: %v", d, err)
		}
		if _, err := res.Document.VerificationMethod[0].PublicKey(); err != nil {
			t.Fatalf("unusable key for %s: %v", d, err)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	})
}
