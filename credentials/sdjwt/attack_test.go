package sdjwt_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

// fixture is an issued credential and a valid presentation of it.
type fixture struct {
	issuer, holder *keys.PrivateKey
	issued         *sdjwt.Issued
	presentation   string // discloses given_name and address, with KB
	opts           sdjwt.VerifyOptions
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{issuer: newKey(t, keys.ES256), holder: newKey(t, keys.ES256)}
	var err error
	f.issued, err = sdjwt.IssueVC(patient(f.holder.Public()), patientPolicy, sdjwt.IssueOptions{Key: f.issuer})
	if err != nil {
		t.Fatal(err)
	}
	f.presentation = f.present(t, kbOptions(f.holder))
	f.opts = verifyOptions(f.issuer)
	if _, err := sdjwt.Verify(context.Background(), f.presentation, f.opts); err != nil {
		t.Fatalf("the fixture does not verify: %v", err)
	}
	return f
}

func (f *fixture) present(t *testing.T, kb *sdjwt.KeyBindingOptions) string {
	t.Helper()
	p, err := sdjwt.Present(f.issued.Compact(), sdjwt.DisclosePaths([]any{"given_name"}, []any{"address"}), kb)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// split returns the Issuer-signed JWT, the Disclosures and the KB-JWT.
func split(p string) (string, []string, string) {
	parts := strings.Split(p, "~")
	return parts[0], parts[1 : len(parts)-1], parts[len(parts)-1]
}

func join(jwt string, ds []string, kb string) string {
	return jwt + "~" + strings.Join(append(append([]string{}, ds...), ""), "~") + kb
}

// signJWT signs payload with k via jwx, with the extra protected headers.
func signJWT(t *testing.T, k *keys.PrivateKey, hdr map[string]any, payload any) string {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	for name, v := range hdr {
		if err := h.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	alg := jwa.ES256()
	if k.Algorithm() == keys.EdDSA {
		alg = jwa.EdDSA()
	}
	out, err := jws.Sign(body, jws.WithKey(alg, k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// kbJWT signs a Key Binding JWT over sd (which ends with "~") directly,
// without Present's checks.
func kbJWT(t *testing.T, holder *keys.PrivateKey, sd string) string {
	sum := sha256.Sum256([]byte(sd))
	return signJWT(t, holder, map[string]any{"typ": sdjwt.TypKB}, map[string]any{
		"iat": t0.Unix(), "aud": verifierURL, "nonce": "n-0S6_WzA2Mj",
		"sd_hash": base64.RawURLEncoding.EncodeToString(sum[:]),
	})
}

func b64json(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func expectErr(t *testing.T, p string, opts sdjwt.VerifyOptions, want ...error) {
	t.Helper()
	v, err := sdjwt.Verify(context.Background(), p, opts)
	if err == nil {
		t.Fatalf("verified (%v), want %v", v.Claims, want)
	}
	if v != nil {
		t.Error("a failed Verify returned a result")
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not wrap %q", err, w)
		}
	}
}

func TestAttacks(t *testing.T) {
	f := newFixture(t)
	jwt, ds, kb := split(f.presentation)
	payload := decodePayload(t, jwt)

	// reissue signs a modified payload with the real issuer key (as a
	// compromised or buggy issuer could), keeping the presented parts.
	reissue := func(t *testing.T, change func(map[string]any), extra []string) string {
		p := map[string]any{}
		for k, v := range payload {
			p[k] = v
		}
		change(p)
		j := signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC}, p)
		out := join(j, append(append([]string{}, ds...), extra...), "")
		return out + kbJWT(t, f.holder, out)
	}

	t.Run("forging helpers produce valid presentations", func(t *testing.T) {
		// So that the attacks below fail for the reason they test.
		if _, err := sdjwt.Verify(context.Background(), reissue(t, func(map[string]any) {}, nil), f.opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("tampered disclosure", func(t *testing.T) {
		// Same salt and name, another value: the digest no longer matches.
		for i := range ds {
			d, err := sdjwt.DecodeDisclosure(ds[i])
			if err != nil {
				t.Fatal(err)
			}
			name, _ := d.Name()
			forged, err := sdjwt.NewDisclosure(d.Salt(), name, "tampered")
			if err != nil {
				t.Fatal(err)
			}
			d2 := append([]string{}, ds...)
			d2[i] = forged.Encoded()
			sd := join(jwt, d2, "")
			// With a KB-JWT over the tampered presentation, so that only
			// the digest check can catch it.
			expectErr(t, sd+kbJWT(t, f.holder, sd), f.opts, sdjwt.ErrDisclosure)
		}
	})
	t.Run("unreferenced disclosure", func(t *testing.T) {
		extra, err := sdjwt.NewDisclosure("c2FsdHNhbHRzYWx0c2FsdA", "diagnosis", "none")
		if err != nil {
			t.Fatal(err)
		}
		expectErr(t, join(jwt, append(append([]string{}, ds...), extra.Encoded()), kb), f.opts, sdjwt.ErrDisclosure)
	})
	t.Run("duplicated disclosure", func(t *testing.T) {
		expectErr(t, join(jwt, append(append([]string{}, ds...), ds[0]), kb), f.opts, sdjwt.ErrDisclosure)
	})
	t.Run("empty disclosure", func(t *testing.T) {
		expectErr(t, join(jwt, append(append([]string{}, ds...), ""), kb), f.opts, sdjwt.ErrMalformed)
	})
	t.Run("wrong nonce", func(t *testing.T) {
		o := f.opts
		o.Nonce = "another"
		expectErr(t, f.presentation, o, sdjwt.ErrNonce, sdjwt.ErrKeyBinding)
	})
	t.Run("wrong aud", func(t *testing.T) {
		o := f.opts
		o.Audience = "https://evil.example"
		expectErr(t, f.presentation, o, sdjwt.ErrAudience, sdjwt.ErrKeyBinding)
	})
	t.Run("stale KB iat", func(t *testing.T) {
		kbo := kbOptions(f.holder)
		kbo.IssuedAt = t0.Add(-time.Hour)
		expectErr(t, f.present(t, kbo), f.opts, sdjwt.ErrKeyBinding, sdjwt.ErrExpired)
	})
	t.Run("future KB iat", func(t *testing.T) {
		kbo := kbOptions(f.holder)
		kbo.IssuedAt = t0.Add(time.Hour)
		expectErr(t, f.present(t, kbo), f.opts, sdjwt.ErrKeyBinding, sdjwt.ErrNotYetValid)
	})
	t.Run("missing KB when required", func(t *testing.T) {
		expectErr(t, join(jwt, ds, ""), f.opts, sdjwt.ErrKeyBinding)
	})
	t.Run("KB present but no nonce configured", func(t *testing.T) {
		o := f.opts
		o.RequireKeyBinding, o.Nonce = false, ""
		expectErr(t, f.presentation, o, sdjwt.ErrKeyBinding)
	})
	t.Run("wrong sd_hash: disclosure dropped", func(t *testing.T) {
		expectErr(t, join(jwt, ds[1:], kb), f.opts, sdjwt.ErrKeyBinding)
	})
	t.Run("wrong sd_hash: KB of another presentation", func(t *testing.T) {
		other, err := sdjwt.Present(f.issued.Compact(), sdjwt.DisclosePaths([]any{"birthdate"}), kbOptions(f.holder))
		if err != nil {
			t.Fatal(err)
		}
		_, _, otherKB := split(other)
		expectErr(t, join(jwt, ds, otherKB), f.opts, sdjwt.ErrKeyBinding)
	})
	t.Run("KB signed by another key", func(t *testing.T) {
		// A KB-JWT with the right claims, signed by someone else.
		thief := newKey(t, keys.ES256)
		kbPayload := decodePayload(t, kb)
		forged := signJWT(t, thief, map[string]any{"typ": sdjwt.TypKB}, kbPayload)
		expectErr(t, join(jwt, ds, forged), f.opts, sdjwt.ErrKeyBinding, sdjwt.ErrSignature)
	})
	t.Run("KB wrong typ", func(t *testing.T) {
		forged := signJWT(t, f.holder, map[string]any{"typ": "JWT"}, decodePayload(t, kb))
		expectErr(t, join(jwt, ds, forged), f.opts, sdjwt.ErrKeyBinding, sdjwt.ErrTyp)
	})
	t.Run("KB alg none", func(t *testing.T) {
		parts := strings.Split(kb, ".")
		none := b64json(t, map[string]any{"alg": "none", "typ": sdjwt.TypKB}) + "." + parts[1] + "."
		expectErr(t, join(jwt, ds, none), f.opts, sdjwt.ErrKeyBinding, sdjwt.ErrAlgorithm)
	})
	t.Run("alg none", func(t *testing.T) {
		parts := strings.Split(jwt, ".")
		none := b64json(t, map[string]any{"alg": "none", "typ": sdjwt.TypVC}) + "." + parts[1] + "."
		expectErr(t, join(none, ds, kb), f.opts, sdjwt.ErrAlgorithm)
	})
	t.Run("HS256 with the public key as secret", func(t *testing.T) {
		for _, secret := range [][]byte{mustJWK(t, f.issuer), []byte(f.issuer.Thumbprint())} {
			h := jws.NewHeaders()
			_ = h.Set(jws.TypeKey, sdjwt.TypVC)
			body := mustB64(t, strings.Split(jwt, ".")[1])
			hs, err := jws.Sign(body, jws.WithKey(jwa.HS256(), secret, jws.WithProtectedHeaders(h)))
			if err != nil {
				t.Fatal(err)
			}
			expectErr(t, join(string(hs), ds, kb), f.opts, sdjwt.ErrAlgorithm)
		}
	})
	t.Run("other issuer key", func(t *testing.T) {
		o := f.opts
		o.IssuerKey = issuerKeyFunc(newKey(t, keys.ES256).Public())
		expectErr(t, f.presentation, o, sdjwt.ErrSignature)
	})
	t.Run("key of the wrong type", func(t *testing.T) {
		o := f.opts
		o.IssuerKey = issuerKeyFunc(newKey(t, keys.EdDSA).Public())
		expectErr(t, f.presentation, o, sdjwt.ErrAlgorithm)
	})
	t.Run("unknown issuer", func(t *testing.T) {
		forged := signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC}, map[string]any{"iss": "https://evil.example"})
		expectErr(t, forged+"~", f.opts, sdjwt.ErrSignature)
	})
	t.Run("tampered payload", func(t *testing.T) {
		parts := strings.Split(jwt, ".")
		p := map[string]any{}
		for k, v := range payload {
			p[k] = v
		}
		p["vct"] = "https://evil.example/vct"
		expectErr(t, join(parts[0]+"."+b64json(t, p)+"."+parts[2], ds, kb), f.opts, sdjwt.ErrSignature)
	})
	t.Run("wrong typ", func(t *testing.T) {
		iss, err := sdjwt.Issue(map[string]any{"iss": issuerURL}, sdjwt.Policy{}, sdjwt.IssueOptions{Key: f.issuer, Typ: "JWT"})
		if err != nil {
			t.Fatal(err)
		}
		o := f.opts
		o.RequireKeyBinding = false
		expectErr(t, iss.Compact(), o, sdjwt.ErrTyp)
	})
	t.Run("expired", func(t *testing.T) {
		o := f.opts
		o.Now = func() time.Time { return t0.Add(2 * 365 * 24 * time.Hour) }
		expectErr(t, f.presentation, o, sdjwt.ErrExpired)
	})
	t.Run("not yet valid", func(t *testing.T) {
		vc := patient(f.holder.Public())
		vc.NotBefore = t0.Add(time.Hour)
		iss, err := sdjwt.IssueVC(vc, sdjwt.Policy{}, sdjwt.IssueOptions{Key: f.issuer})
		if err != nil {
			t.Fatal(err)
		}
		o := f.opts
		o.RequireKeyBinding = false
		expectErr(t, iss.Compact(), o, sdjwt.ErrNotYetValid)
	})
	t.Run("issued in the future", func(t *testing.T) {
		o := f.opts
		o.Now = func() time.Time { return t0.Add(-2 * time.Hour) }
		expectErr(t, f.presentation, o, sdjwt.ErrNotYetValid)
	})
	t.Run("oversize", func(t *testing.T) {
		big := f.presentation + strings.Repeat("A", sdjwt.DefaultMaxLength)
		expectErr(t, big, f.opts, sdjwt.ErrTooLarge)
	})
	t.Run("not an SD-JWT", func(t *testing.T) {
		expectErr(t, jwt, f.opts, sdjwt.ErrMalformed)
		expectErr(t, "", f.opts, sdjwt.ErrMalformed)
		expectErr(t, "~~~", f.opts, sdjwt.ErrMalformed)
	})
	t.Run("disclosure overwrites a claim", func(t *testing.T) {
		evil, err := sdjwt.NewDisclosure("c2FsdHNhbHRzYWx0c2FsdA", "vct", "https://evil.example/vct")
		if err != nil {
			t.Fatal(err)
		}
		p := reissue(t, func(p map[string]any) {
			p["_sd"] = append(append([]any{}, p["_sd"].([]any)...), evil.Digest())
		}, []string{evil.Encoded()})
		expectErr(t, p, f.opts, sdjwt.ErrDisclosure)
	})
	t.Run("two disclosures of one name", func(t *testing.T) {
		evil, err := sdjwt.NewDisclosure("c2FsdHNhbHRzYWx0c2FsdA", "given_name", "Mallory")
		if err != nil {
			t.Fatal(err)
		}
		p := reissue(t, func(p map[string]any) {
			p["_sd"] = append(append([]any{}, p["_sd"].([]any)...), evil.Digest())
		}, []string{evil.Encoded()})
		expectErr(t, p, f.opts, sdjwt.ErrDisclosure)
	})
	t.Run("_sd and ... as disclosed names", func(t *testing.T) {
		for _, name := range []string{"_sd", "..."} {
			enc := base64.RawURLEncoding.EncodeToString([]byte(`["c2FsdHNhbHRzYWx0c2FsdA", "` + name + `", ["x"]]`))
			p := join(signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC},
				map[string]any{"iss": issuerURL, "_sd": []string{sdjwt.Digest(enc)}}), []string{enc}, "")
			o := f.opts
			o.RequireKeyBinding = false
			expectErr(t, p, o, sdjwt.ErrDisclosure)
		}
	})
	t.Run("duplicate digest", func(t *testing.T) {
		p := reissue(t, func(p map[string]any) {
			sd := p["_sd"].([]any)
			p["nested"] = map[string]any{"_sd": []any{sd[0]}}
		}, nil)
		expectErr(t, p, f.opts, sdjwt.ErrDisclosure)
	})
	t.Run("array element disclosure in _sd", func(t *testing.T) {
		el, err := sdjwt.NewArrayElementDisclosure("c2FsdHNhbHRzYWx0c2FsdA", "x")
		if err != nil {
			t.Fatal(err)
		}
		p := join(signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC},
			map[string]any{"iss": issuerURL, "_sd": []string{el.Digest()}}), []string{el.Encoded()}, "")
		o := f.opts
		o.RequireKeyBinding = false
		expectErr(t, p, o, sdjwt.ErrDisclosure)
	})
	t.Run("unsupported _sd_alg", func(t *testing.T) {
		p := join(signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC},
			map[string]any{"iss": issuerURL, "_sd_alg": "sha-512"}), nil, "")
		o := f.opts
		o.RequireKeyBinding = false
		expectErr(t, p, o, sdjwt.ErrAlgorithm)
	})
	t.Run("crit header", func(t *testing.T) {
		p := join(signJWT(t, f.issuer, map[string]any{"typ": sdjwt.TypVC, "crit": []string{"exp"}},
			map[string]any{"iss": issuerURL}), nil, "")
		o := f.opts
		o.RequireKeyBinding = false
		expectErr(t, p, o, sdjwt.ErrMalformed)
	})
	t.Run("duplicate JSON member", func(t *testing.T) {
		parts := strings.Split(jwt, ".")
		body := string(mustB64(t, parts[1]))
		dup := "{\"iss\":\"https://evil.example\"," + body[1:]
		expectErr(t, join(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(dup))+"."+parts[2], ds, kb), f.opts, sdjwt.ErrMalformed)
	})
}

func TestVerifyNeedsOptions(t *testing.T) {
	f := newFixture(t)
	for _, o := range []sdjwt.VerifyOptions{
		{ExpectedTyp: sdjwt.TypVC},
		{IssuerKey: f.opts.IssuerKey},
		{IssuerKey: f.opts.IssuerKey, ExpectedTyp: sdjwt.TypVC, RequireKeyBinding: true},
	} {
		if _, err := sdjwt.Verify(context.Background(), f.presentation, o); err == nil {
			t.Errorf("Verify ran with incomplete options %+v", o)
		}
	}
}
