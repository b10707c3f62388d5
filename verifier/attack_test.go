package verifier_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/verifier"
)

// Each test here is an attack that must fail, asserting the check that
// catches it and its reason.

// splitJWS returns the decoded header and the raw payload segment of a
// compact JWS (the first component of an SD-JWT).
func splitJWS(t testing.TB, tok string) (map[string]any, string, string) {
	t.Helper()
	jwt, rest, sd := strings.Cut(tok, "~")
	if sd {
		rest = "~" + rest
	}
	parts := strings.Split(jwt, ".")
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	return h, parts[1], rest
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// algNone rewrites the (issuer-signed) JWT of tok with alg none and no
// signature.
func algNone(t testing.TB, tok string) string {
	h, p, rest := splitJWS(t, tok)
	h["alg"] = "none"
	return b64json(h) + "." + p + "." + rest
}

// signJWS re-signs the JWT of tok with alg and key, keeping its header
// members (typ, kid) and payload.
func signJWS(t testing.TB, tok string, alg jwa.SignatureAlgorithm, key any, mutate func(map[string]any)) string {
	t.Helper()
	h, p, rest := splitJWS(t, tok)
	if mutate != nil {
		mutate(h)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	for k, v := range h {
		if k != "alg" {
			_ = hdr.Set(k, v)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + rest
}

// hmacWithPublicKey re-signs the JWT of tok with HS256 keyed with the
// public JWK of p (the key confusion attack).
func hmacWithPublicKey(t testing.TB, tok string, p party) string {
	return signJWS(t, tok, jwa.HS256(), []byte(p.jwk(t)), nil)
}

// resign re-signs the JWT of tok with signer's key, claiming kid.
func resign(t testing.TB, tok string, signer party, kid string) string {
	return signJWS(t, tok, jwa.ES256(), signer.key.Signer(), func(h map[string]any) { h["kid"] = kid })
}

func TestAttackExpired(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{expires: t0.Add(24 * time.Hour)})
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT, validUntil: t0.Add(24 * time.Hour)})
	w.clock.Set(t0.Add(48 * time.Hour))
	_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience)), nonce, audience)
	ve := verificationError(t, err, verifier.CheckValidity, "expired")
	if ve.Has(verifier.CheckSignature) {
		t.Fatal("the signature was fine")
	}
	_, err = w.v.VerifyCredential(ctx, jsonString(jwt))
	verificationError(t, err, verifier.CheckValidity, "expired")
}

func TestAttackNotYetValid(t *testing.T) {
	w := newWorld(t)
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON, validFrom: t0.Add(30 * 24 * time.Hour)})
	_, err := w.v.VerifyCredential(ctx, jsonString(jwt))
	verificationError(t, err, verifier.CheckValidity, "not yet valid")
}

func TestAttackRevoked(t *testing.T) {
	w := newWorld(t)
	sd, idx := w.issueSD(sdOpts{})
	w.status.setToken(idx, 1)
	_, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(w.present(sd, nonce, audience, []any{"given_name"})), nonce, audience)
	verificationError(t, err, verifier.CheckStatus, "revoked")
}

func TestAttackSuspended(t *testing.T) {
	w := newWorld(t)
	sd, idx := w.issueSD(sdOpts{})
	w.status.setToken(idx, 2)
	_, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(w.present(sd, nonce, audience, []any{"given_name"})), nonce, audience)
	verificationError(t, err, verifier.CheckStatus, "suspended")
}

func TestAttackUntrustedIssuer(t *testing.T) {
	w := newWorld(t)
	rogue := newParty(t, keys.ES256)
	sd, _ := w.issueSD(sdOpts{issuer: &rogue, noStatus: true})
	_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.present(sd, nonce, audience)), nonce, audience)
	ve := verificationError(t, err, verifier.CheckIssuerTrust, "not trusted")
	if len(ve.FailedNames()) != 1 {
		t.Fatalf("only issuer_trust should fail: %v", ve.FailedNames())
	}
	// A type no list covers.
	sd, _ = w.issueSD(sdOpts{vct: "https://issuer.example/vct/Other", noStatus: true})
	_, err = w.v.VerifyCredential(ctx, jsonString(sd))
	verificationError(t, err, verifier.CheckIssuerTrust, "no trusted issuers")
}

func TestAttackForgedIssuer(t *testing.T) {
	// A rogue key signs a credential naming the trusted issuer.
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	forged := resign(t, sd, newParty(t, keys.ES256), w.issuer.kid)
	_, err := w.v.VerifyCredential(ctx, jsonString(forged))
	verificationError(t, err, verifier.CheckSignature, "signature")
}

func TestAttackDisclosureNotInSD(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	d, err := sdjwt.NewDisclosure("c2FsdHNhbHRzYWx0", "family_name", "Mallory")
	if err != nil {
		t.Fatal(err)
	}
	p := w.present(sd, "", "", []any{"given_name"}) + d.Encoded() + "~"
	p = w.bind(p)
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(p), nonce, audience)
	verificationError(t, err, verifier.CheckSignature, "disclosure")
}

func TestAttackTamperedDisclosure(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, "", "", []any{"given_name"})
	parts := strings.Split(p, "~")
	// Re-encode the given_name Disclosure with another value.
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(raw), `"Ada"`, `"Eve"`, 1)
	if tampered == string(raw) {
		t.Fatalf("no given_name in %s", raw)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(tampered))
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(w.bind(strings.Join(parts, "~"))), nonce, audience)
	verificationError(t, err, verifier.CheckSignature, "disclosure")
}

func TestAttackDuplicatedDisclosure(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, "", "", []any{"given_name"})
	parts := strings.Split(p, "~")
	dup := parts[0] + "~" + parts[1] + "~" + parts[1] + "~"
	_, err := w.v.VerifyPresentation(ctx, "", jsonString(w.bind(dup)), nonce, audience)
	verificationError(t, err, verifier.CheckSignature, "disclosure")
}

func TestAttackMissingKeyBinding(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, "", "", []any{"given_name"})
	_, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "no key binding jwt")
}

func TestAttackWrongNonce(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, "an-old-nonce", audience, []any{"given_name"})
	_, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "nonce")
}

func TestAttackWrongAudience(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, "https://other-verifier.example", []any{"given_name"})
	_, err := w.v.VerifyPresentation(ctx, "dc+sd-jwt", jsonString(p), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "aud")
}

func TestAttackKeyBindingByAnotherKey(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	p := w.present(sd, nonce, audience, []any{"given_name"})
	last := strings.LastIndexByte(p, '~')
	kb := resign(t, p[last+1:], newParty(t, keys.ES256), "")
	_, err := w.v.VerifyPresentation(ctx, "", jsonString(p[:last+1]+kb), nonce, audience)
	verificationError(t, err, verifier.CheckHolderBinding, "signature")
}

func TestAttackAlgNone(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	_, err := w.v.VerifyCredential(ctx, jsonString(algNone(t, sd)))
	verificationError(t, err, verifier.CheckSignature, `alg "none"`)
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	_, err = w.v.VerifyCredential(ctx, jsonString(algNone(t, jwt)))
	ve := verificationError(t, err, verifier.CheckSignature, "algorithm")
	if !strings.Contains(ve.Reason(verifier.CheckSignature), "none") {
		t.Fatalf("reason %q does not name the algorithm", ve.Reason(verifier.CheckSignature))
	}
}

func TestAttackHMACWithPublicKey(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	_, err := w.v.VerifyCredential(ctx, jsonString(hmacWithPublicKey(t, sd, w.issuer)))
	verificationError(t, err, verifier.CheckSignature, `alg "HS256"`)
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.JWTVCJSON})
	_, err = w.v.VerifyCredential(ctx, jsonString(hmacWithPublicKey(t, jwt, w.issuer)))
	verificationError(t, err, verifier.CheckSignature, "HS256")
}

func TestAttackWrongTyp(t *testing.T) {
	w := newWorld(t)
	// An SD-JWT validly signed by the trusted issuer, but not an SD-JWT VC.
	sd, _ := w.issueSD(sdOpts{typ: "example+sd-jwt"})
	_, err := w.v.VerifyCredential(ctx, jsonString(sd))
	verificationError(t, err, verifier.CheckSignature, "typ")
	// A vc+jwt re-signed by its issuer as a Key Binding JWT.
	jwt, _ := w.issueJWT(jwtOpts{format: jwtvc.VCJWT})
	retyped := signJWS(t, jwt, jwa.ES256(), w.issuer.key.Signer(), func(h map[string]any) { h["typ"] = "kb+jwt" })
	_, err = w.v.VerifyCredential(ctx, jsonString(retyped))
	verificationError(t, err, verifier.CheckSignature, "typ")
}

func TestAttackTokenTooLarge(t *testing.T) {
	w := newWorld(t)
	sd, _ := w.issueSD(sdOpts{})
	huge := sd + strings.Repeat("A", verifier.MaxTokenSize) + "~"
	_, err := w.v.VerifyCredential(ctx, jsonString(huge))
	if !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(huge), nonce, audience)
	if !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("presentation: want ErrTooLarge, got %v", err)
	}
	vp := w.jwtVP([]any{strings.Repeat("x", verifier.MaxTokenSize)}, vpOpts{})
	_, err = w.v.VerifyPresentation(ctx, "", jsonString(vp), nonce, audience)
	if !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("JWT VP: want ErrTooLarge, got %v", err)
	}
}

// bind appends a Key Binding JWT for nonce and audience to an SD-JWT
// presentation ending in "~", as a holder would after tampering with it.
func (w *world) bind(p string) string {
	w.t.Helper()
	sum := sdHash(p)
	payload, _ := json.Marshal(map[string]any{"iat": w.clock.Now().Unix(), "aud": audience, "nonce": nonce, "sd_hash": sum})
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, sdjwt.TypKB)
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), w.holder.key.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		w.t.Fatal(err)
	}
	return p + string(out)
}

func sdHash(p string) string {
	s := sha256.Sum256([]byte(p))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
