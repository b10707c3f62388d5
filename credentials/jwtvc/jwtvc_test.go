package jwtvc

import (
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/internal/keys"
)

const issuer = "did:medid:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func key(t testing.TB, a keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(a)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rotating is an issuer that rotated #key-1 from old to new at rotation.
func rotating(old, new *keys.PrivateKey, rotation time.Time) KeyResolver {
	return func(_ context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
		if iss != issuer || kid != issuer+"#key-1" {
			return nil, errors.New("unknown key")
		}
		if at.Before(rotation) {
			return old.Public(), nil
		}
		return new.Public(), nil
	}
}

func vc11() map[string]any {
	return map[string]any{"@context": []any{"https://www.w3.org/2018/credentials/v1"},
		"type":              []any{"VerifiableCredential", "PatientIdentityCredential"},
		"credentialSubject": map[string]any{"id": "did:jwk:abc", "given_name": "Ada"}}
}

func vc20() map[string]any {
	return map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type":              []any{"VerifiableCredential", "PatientIdentityCredential"},
		"credentialSubject": map[string]any{"id": "did:jwk:abc", "given_name": "Ada"}}
}

func opts(k *keys.PrivateKey) IssueOptions {
	return IssueOptions{Issuer: issuer, KID: issuer + "#key-1", Key: k, IssuedAt: t0, ValidFrom: t0,
		ValidUntil: t0.Add(365 * 24 * time.Hour), ID: "urn:uuid:1", HolderJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"AA"}`)}
}

func TestRoundTripBothFormats(t *testing.T) {
	for _, a := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		k := key(t, a)
		vo := VerifyOptions{Key: rotating(k, k, t0), Now: func() time.Time { return t0.Add(time.Hour) }}
		j1, err := IssueJWTVCJSON(vc11(), opts(k))
		if err != nil {
			t.Fatal(err)
		}
		v, err := Verify(context.Background(), j1, vo)
		if err != nil || v.Format != JWTVCJSON || v.Issuer != issuer || v.Credential["id"] != "urn:uuid:1" || v.HolderJWK == nil {
			t.Fatalf("%s jwt_vc_json: %v %+v", a, err, v)
		}
		j2, err := IssueVCJWT(vc20(), opts(k))
		if err != nil {
			t.Fatal(err)
		}
		v, err = Verify(context.Background(), j2, vo)
		if err != nil || v.Format != VCJWT || !v.ValidUntil.Equal(t0.Add(365*24*time.Hour)) {
			t.Fatalf("%s vc+jwt: %v %+v", a, err, v)
		}
		if v.Credential["credentialSubject"].(map[string]any)["given_name"] != "Ada" {
			t.Fatal("claims lost")
		}
	}
}

// A credential signed before a key rotation verifies as of its issuance
// time; one signed with the old key after the rotation does not.
func TestKeyRotation(t *testing.T) {
	old, nw := key(t, keys.ES256), key(t, keys.ES256)
	rotation := t0.Add(24 * time.Hour)
	vo := VerifyOptions{Key: rotating(old, nw, rotation), Now: func() time.Time { return t0.Add(48 * time.Hour) }}
	before, _ := IssueVCJWT(vc20(), opts(old))
	if _, err := Verify(context.Background(), before, vo); err != nil {
		t.Fatalf("pre-rotation credential: %v", err)
	}
	late := opts(old)
	late.IssuedAt = rotation.Add(time.Hour)
	after, _ := IssueVCJWT(vc20(), late)
	if _, err := Verify(context.Background(), after, vo); !errors.Is(err, ErrSignature) {
		t.Fatalf("old key after rotation: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	k := key(t, keys.ES256)
	good, _ := IssueVCJWT(vc20(), opts(k))
	parts := strings.Split(good, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	now := func(d time.Duration) VerifyOptions {
		return VerifyOptions{Key: rotating(k, k, t0), Now: func() time.Time { return t0.Add(d) }}
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	otherIssuer := opts(k)
	otherIssuer.Issuer, otherIssuer.KID = "did:example:other", "did:example:other#key-1"
	foreign, _ := IssueVCJWT(vc20(), otherIssuer)
	for _, tc := range []struct {
		name  string
		token string
		vo    VerifyOptions
		want  error
	}{
		{"alg none", b64(`{"alg":"none","typ":"vc+jwt","kid":"`+issuer+`#key-1"}`) + "." + parts[1] + ".", now(0), ErrAlgorithm},
		{"HS256", b64(`{"alg":"HS256","typ":"vc+jwt","kid":"`+issuer+`#key-1"}`) + "." + parts[1] + "." + parts[2], now(0), ErrAlgorithm},
		{"wrong typ", b64(`{"alg":"ES256","typ":"dc+sd-jwt","kid":"`+issuer+`#key-1"}`) + "." + parts[1] + "." + parts[2], now(0), ErrTyp},
		{"tampered", parts[0] + "." + b64(strings.Replace(string(payload), "Ada", "Eve", 1)) + "." + parts[2], now(0), ErrSignature},
		{"expired", good, now(400 * 24 * time.Hour), ErrExpired},
		{"not yet valid", good, now(-time.Hour), ErrNotYetValid},
		{"foreign issuer", foreign, now(0), ErrSignature},
		{"kid of another DID", b64(`{"alg":"ES256","typ":"vc+jwt","kid":"did:example:x#1"}`) + "." + parts[1] + "." + parts[2], now(0), ErrIssuer},
		{"too large", strings.Repeat("a", MaxSize+1), now(0), ErrTooLarge},
		{"garbage", "a.b.c", now(0), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Verify(context.Background(), tc.token, tc.vo); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := keys.Generate(keys.ES256)
	good, _ := IssueVCJWT(vc20(), opts(k))
	f.Add(good)
	f.Add("a.b.c")
	f.Add("")
	vo := VerifyOptions{Key: rotating(k, k, t0), Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Verify(context.Background(), s, vo)
		if err == nil && v.Issuer != issuer {
			t.Fatalf("verified a credential of %q", v.Issuer)
		}
	})
}

// TestMediaType: typ values are media types (RFC 7515 §4.1.9), compared
// case-insensitively with "application/" implied.
func TestMediaType(t *testing.T) {
	for in, want := range map[string]string{"vc+jwt": "application/vc+jwt", "application/vc+jwt": "application/vc+jwt",
		"VC+JWT": "application/vc+jwt", "JWT": "application/jwt", "jwt": "application/jwt", "": "", "dc+sd-jwt": "application/dc+sd-jwt"} {
		if got := mediaType(in); got != want {
			t.Errorf("mediaType(%q) = %q, want %q", in, got, want)
		}
	}
}
