package dataintegrity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/internal/keys"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testVM = "did:medid:issuer123#key-1"

// testPresentation is a VC 2.0 presentation holding one credential.
var testPresentation = []byte(`{
  "@context": ["https://www.w3.org/ns/credentials/v2"],
  "type": ["VerifiablePresentation"],
  "holder": "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
}`)

func newSuite(t testing.TB) *Suite {
	t.Helper()
	s, _ := benchSuite(t)
	return s
}

func signCredential(t testing.TB, s *Suite, signer crypto.Signer, suite string, mod func(*Options)) []byte {
	t.Helper()
	o := Options{Cryptosuite: suite, VerificationMethod: testVM, Created: testNow}
	if mod != nil {
		mod(&o)
	}
	out, err := s.Sign(context.Background(), benchCredential, signer, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	s := newSuite(t)
	edKey, _ := keys.Generate(keys.EdDSA)
	p256Key, _ := keys.Generate(keys.ES256)
	p384Key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, c := range []struct {
		name, suite string
		signer      crypto.Signer
		sigLen      int
	}{
		{"eddsa", EdDSARDFC2022, edKey.Signer(), 64},
		{"p256", ECDSARDFC2019, p256Key.Signer(), 64},
		{"p384", ECDSARDFC2019, p384Key, 96},
	} {
		t.Run(c.name, func(t *testing.T) {
			signed := signCredential(t, s, c.signer, c.suite, nil)
			if !bytes.HasPrefix(signed, bytes.TrimRight(benchCredential, "}\n ")) {
				t.Fatal("Sign did not keep the document's bytes")
			}
			v, err := s.Verify(context.Background(), signed, staticKey(testVM, c.signer.Public()), VerifyOptions{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if v.Proof.Cryptosuite != c.suite || v.Proof.VerificationMethod != testVM || v.Proof.ProofPurpose != AssertionMethod || !v.Proof.Created.Equal(testNow) {
				t.Fatalf("proof %+v", v.Proof)
			}
			var m struct {
				Proof struct{ ProofValue string } `json:"proof"`
			}
			json.Unmarshal(signed, &m)
			sig, err := decodeProofValue(m.Proof.ProofValue)
			if err != nil || len(sig) != c.sigLen {
				t.Fatalf("proofValue %q: %d bytes, %v", m.Proof.ProofValue, len(sig), err)
			}
		})
	}
}

// replace returns signed with old replaced by new, once, failing if old is
// absent.
func replace(t testing.TB, signed []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(signed, []byte(old)) {
		t.Fatalf("%q not in the document", old)
	}
	return bytes.Replace(signed, []byte(old), []byte(new), 1)
}

// TestVerifyFailures has one case per check Verify makes: each must fail
// with the sentinel of that check and no other.
func TestVerifyFailures(t *testing.T) {
	s := newSuite(t)
	key := benchKey()
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	resolve := staticKey(testVM, key.Public())
	signed := signCredential(t, s, key, EdDSARDFC2022, nil)
	presented, err := s.Sign(context.Background(), testPresentation, key, Options{
		Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM, ProofPurpose: Authentication,
		Created: testNow, Challenge: "c-123", Domain: "https://verifier.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	expiring := signCredential(t, s, key, EdDSARDFC2022, func(o *Options) { o.Expires = testNow.Add(time.Hour) })
	var pv struct {
		Proof struct{ ProofValue string } `json:"proof"`
	}
	json.Unmarshal(signed, &pv)
	auth := VerifyOptions{Purpose: Authentication, Challenge: "c-123", Domain: "https://verifier.example", Now: testNow}

	cases := []struct {
		name    string
		doc     []byte
		resolve KeyResolver
		opts    VerifyOptions
		want    error
		wantAs  any
	}{
		{"tampered value", replace(t, signed, `"given_name": "Ada"`, `"given_name": "Eve"`), resolve, VerifyOptions{Now: testNow}, ErrSignature, nil},
		{"tampered proof", replace(t, signed, `"created":"2026-03-01T12:00:00Z"`, `"created":"2026-03-01T12:00:01Z"`), resolve, VerifyOptions{Now: testNow}, ErrSignature, nil},
		{"wrong key", signed, staticKey(testVM, other.Public()), VerifyOptions{Now: testNow}, ErrSignature, nil},
		{"key of the wrong type", signed, staticKey(testVM, &mustP256(t).PublicKey), VerifyOptions{Now: testNow}, ErrKey, nil},
		{"unknown method", signed, staticKey("did:medid:other#k", key.Public()), VerifyOptions{Now: testNow}, ErrKey, nil},
		{"wrong purpose", signed, resolve, VerifyOptions{Purpose: Authentication, Now: testNow}, ErrPurpose, nil},
		{"presentation ok", presented, resolve, auth, nil, nil},
		{"wrong challenge", presented, resolve, VerifyOptions{Purpose: Authentication, Challenge: "c-999", Domain: auth.Domain, Now: testNow}, ErrChallenge, nil},
		{"missing challenge", presented, resolve, VerifyOptions{Purpose: Authentication, Domain: auth.Domain, Now: testNow}, ErrChallenge, nil},
		{"challenge expected, none in proof", signed, resolve, VerifyOptions{Challenge: "c-123", Now: testNow}, ErrChallenge, nil},
		{"wrong domain", presented, resolve, VerifyOptions{Purpose: Authentication, Challenge: auth.Challenge, Domain: "https://evil.example", Now: testNow}, ErrDomain, nil},
		{"challenge changed in proof", replace(t, presented, `"challenge":"c-123"`, `"challenge":"c-124"`), resolve, VerifyOptions{Purpose: Authentication, Challenge: "c-124", Domain: auth.Domain, Now: testNow}, ErrSignature, nil},
		{"not yet expired", expiring, resolve, VerifyOptions{Now: testNow.Add(59 * time.Minute)}, nil, nil},
		{"expired", expiring, resolve, VerifyOptions{Now: testNow.Add(time.Hour)}, ErrExpired, nil},
		{"created in the future", signed, resolve, VerifyOptions{Now: testNow.Add(-time.Hour)}, ErrExpired, nil},
		{"unknown term", signed, resolve, VerifyOptions{Now: testNow}, nil, nil}, // replaced below
		{"unknown context", replace(t, signed, `"https://w3id.org/security/suites/ed25519-2020/v1"`, `"https://evil.example/ctx"`), resolve, VerifyOptions{Now: testNow}, ErrJSONLD, new(*jsonld.UnknownContextError)},
		{"unsupported cryptosuite", replace(t, signed, `"cryptosuite":"eddsa-rdfc-2022"`, `"cryptosuite":"eddsa-jcs-2022"`), resolve, VerifyOptions{Now: testNow}, ErrUnsupportedCryptosuite, nil},
		{"unsupported proof type", replace(t, signed, `"type":"DataIntegrityProof"`, `"type":"Ed25519Signature2020"`), resolve, VerifyOptions{Now: testNow}, ErrUnsupportedCryptosuite, nil},
		{"proofValue not multibase", replace(t, signed, pv.Proof.ProofValue, "u"+pv.Proof.ProofValue[1:]), resolve, VerifyOptions{Now: testNow}, ErrProofValue, nil},
		{"proofValue not base58", replace(t, signed, pv.Proof.ProofValue, "z0OIl"+pv.Proof.ProofValue[5:]), resolve, VerifyOptions{Now: testNow}, ErrProofValue, nil},
		{"proofValue short", replace(t, signed, pv.Proof.ProofValue, pv.Proof.ProofValue[:40]), resolve, VerifyOptions{Now: testNow}, ErrProofValue, nil},
		{"proofValue huge", replace(t, signed, pv.Proof.ProofValue, "z"+strings.Repeat("2", 5000)), resolve, VerifyOptions{Now: testNow}, ErrProofValue, nil},
		{"no proof", benchCredential, resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"proof not an object", replace(t, signed, `"proof":{`, `"proof":[1],"x":{`), resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"not JSON", []byte(`{"proof":`), resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"trailing text", append(bytes.Clone(signed), `{}`...), resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"bad created", replace(t, signed, `"created":"2026-03-01T12:00:00Z"`, `"created":"yesterday"`), resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"proof @context not a prefix", replace(t, signed, `"proof":{`, `"proof":{"@context":"https://www.w3.org/2018/credentials/v1",`), resolve, VerifyOptions{Now: testNow}, ErrMalformed, nil},
		{"proof @context a prefix", replace(t, signed, `"proof":{`, `"proof":{"@context":["https://www.w3.org/ns/credentials/v2"],`), resolve, VerifyOptions{Now: testNow}, nil, nil},
		{"no clock", signed, resolve, VerifyOptions{}, ErrOptions, nil},
		{"no resolver", signed, nil, VerifyOptions{Now: testNow}, ErrOptions, nil},
	}
	// An undefined term: the health context is @protected and has no
	// @vocab, so a new member of an identifier is refused.
	cases[15].doc = replace(t, signed, `"type": "MRN"}`, `"type": "MRN", "ward": "B"}`)
	cases[15].want, cases[15].wantAs = ErrJSONLD, new(*jsonld.UnknownTermError)

	all := []error{ErrMalformed, ErrJSONLD, ErrUnsupportedCryptosuite, ErrProofValue, ErrOptions, ErrKey, ErrPurpose, ErrChallenge, ErrDomain, ErrExpired, ErrSignature}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := s.Verify(context.Background(), c.doc, c.resolve, c.opts)
			if c.want == nil {
				if err != nil || v == nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if v != nil {
				t.Fatal("Verify returned a result with an error")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			for _, e := range all {
				if e != c.want && errors.Is(err, e) {
					t.Fatalf("%v also wraps %v", err, e)
				}
			}
			if c.wantAs != nil && !errors.As(err, c.wantAs) {
				t.Fatalf("%v does not wrap %T", err, c.wantAs)
			}
		})
	}
}

func mustP256(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestUnknownTermNamed(t *testing.T) {
	s := newSuite(t)
	doc := replace(t, benchCredential, `"gender": "female",`, `"gender": "female", "bloodType": "O+",`)
	_, err := s.Sign(context.Background(), doc, benchKey(), Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM})
	var u *jsonld.UnknownTermError
	if !errors.As(err, &u) || u.Term != "bloodType" || !errors.Is(err, ErrJSONLD) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "bloodType") {
		t.Fatalf("error does not name the term: %v", err)
	}
}

func TestSignOptions(t *testing.T) {
	s := newSuite(t)
	key := benchKey()
	cases := []struct {
		name   string
		doc    []byte
		signer crypto.Signer
		opts   Options
		want   error
	}{
		{"https method", benchCredential, key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: "https://issuer.example/keys/1"}, ErrOptions},
		{"no method", benchCredential, key, Options{Cryptosuite: EdDSARDFC2022}, ErrOptions},
		{"unknown suite", benchCredential, key, Options{Cryptosuite: "bbs-2023", VerificationMethod: testVM}, ErrUnsupportedCryptosuite},
		{"eddsa with P-256", benchCredential, mustP256(t), Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM}, ErrOptions},
		{"ecdsa with Ed25519", benchCredential, key, Options{Cryptosuite: ECDSARDFC2019, VerificationMethod: testVM}, ErrOptions},
		{"no signer", benchCredential, nil, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM}, ErrOptions},
		{"already signed", signCredential(t, s, key, EdDSARDFC2022, nil), key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM}, ErrMalformed},
		{"array", []byte(`[]`), key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM}, ErrMalformed},
		{"relative issuer", replace(t, benchCredential, `"issuer": "did:medid:issuer123"`, `"issuer": "issuer123"`), key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM}, ErrJSONLD},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Sign(context.Background(), c.doc, c.signer, c.opts); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestConcurrent signs and verifies from many goroutines on one Suite
// (run with -race): cached contexts are shared.
func TestConcurrent(t *testing.T) {
	s := newSuite(t)
	key := benchKey()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				out, err := s.Sign(context.Background(), benchCredential, key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM, Created: testNow})
				if err == nil {
					_, err = s.Verify(context.Background(), out, staticKey(testVM, key.Public()), VerifyOptions{Now: testNow})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
