package verifier_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/aries-framework-go/pkg/doc/ldcontext/embed"
	"github.com/hyperledger/aries-framework-go/pkg/doc/verifiable"
	"github.com/hyperledger/aries-framework-go/pkg/kms"
	"github.com/piprate/json-gold/ld"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
)

// The benchmarks compare, in one run, verification by the core with its
// baselines:
//
//   - BenchmarkVerifySDJWTPresentation (an SD-JWT VC presentation with a
//     Key Binding JWT, five disclosures, a cached Token Status List, every
//     check) against BenchmarkRawES256Verify (one crypto/ecdsa P-256
//     verification); the target is at least a third of the raw rate
//     (BenchmarkVerifySDJWTPresentationPaired measures both alternately in
//     one loop, which a loaded machine disturbs less);
//   - BenchmarkVerifyJWTVC (the core's VerifyCredential on a jwt_vc_json
//     credential: signature, validity, schema, trust) against
//     BenchmarkAriesParseCredential (aries-framework-go's
//     verifiable.ParseCredential on the same token, with its proof check
//     and an offline JSON-LD document loader).

func BenchmarkVerifySDJWTPresentation(b *testing.B) {
	w := newWorld(b)
	sd, _ := w.issueSD(sdOpts{})
	p := jsonString(w.present(sd, nonce, audience, []any{"given_name"}, []any{"family_name"}, []any{"birthdate"},
		[]any{"gender"}, []any{"identifiers"}))
	if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", p, nonce, audience); err != nil {
		b.Fatal(err) // also warms the status list and key caches
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", p, nonce, audience); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySDJWTPresentationPaired measures, in the same loop and
// alternately, one verification as in BenchmarkVerifySDJWTPresentation and
// one raw verification as in BenchmarkRawES256Verify, so that both see the
// same machine load. It
// reports the verification rate as a fraction of the raw rate
// ("verify/raw-verify", the target being at least 0.33) and each one's
// mean time; ns/op is the time of the pair.
func BenchmarkVerifySDJWTPresentationPaired(b *testing.B) {
	w := newWorld(b)
	sd, _ := w.issueSD(sdOpts{})
	p := jsonString(w.present(sd, nonce, audience, []any{"given_name"}, []any{"family_name"}, []any{"birthdate"},
		[]any{"gender"}, []any{"identifiers"}))
	if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", p, nonce, audience); err != nil {
		b.Fatal(err)
	}
	k, msg, sig := rawES256Signed(b)
	var verify, raw time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", p, nonce, audience); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("invalid")
		}
		t2 := time.Now()
		verify += t1.Sub(t0)
		raw += t2.Sub(t1)
		n++
	}
	if n == 0 || verify <= 0 {
		return
	}
	// Rates are 1/time, so the ratio of rates is the inverse ratio of times.
	b.ReportMetric(float64(raw)/float64(verify), "verify/raw-verify")
	b.ReportMetric(float64(verify.Nanoseconds())/float64(n), "verify-ns")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(n), "raw-verify-ns")
}

// BenchmarkRawES256Verify is the baseline: crypto/ecdsa on P-256 over
// SHA-256 of a 1500-byte message.
func BenchmarkRawES256Verify(b *testing.B) {
	k, msg, sig := rawES256Signed(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("invalid")
		}
	}
}

// rawES256Signed returns the raw baseline's key, its 1500-byte message and
// the message's ES256 signature.
func rawES256Signed(b *testing.B) (*ecdsa.PrivateKey, []byte, []byte) {
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
	return k, msg, sig
}

// jwtVCForComparison is a jwt_vc_json patient credential (VCDM 1.1, the
// model aries-framework-go v0.3.2 parses) without a status entry.
func jwtVCForComparison(b *testing.B) (*world, string) {
	w := newWorld(b)
	tok, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	return w, tok
}

func BenchmarkVerifyJWTVC(b *testing.B) {
	w, tok := jwtVCForComparison(b)
	raw := jsonString(tok)
	if _, err := w.v.VerifyCredential(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := w.v.VerifyCredential(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// offlineLoader is a JSON-LD document loader over embedded contexts: the
// ones aries-framework-go ships and medid's health context. It never
// touches the network.
type offlineLoader map[string]*ld.RemoteDocument

func newOfflineLoader(b *testing.B) offlineLoader {
	l := offlineLoader{}
	add := func(url string, content []byte) {
		doc, err := ld.DocumentFromReader(bytes.NewReader(content))
		if err != nil {
			b.Fatalf("context %s: %v", url, err)
		}
		l[url] = &ld.RemoteDocument{DocumentURL: url, Document: doc}
	}
	for _, c := range embed.Contexts {
		add(c.URL, c.Content)
	}
	add(vctBase+health.ContextPath, health.JSONLDContext())
	return l
}

func (l offlineLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if d, ok := l[u]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("offline loader: no context %s", u)
}

func BenchmarkAriesParseCredential(b *testing.B) {
	w, tok := jwtVCForComparison(b)
	pub, ok := w.issuer.key.Public().(*ecdsa.PublicKey)
	if !ok {
		b.Fatal("not an ECDSA issuer")
	}
	ecdh, err := pub.ECDH()
	if err != nil {
		b.Fatal(err)
	}
	opts := []verifiable.CredentialOpt{
		verifiable.WithPublicKeyFetcher(verifiable.SingleKey(ecdh.Bytes(), string(kms.ECDSAP256TypeIEEEP1363))),
		verifiable.WithJSONLDDocumentLoader(newOfflineLoader(b)),
	}
	if _, err := verifiable.ParseCredential([]byte(tok), opts...); err != nil {
		b.Fatal(err)
	}
	// The proof check is real: a credential signed by another key fails.
	other, _ := jwtVCForComparison(b)
	forged, _ := other.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	if _, err := verifiable.ParseCredential([]byte(forged), opts...); err == nil {
		b.Fatal("aries accepted a credential signed by another key")
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := verifiable.ParseCredential([]byte(tok), opts...); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process CPU time per operation as cpu-ns/op; call
// the function it returns after the loop.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if d := cpuTime() - start; d > 0 && b.N > 0 {
			b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
