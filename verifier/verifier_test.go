package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier"
)

var ctx = context.Background()

// allPassed asserts that every check of every target passed, and that
// each check of a credential was reported once.
func allPassed(t *testing.T, checks []verifier.Check) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range checks {
		if !c.OK {
			t.Fatalf("check %s (%s) failed: %s", c.Name, c.Target, c.Reason)
		}
		k := c.Target + "/" + string(c.Name)
		if seen[k] {
			t.Fatalf("check %s reported twice", k)
		}
		seen[k] = true
	}
}

func checkNames(checks []verifier.Check, target string) []verifier.CheckName {
	var out []verifier.CheckName
	for _, c := range checks {
		if c.Target == target {
			out = append(out, c.Name)
		}
	}
	return out
}

var everyCheck = []verifier.CheckName{verifier.CheckSignature, verifier.CheckValidity, verifier.CheckStatus,
	verifier.CheckSchema, verifier.CheckIssuerTrust, verifier.CheckHolderBinding}

func TestSDJWTPresentation(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, audience, []any{"given_name"}, []any{"birthdate"})
	vp, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience)
	if err != nil {
		t.Fatal(err)
	}
	allPassed(t, vp.Checks())
	if got := checkNames(vp.Checks(), "presentation"); !slices.Equal(got, everyCheck) {
		t.Fatalf("checks %v, want %v", got, everyCheck)
	}
	creds := vp.Credentials()
	if len(creds) != 1 {
		t.Fatalf("%d credentials", len(creds))
	}
	vc := creds[0]
	if vc.Format() != verifier.FormatSDJWTVC || vc.Issuer() != w.issuer.did || !vc.KeyBound() || vc.Status() != verifier.StatusValid {
		t.Fatalf("verified: %v %s %v %s", vc.Format(), vc.Issuer(), vc.KeyBound(), vc.Status())
	}
	if !slices.Equal(vc.Types(), []string{vctOf(health.TypePatientIdentity)}) {
		t.Fatalf("types %v", vc.Types())
	}
	// Only what was disclosed, plus the never-disclosable claim.
	if got := vc.ClaimNames(); !slices.Equal(got, []string{"assurance_level", "birthdate", "given_name"}) {
		t.Fatalf("claims %v", got)
	}
	if g, _ := vc.Claim("given_name"); g != "Ada" {
		t.Fatalf("given_name %v", g)
	}
	if !vc.IssuedAt().Equal(t0) || !vc.ValidUntil().Equal(t0.Add(365*24*time.Hour)) {
		t.Fatalf("times %v %v", vc.IssuedAt(), vc.ValidUntil())
	}
	if vp.HolderKey() == nil || vc.Holder() == nil {
		t.Fatal("no holder key")
	}
	// The claims handed out are copies.
	vc.Claims()["given_name"] = "Eve"
	if g, _ := vc.Claim("given_name"); g != "Ada" {
		t.Fatal("Claims() exposes the verified claims")
	}
	// Auto-detected format and the enveloped form verify too.
	if _, err := w.v.VerifyPresentation(ctx, "", envelope("EnvelopedVerifiablePresentation", "dc+sd-jwt", p), nonce, audience); err != nil {
		t.Fatal(err)
	}
	if _, err := w.v.VerifyPresentation(ctx, "jwt_vc_json", jsonString(p), nonce, audience); !errors.Is(err, verifier.ErrMalformed) {
		t.Fatalf("format mismatch: %v", err)
	}
}

func TestCredentialFormats(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	jwt11, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON, status: bitstring.Revocation})
	jwt20, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT, status: bitstring.Suspension})
	for name, tc := range map[string]struct {
		raw    json.RawMessage
		format verifier.Format
	}{
		"dc+sd-jwt string":    {jsonString(sd), verifier.FormatSDJWTVC},
		"dc+sd-jwt envelope":  {envelope("EnvelopedVerifiableCredential", "dc+sd-jwt", sd), verifier.FormatSDJWTVC},
		"jwt_vc_json string":  {jsonString(jwt11), verifier.FormatJWTVCJSON},
		"jwt_vc_json as jwt":  {envelope("EnvelopedVerifiableCredential", "jwt", jwt11), verifier.FormatJWTVCJSON},
		"vc+jwt string":       {jsonString(jwt20), verifier.FormatVCJWT},
		"vc+jwt envelope":     {envelope("EnvelopedVerifiableCredential", "vc+jwt", jwt20), verifier.FormatVCJWT},
		"percent-encoded URL": {envelope("EnvelopedVerifiableCredential", "vc+jwt", strings.ReplaceAll(jwt20, ".", "%2E")), verifier.FormatVCJWT},
	} {
		t.Run(name, func(t *testing.T) {
			vc, err := w.v.VerifyCredential(ctx, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			allPassed(t, vc.Checks())
			if got := checkNames(vc.Checks(), "credential"); !slices.Equal(got, everyCheck) {
				t.Fatalf("checks %v", got)
			}
			if vc.Format() != tc.format || vc.Issuer() != w.issuer.did || vc.KeyBound() {
				t.Fatalf("%s %s %v", vc.Format(), vc.Issuer(), vc.KeyBound())
			}
			if tc.format != verifier.FormatSDJWTVC {
				if vc.Subject() != w.holder.did || !slices.Equal(vc.Types(), []string{health.TypePatientIdentity}) || vc.Status() != verifier.StatusValid {
					t.Fatalf("%s %v %s", vc.Subject(), vc.Types(), vc.Status())
				}
				if _, ok := vc.Claim("id"); ok {
					t.Fatal("credentialSubject.id among the claims")
				}
			}
		})
	}
	// A vc+jwt envelope around a jwt_vc_json token is refused.
	_, err := w.v.VerifyCredential(ctx, envelope("EnvelopedVerifiableCredential", "vc+jwt", jwt11))
	verificationError(t, err, verifier.CheckSignature, "envelope")
}

func TestJWTPresentation(t *testing.T) {
	w := newWorld(t)
	jwt11, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	jwt20, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT, status: bitstring.Revocation})
	vpTok := w.jwtVP([]any{jwt11, envelope("EnvelopedVerifiableCredential", "vc+jwt", jwt20)}, vpOpts{aud: []any{"other", audience}})
	for _, raw := range []json.RawMessage{jsonString(vpTok), envelope("EnvelopedVerifiablePresentation", "vp+jwt", vpTok)} {
		vp, err := w.v.VerifyPresentation(ctx, "", raw, nonce, audience)
		if err != nil {
			t.Fatal(err)
		}
		allPassed(t, vp.Checks())
		if vp.Holder() != w.holder.did || vp.Format() != verifier.FormatJWTVCJSON || len(vp.Credentials()) != 2 {
			t.Fatalf("%s %s %d", vp.Holder(), vp.Format(), len(vp.Credentials()))
		}
		for i, target := range []string{"presentation", "verifiableCredential[0]", "verifiableCredential[1]"} {
			want := everyCheck
			if i == 0 {
				want = []verifier.CheckName{verifier.CheckSignature, verifier.CheckValidity, verifier.CheckHolderBinding}
			}
			if got := checkNames(vp.Checks(), target); !slices.Equal(got, want) {
				t.Fatalf("%s: %v", target, got)
			}
		}
	}
}

func TestJWTPresentationOfAnotherHoldersCredential(t *testing.T) {
	w := newWorld(t)
	other := newParty(t, keys.ES256)
	cred, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON, subject: other.did})
	_, err := w.v.VerifyPresentation(ctx, "jwt_vc_json", jsonString(w.jwtVP([]any{cred}, vpOpts{})), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "bound neither")
}

func TestJWTPresentationAttacks(t *testing.T) {
	w := newWorld(t)
	cred, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	for name, tc := range map[string]struct {
		vp    string
		check verifier.CheckName
		want  string
	}{
		"wrong nonce":       {w.jwtVP([]any{cred}, vpOpts{nonce: "another"}), verifier.CheckHolderBinding, "nonce"},
		"no nonce":          {w.jwtVP([]any{cred}, vpOpts{noNonce: true}), verifier.CheckHolderBinding, "nonce"},
		"wrong audience":    {w.jwtVP([]any{cred}, vpOpts{aud: "https://evil.example"}), verifier.CheckHolderBinding, "aud"},
		"stale":             {w.jwtVP([]any{cred}, vpOpts{iat: w.clock.Now().Add(-time.Hour)}), verifier.CheckValidity, "older"},
		"future":            {w.jwtVP([]any{cred}, vpOpts{iat: w.clock.Now().Add(time.Hour)}), verifier.CheckValidity, "future"},
		"wrong typ":         {w.jwtVP([]any{cred}, vpOpts{typ: "kb+jwt"}), verifier.CheckSignature, "typ"},
		"alg none":          {algNone(t, w.jwtVP([]any{cred}, vpOpts{})), verifier.CheckSignature, "alg"},
		"hmac public key":   {hmacWithPublicKey(t, w.jwtVP([]any{cred}, vpOpts{}), w.holder), verifier.CheckSignature, "alg"},
		"holder mismatch":   {w.jwtVP([]any{cred}, vpOpts{holderID: "did:web:someone.example"}), verifier.CheckSignature, "holder"},
		"signed by another": {resign(t, w.jwtVP([]any{cred}, vpOpts{}), newParty(t, keys.ES256), w.holder.kid), verifier.CheckSignature, "signature"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.v.VerifyPresentation(ctx, "", jsonString(tc.vp), nonce, audience)
			verificationError(t, err, tc.check, tc.want)
		})
	}
}

func TestSchemaOfDisclosedClaims(t *testing.T) {
	w := newWorld(t)
	// A presentation that discloses nothing selectively still passes: the
	// never-disclosable claims are there.
	sd, _ := w.issueSD(sdOpts{})
	if _, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience)), nonce, audience); err != nil {
		t.Fatal(err)
	}
	// A never-disclosable claim the issuer left out fails.
	c := patientClaims()
	delete(c, "assurance_level")
	sd, _ = w.issueSD(sdOpts{claims: c})
	_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience, []any{"given_name"})), nonce, audience)
	verificationError(t, err, verifier.CheckSchema, "assurance_level: required")
	// A disclosed claim with a malformed value fails.
	c = patientClaims()
	c["birthdate"] = "10/12/1990"
	sd, _ = w.issueSD(sdOpts{claims: c})
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience, []any{"birthdate"})), nonce, audience)
	ve := verificationError(t, err, verifier.CheckSchema, "birthdate")
	if strings.Contains(ve.Error(), "10/12/1990") {
		t.Fatal("the reason quotes the claim value")
	}
	// ... but not when it stays undisclosed.
	if _, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience, []any{"given_name"})), nonce, audience); err != nil {
		t.Fatal(err)
	}
	// An unknown claim fails.
	c = patientClaims()
	c["favourite_colour"] = "blue"
	sd, _ = w.issueSD(sdOpts{claims: c})
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience, []any{"favourite_colour"})), nonce, audience)
	verificationError(t, err, verifier.CheckSchema, "unknown claim")
	// A JWT VC carries every claim, so missing ones fail.
	c = patientClaims()
	delete(c, "identifiers")
	tok, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT, claims: c})
	_, err = w.v.VerifyCredential(ctx, jsonString(tok))
	verificationError(t, err, verifier.CheckSchema, "identifiers")
}

func TestTokenStatusRevokedAndSuspended(t *testing.T) {
	w := newWorld(t)
	revoked, ri := w.issueSD(sdOpts{})
	suspended, si := w.issueSD(sdOpts{})
	w.status.setToken(ri, tokenlist.Invalid)
	w.status.setToken(si, tokenlist.Suspended)
	t.Run("revoked", func(t *testing.T) {
		_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(revoked, nonce, audience)), nonce, audience)
		verificationError(t, err, verifier.CheckStatus, "revoked")
	})
	t.Run("suspended", func(t *testing.T) {
		_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(suspended, nonce, audience)), nonce, audience)
		verificationError(t, err, verifier.CheckStatus, "suspended")
	})
}

func TestBitstringRevokedAndSuspended(t *testing.T) {
	w := newWorld(t)
	revoked, ri := w.issueJWT(jwtOpts{format: jwtvc.VCJWT, status: bitstring.Revocation})
	suspended, si := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON, status: bitstring.Suspension})
	w.status.setBit(bitstring.Revocation, ri)
	w.status.setBit(bitstring.Suspension, si)
	t.Run("revoked", func(t *testing.T) {
		_, err := w.v.VerifyCredential(ctx, jsonString(revoked))
		verificationError(t, err, verifier.CheckStatus, "revoked")
	})
	t.Run("suspended", func(t *testing.T) {
		_, err := w.v.VerifyCredential(ctx, jsonString(suspended))
		verificationError(t, err, verifier.CheckStatus, "suspended")
	})
}

func TestStatusUnreachablePolicy(t *testing.T) {
	closed := newWorld(t)
	sd, _ := closed.issueSD(sdOpts{})
	closed.status.down.Store(true)
	_, err := closed.v.VerifyCredential(ctx, jsonString(sd))
	verificationError(t, err, verifier.CheckStatus, "unreachable")

	open := newWorld(t, func(o *verifier.Options) { o.StatusUnreachable = verifier.FailOpen })
	sd, _ = open.issueSD(sdOpts{})
	open.status.down.Store(true)
	vc, err := open.v.VerifyCredential(ctx, jsonString(sd))
	if err != nil {
		t.Fatal(err)
	}
	if vc.Status() != verifier.StatusUnknown {
		t.Fatalf("status %s", vc.Status())
	}
}

func TestStatusCachedByTTL(t *testing.T) {
	w := newWorld(t)
	sd, idx := w.issueSD(sdOpts{})
	for range 3 {
		if _, err := w.v.VerifyCredential(ctx, jsonString(sd)); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.status.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	w.status.setToken(idx, tokenlist.Invalid)
	if _, err := w.v.VerifyCredential(ctx, jsonString(sd)); err != nil {
		t.Fatalf("within the list's ttl (1 min) the cached list holds: %v", err)
	}
	w.clock.Set(w.clock.Now().Add(2 * time.Minute))
	_, err := w.v.VerifyCredential(ctx, jsonString(sd))
	verificationError(t, err, verifier.CheckStatus, "revoked")
}

func TestCredentialFromAnyIssuer(t *testing.T) {
	w := newWorld(t)
	// An EdDSA issuer with a did:key, trusted for the type.
	other := newParty(t, keys.EdDSA)
	if _, err := w.trust.Set(ctx, vctOf(health.TypePatientIdentity), []string{w.issuer.did, other.did}); err != nil {
		t.Fatal(err)
	}
	sd, _ := w.issueSD(sdOpts{issuer: &other, noStatus: true})
	vc, err := w.v.VerifyCredential(ctx, jsonString(sd))
	if err != nil {
		t.Fatal(err)
	}
	if vc.Issuer() != other.did || vc.Status() != verifier.StatusNone {
		t.Fatalf("%s %s", vc.Issuer(), vc.Status())
	}
}

func TestHTTPNotConfiguredForDataIntegrity(t *testing.T) {
	w := newWorld(t)
	doc := json.RawMessage(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"issuer":"did:web:x.example","credentialSubject":{},"proof":{"type":"DataIntegrityProof"}}`)
	if _, err := w.v.VerifyCredential(ctx, doc); !errors.Is(err, verifier.ErrUnsupported) {
		t.Fatalf("Data Integrity without a hook: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	w := newWorld(t)
	for name, o := range map[string]verifier.Options{
		"no resolver": {Trust: w.trust},
		"no trust":    {Resolver: w.resolver},
		"skew":        {Resolver: w.resolver, Trust: w.trust, Skew: time.Hour},
		"policy":      {Resolver: w.resolver, Trust: w.trust, StatusUnreachable: 7},
	} {
		if _, err := verifier.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
