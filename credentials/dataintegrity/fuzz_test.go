package dataintegrity

import (
	"context"
	"testing"
)

// FuzzVerify feeds Verify arbitrary documents: it must return an error or
// a result, never panic, and never a result for a document the key did not
// sign (the corpus's only valid documents are the signed seeds).
func FuzzVerify(f *testing.F) {
	s := newSuite(f)
	key := benchKey()
	signed := signCredential(f, s, key, EdDSARDFC2022, nil)
	f.Add(signed)
	f.Add(benchCredential)
	f.Add(readFile(f, "vectors", "eddsa-rdfc-2022", "signed.json"))
	f.Add([]byte(`{"proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z1", "verificationMethod": "x", "proofPurpose": "assertionMethod"}}`))
	f.Add([]byte(`{"@context": [null], "proof": [{}, {}]}`))
	resolve := staticKey(testVM, key.Public())
	f.Fuzz(func(t *testing.T, doc []byte) {
		v, err := s.Verify(context.Background(), doc, resolve, VerifyOptions{Now: testNow})
		if err == nil && v == nil {
			t.Fatal("no result and no error")
		}
	})
}

// FuzzSign: Sign on arbitrary documents returns an error or a document
// that Verify accepts.
func FuzzSign(f *testing.F) {
	s := newSuite(f)
	key := benchKey()
	f.Add(benchCredential)
	f.Add(testPresentation)
	f.Add([]byte(`{"@context": {"@vocab": "http://e.org/"}, "a": [1, 2.5, "x", {"@id": "_:b", "c": {"@id": "_:b"}}]}`))
	f.Add([]byte(`{}`))
	resolve := staticKey(testVM, key.Public())
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := s.Sign(context.Background(), doc, key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: testVM, Created: testNow})
		if err != nil {
			return
		}
		if _, err := s.Verify(context.Background(), out, resolve, VerifyOptions{Now: testNow}); err != nil {
			t.Fatalf("signed document does not verify: %v\n%s", err, out)
		}
	})
}
