package jwtvc

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/medid/medid/internal/keys"
)

// benchVC is a VC-API PatientIdentityCredential as the issuer signs it:
// decoded from JSON, with two Bitstring Status List entries.
func benchVC(b *testing.B) map[string]any {
	var vc map[string]any
	err := json.Unmarshal([]byte(`{"@context": ["https://www.w3.org/ns/credentials/v2"],
		"type": ["VerifiableCredential", "PatientIdentityCredential"],
		"credentialSubject": {"id": "did:example:patient", "given_name": "Ada", "family_name": "Lovelace",
			"birthdate": "1990-12-10", "gender": "female", "assurance_level": "substantial",
			"identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}]},
		"credentialStatus": [
			{"id": "https://issuer.example/status/bitstring/0a1b2c3d4e5f#93120", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
			 "statusListIndex": "93120", "statusListCredential": "https://issuer.example/status/bitstring/0a1b2c3d4e5f"},
			{"id": "https://issuer.example/status/bitstring/6a7b8c9d0e1f#4211", "type": "BitstringStatusListEntry", "statusPurpose": "suspension",
			 "statusListIndex": "4211", "statusListCredential": "https://issuer.example/status/bitstring/6a7b8c9d0e1f"}]}`), &vc)
	if err != nil {
		b.Fatal(err)
	}
	return vc
}

// BenchmarkIssueVCJWT measures securing a credential as vc+jwt with ES256;
// the same-run baseline is BenchmarkRawES256Sign.
func BenchmarkIssueVCJWT(b *testing.B) {
	vc, o := benchVC(b), opts(key(b, keys.ES256))
	o.HolderJWK = nil
	b.ReportAllocs()
	for b.Loop() {
		if _, err := IssueVCJWT(vc, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256Sign is an ES256 signature (SHA-256 and crypto/ecdsa)
// over a message the size of BenchmarkIssueVCJWT's signing input.
func BenchmarkRawES256Sign(b *testing.B) {
	k := key(b, keys.ES256)
	msg := make([]byte, 1546)
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if _, err := k.Signer().Sign(rand.Reader, h[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
