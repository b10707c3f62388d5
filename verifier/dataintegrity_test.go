package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier"
)

// diSuite is credentials/dataintegrity over the bundled contexts and the
// health context of the test issuer.
func diSuite(t testing.TB) *dataintegrity.Suite {
	t.Helper()
	l, err := jsonld.NewLoader(jsonld.HealthContext(vctBase))
	if err != nil {
		t.Fatal(err)
	}
	return dataintegrity.New(l)
}

// diHook adapts credentials/dataintegrity to Options.DataIntegrity: this
// is the wiring the server needs.
func diHook(s *dataintegrity.Suite) verifier.DataIntegrityFunc {
	return func(ctx context.Context, doc []byte, resolve verifier.DataIntegrityKeyResolver, purpose, challenge, domain string, now time.Time) (*verifier.DataIntegrityProof, error) {
		v, err := s.Verify(ctx, doc, dataintegrity.KeyResolver(resolve),
			dataintegrity.VerifyOptions{Purpose: purpose, Challenge: challenge, Domain: domain, Now: now})
		if errors.Is(err, dataintegrity.ErrChallenge) || errors.Is(err, dataintegrity.ErrDomain) {
			return nil, fmt.Errorf("%w: %w", verifier.ErrHolderBinding, err)
		}
		if err != nil {
			return nil, err
		}
		return &verifier.DataIntegrityProof{VerificationMethod: v.Proof.VerificationMethod, Cryptosuite: v.Proof.Cryptosuite, Created: v.Proof.Created}, nil
	}
}

func diCredential(t *testing.T, s *dataintegrity.Suite, issuer party, subject string, claims map[string]any) json.RawMessage {
	t.Helper()
	cs := map[string]any{"id": subject}
	for k, v := range claims {
		cs[k] = v
	}
	doc, _ := json.Marshal(map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2", vctBase + health.ContextPath},
		"type":              []any{"VerifiableCredential", health.TypePatientIdentity},
		"issuer":            issuer.did,
		"validFrom":         t0.Format(time.RFC3339),
		"validUntil":        t0.Add(365 * 24 * time.Hour).Format(time.RFC3339),
		"credentialSubject": cs,
	})
	suite := dataintegrity.EdDSARDFC2022
	if issuer.key.Algorithm() == keys.ES256 {
		suite = dataintegrity.ECDSARDFC2019
	}
	out, err := s.Sign(ctx, doc, issuer.key.Signer(), dataintegrity.Options{Cryptosuite: suite, VerificationMethod: issuer.kid, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDataIntegrity(t *testing.T) {
	s := diSuite(t)
	w := newWorld(t, func(o *verifier.Options) { o.DataIntegrity = diHook(s) })
	holder := newParty(t, keys.EdDSA)
	cred := diCredential(t, s, w.issuer, holder.did, patientClaims())

	vc, err := w.v.VerifyCredential(ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	allPassed(t, vc.Checks())
	if vc.Format() != verifier.FormatLDPVC || vc.Issuer() != w.issuer.did || vc.Subject() != holder.did {
		t.Fatalf("%s %s %s", vc.Format(), vc.Issuer(), vc.Subject())
	}

	// A tampered claim breaks the proof.
	var m map[string]any
	_ = json.Unmarshal(cred, &m)
	m["credentialSubject"].(map[string]any)["given_name"] = "Eve"
	tampered, _ := json.Marshal(m)
	_, err = w.v.VerifyCredential(ctx, tampered)
	verificationError(t, err, verifier.CheckSignature, "signature")

	// A presentation by the holder with our challenge and domain.
	vpDoc, _ := json.Marshal(map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               holder.did,
		"verifiableCredential": []any{json.RawMessage(cred)},
	})
	sign := func(challenge, domain string) json.RawMessage {
		out, err := s.Sign(ctx, vpDoc, holder.key.Signer(), dataintegrity.Options{Cryptosuite: dataintegrity.EdDSARDFC2022,
			VerificationMethod: holder.kid, ProofPurpose: dataintegrity.Authentication, Created: w.clock.Now(), Challenge: challenge, Domain: domain})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	vp, err := w.v.VerifyPresentation(ctx, "ldp_vc", sign(nonce, audience), nonce, audience)
	if err != nil {
		t.Fatal(err)
	}
	allPassed(t, vp.Checks())
	if vp.Holder() != holder.did || len(vp.Credentials()) != 1 {
		t.Fatalf("%s %d", vp.Holder(), len(vp.Credentials()))
	}
	_, err = w.v.VerifyPresentation(ctx, "", sign("stale-challenge", audience), nonce, audience)
	ve := verificationError(t, err, verifier.CheckHolderBinding, "challenge")
	// The proof's signature was not checked, so it is not reported as
	// passed.
	for _, c := range ve.Checks {
		if c.Name == verifier.CheckSignature && (c.OK || !c.Skipped) {
			t.Fatalf("signature reported %+v on a wrong challenge, want not checked", c)
		}
	}
	_, err = w.v.VerifyPresentation(ctx, "", sign(nonce, "https://evil.example"), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "domain")

	// A presentation of someone else's credential.
	other := newParty(t, keys.EdDSA)
	vpDoc, _ = json.Marshal(map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               other.did,
		"verifiableCredential": []any{json.RawMessage(cred)},
	})
	out, err := s.Sign(ctx, vpDoc, other.key.Signer(), dataintegrity.Options{Cryptosuite: dataintegrity.EdDSARDFC2022,
		VerificationMethod: other.kid, ProofPurpose: dataintegrity.Authentication, Created: w.clock.Now(), Challenge: nonce, Domain: audience})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.v.VerifyPresentation(ctx, "", out, nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "bound neither")
}
