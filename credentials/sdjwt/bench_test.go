package sdjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// benchVC is a credential of about ten claims.
func benchVC(holder *keys.PrivateKey) sdjwt.VCClaims {
	vc := patient(holder.Public())
	vc.Claims["email"] = "erika@example.org"
	vc.Claims["phone_number"] = "+49 221 1234567"
	return vc
}

// BenchmarkIssueVC issues a 10-claim SD-JWT VC with ES256, every claim
// selectively disclosable; compare with BenchmarkRawES256Sign (target: at
// least a third of its rate).
func BenchmarkIssueVC(b *testing.B) {
	benchIssue(b, sdjwt.Policy{})
}

// BenchmarkIssueVCNested is BenchmarkIssueVC with 7 more Disclosures below
// the top level (address members, identifiers, allergies).
func BenchmarkIssueVCNested(b *testing.B) {
	benchIssue(b, patientPolicy)
}

func benchIssue(b *testing.B, policy sdjwt.Policy) {
	issuer, holder := newKey(b, keys.ES256), newKey(b, keys.ES256)
	vc := benchVC(holder)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.IssueVC(vc, policy, sdjwt.IssueOptions{Key: issuer}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPresentation verifies a presentation with Key Binding
// (two ES256 signatures); compare with twice BenchmarkRawES256Verify
// (target: at least a third of that rate).
func BenchmarkVerifyPresentation(b *testing.B) {
	issuer, holder := newKey(b, keys.ES256), newKey(b, keys.ES256)
	iss, err := sdjwt.IssueVC(benchVC(holder), patientPolicy, sdjwt.IssueOptions{Key: issuer})
	if err != nil {
		b.Fatal(err)
	}
	p, err := sdjwt.Present(iss.Compact(), sdjwt.DisclosePaths(
		[]any{"given_name"}, []any{"family_name"}, []any{"birthdate"}, []any{"address"}, []any{"identifiers", 0},
	), kbOptions(holder))
	if err != nil {
		b.Fatal(err)
	}
	opts := verifyOptions(issuer)
	ctx := context.Background()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Verify(ctx, p, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256Sign is the baseline: crypto/ecdsa on P-256 over SHA-256.
func BenchmarkRawES256Sign(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if _, err := ecdsa.SignASN1(rand.Reader, k, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256Verify is the baseline: crypto/ecdsa on P-256 over
// SHA-256.
func BenchmarkRawES256Verify(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1500)
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("invalid")
		}
	}
}
