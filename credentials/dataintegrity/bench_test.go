package dataintegrity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/medid/medid/credentials/dataintegrity/internal/ariesld"
	"github.com/medid/medid/credentials/jsonld"
)

// The benchmarks sign one patient identity credential with each signer,
// side by side: go test -run '^$' -bench . -count 6 ./credentials/dataintegrity

const benchBase = "https://issuer.example"

// benchCredential is a VC 2.0 patient identity credential with a status
// entry, the shape the VC-API issues. It also names the Ed25519Signature2020
// context so that aries's proof terms are defined; both signers sign these
// same bytes.
var benchCredential = []byte(`{
  "@context": [
    "https://www.w3.org/ns/credentials/v2",
    "https://w3id.org/security/suites/ed25519-2020/v1",
    "https://issuer.example/contexts/health-v1.jsonld"
  ],
  "id": "urn:uuid:3f1c7a52-9b8e-4c1d-a6f0-2d5e8b7c9a10",
  "type": ["VerifiableCredential", "PatientIdentityCredential"],
  "issuer": "did:medid:issuer123",
  "validFrom": "2026-03-01T12:00:00Z",
  "validUntil": "2027-03-01T12:00:00Z",
  "credentialStatus": {
    "id": "https://issuer.example/status/bitstring/1#9912",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "9912",
    "statusListCredential": "https://issuer.example/status/bitstring/1"
  },
  "credentialSubject": {
    "id": "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "birthdate": "1990-12-10",
    "gender": "female",
    "identifiers": [
      {"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"},
      {"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990", "type": "NHI"}
    ],
    "address": {"street_address": "1 Main Street", "locality": "Springfield", "postal_code": "12345", "country": "US"},
    "assurance_level": "substantial"
  }
}`)

const benchVM = "did:medid:issuer123#key-1"

var benchCreated = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func benchSuite(tb testing.TB) (*Suite, *jsonld.Loader) {
	tb.Helper()
	l, err := jsonld.NewLoader(jsonld.HealthContext(benchBase))
	if err != nil {
		tb.Fatal(err)
	}
	return New(l), l
}

// cpuTime is the process's user and system CPU time. The benchmarks report
// it per operation (cpu-ns/op) next to wall time, because on a shared
// machine CPU time is the steadier measure of work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports cpu-ns/op.
func loop(b *testing.B, f func() error) {
	b.Helper()
	if err := f(); err != nil { // warm caches outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		if err := f(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func benchKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func BenchmarkSignEdDSARDFC2022(b *testing.B) {
	s, _ := benchSuite(b)
	key := benchKey()
	opts := Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: benchVM, Created: benchCreated}
	loop(b, func() error {
		_, err := s.Sign(context.Background(), benchCredential, key, opts)
		return err
	})
}

func BenchmarkSignAriesEd25519Signature2020(b *testing.B) {
	_, l := benchSuite(b)
	a, err := ariesld.NewEd25519Signature2020(benchKey(), l)
	if err != nil {
		b.Fatal(err)
	}
	loop(b, func() error {
		_, err := a.Sign(benchCredential, benchVM, benchCreated)
		return err
	})
}

// BenchmarkRawEd25519 is the floor: one Ed25519 signature over the 64
// bytes eddsa-rdfc-2022 signs, and the same with hashing the credential.
func BenchmarkRawEd25519(b *testing.B) {
	key := benchKey()
	msg := make([]byte, 64)
	loop(b, func() error {
		ed25519.Sign(key, msg)
		return nil
	})
}

func BenchmarkRawEd25519SHA256Credential(b *testing.B) {
	key := benchKey()
	loop(b, func() error {
		sum := sha256.Sum256(benchCredential)
		ed25519.Sign(key, sum[:])
		return nil
	})
}

func BenchmarkSignECDSARDFC2019P256(b *testing.B) {
	s, _ := benchSuite(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	opts := Options{Cryptosuite: ECDSARDFC2019, VerificationMethod: benchVM, Created: benchCreated}
	loop(b, func() error {
		_, err := s.Sign(context.Background(), benchCredential, key, opts)
		return err
	})
}

func BenchmarkVerifyEdDSARDFC2022(b *testing.B) {
	s, _ := benchSuite(b)
	key := benchKey()
	signed, err := s.Sign(context.Background(), benchCredential, key, Options{Cryptosuite: EdDSARDFC2022, VerificationMethod: benchVM, Created: benchCreated})
	if err != nil {
		b.Fatal(err)
	}
	resolve := staticKey(benchVM, key.Public().(crypto.PublicKey))
	opts := VerifyOptions{Now: benchCreated.Add(time.Hour)}
	loop(b, func() error {
		_, err := s.Verify(context.Background(), signed, resolve, opts)
		return err
	})
}

// TestAriesSignerWorks: the benchmark's aries side produces a real
// Ed25519Signature2020 proof over the same credential.
func TestAriesSignerWorks(t *testing.T) {
	_, l := benchSuite(t)
	a, err := ariesld.NewEd25519Signature2020(benchKey(), l)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Sign(benchCredential, benchVM, benchCreated)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Proof []struct {
			Type, ProofValue, VerificationMethod string
		} `json:"proof"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Proof) != 1 || m.Proof[0].Type != "Ed25519Signature2020" || len(m.Proof[0].ProofValue) < 80 || m.Proof[0].VerificationMethod != benchVM {
		t.Fatalf("aries proof %+v", m.Proof)
	}
}
