package sdjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

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

// benchPresentation is an issued 10-claim SD-JWT VC, its holder key and
// the claims a presentation of it discloses: five of them, one of them an
// array element.
func benchPresentation(b *testing.B, policy sdjwt.Policy) (issued string, holder *keys.PrivateKey, disclose func([]any) bool) {
	b.Helper()
	issuer := newKey(b, keys.ES256)
	holder = newKey(b, keys.ES256)
	iss, err := sdjwt.IssueVC(benchVC(holder), policy, sdjwt.IssueOptions{Key: issuer})
	if err != nil {
		b.Fatal(err)
	}
	return iss.Compact(), holder, sdjwt.DisclosePaths(
		[]any{"given_name"}, []any{"family_name"}, []any{"birthdate"}, []any{"address"}, []any{"identifiers", 0},
	)
}

// presentPolicies are the credentials presented: "flat" has every
// top-level claim selectively disclosable (10 Disclosures), "nested" has 7
// more below the top level (address members, identifiers, allergies).
var presentPolicies = []struct {
	name   string
	policy sdjwt.Policy
}{{"flat", sdjwt.Policy{}}, {"nested", patientPolicy}}

// BenchmarkPresentVC builds a presentation of an SD-JWT VC with Key
// Binding (one ES256 signature), as a wallet does for each request;
// compare with BenchmarkRawES256Sign (target: at least a third of its
// rate), or read the ratio off BenchmarkPresentVCVsRawES256Sign.
func BenchmarkPresentVC(b *testing.B) {
	for _, p := range presentPolicies {
		b.Run(p.name, func(b *testing.B) {
			issued, holder, disclose := benchPresentation(b, p.policy)
			kb := kbOptions(holder)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sdjwt.Present(issued, disclose, kb); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPresentVCVsRawES256Sign measures, in the same loop, one
// presentation with Key Binding (as BenchmarkPresentVC) and one raw ES256
// signature (as BenchmarkRawES256Sign), alternately, so that both see the
// same machine load. It reports the presentation rate as a fraction of the
// raw signing rate ("present/raw-sign", the target being at least 0.33)
// and each one's mean time. ns/op is the time of the pair.
func BenchmarkPresentVCVsRawES256Sign(b *testing.B) {
	for _, p := range presentPolicies {
		b.Run(p.name, func(b *testing.B) { benchPresentVsSign(b, p.policy) })
	}
}

func benchPresentVsSign(b *testing.B, policy sdjwt.Policy) {
	issued, holder, disclose := benchPresentation(b, policy)
	kb := kbOptions(holder)
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1500)
	// One of each first, so that neither pays for a first use.
	if _, err := sdjwt.Present(issued, disclose, kb); err != nil {
		b.Fatal(err)
	}
	var present, sign time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := sdjwt.Present(issued, disclose, kb); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		h := sha256.Sum256(msg)
		if _, err := ecdsa.SignASN1(rand.Reader, raw, h[:]); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		present += t1.Sub(t0)
		sign += t2.Sub(t1)
		n++
	}
	if n == 0 || present <= 0 {
		return
	}
	// Rates are 1/time, so the ratio of rates is the inverse ratio of times.
	b.ReportMetric(float64(sign)/float64(present), "present/raw-sign")
	b.ReportMetric(float64(present.Nanoseconds())/float64(n), "present-ns")
	b.ReportMetric(float64(sign.Nanoseconds())/float64(n), "raw-sign-ns")
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
