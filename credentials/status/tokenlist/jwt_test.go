package tokenlist_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/internal/keys"
)

const testURI = "https://example.com/statuslists/1"

var t0 = time.Unix(1686920170, 0)

func mustKey(t testing.TB, alg keys.Algorithm) *keys.PrivateKey {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyFunc trusts k under kid.
func keyFunc(k *keys.PrivateKey, kid string) tokenlist.KeyFunc {
	return func(_ context.Context, alg keys.Algorithm, gotKid string) (crypto.PublicKey, error) {
		if gotKid != kid {
			return nil, errors.New("unknown kid")
		}
		return k.Public(), nil
	}
}

func exampleList(t testing.TB) *tokenlist.List {
	t.Helper()
	l, err := tokenlist.Decode(1, "eNrbuRgAAhcBXQ", 16)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignVerify(t *testing.T) {
	for _, alg := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			k := mustKey(t, alg)
			l := exampleList(t)
			exp := t0.Add(24 * time.Hour)
			tok, err := tokenlist.SignJWT(l, testURI, t0, exp, 12*time.Hour, k, "k1")
			if err != nil {
				t.Fatal(err)
			}
			h := segment(t, tok, 0)
			if h["typ"] != "statuslist+jwt" || h["alg"] != string(alg) || h["kid"] != "k1" {
				t.Errorf("header = %v", h)
			}
			c := segment(t, tok, 1)
			if c["sub"] != testURI || c["iat"] != float64(t0.Unix()) || c["exp"] != float64(exp.Unix()) || c["ttl"] != float64(43200) {
				t.Errorf("claims = %v", c)
			}
			sl, _ := c["status_list"].(map[string]any)
			if sl["bits"] != float64(1) || sl["lst"] == "" {
				t.Errorf("status_list = %v", sl)
			}

			v, err := tokenlist.VerifyJWT(context.Background(), tok, testURI, keyFunc(k, "k1"), t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if v.URI != testURI || !v.IssuedAt.Equal(t0) || !v.ExpiresAt.Equal(exp) || v.TTL != 12*time.Hour || v.Algorithm != alg || v.KeyID != "k1" {
				t.Errorf("Verified = %+v", v)
			}
			if !bytes.Equal(v.List.Bytes(), l.Bytes()) || v.List.Bits() != 1 {
				t.Errorf("list = % x", v.List.Bytes())
			}
		})
	}
}

func TestSignOptionalClaims(t *testing.T) {
	k := mustKey(t, keys.EdDSA)
	tok, err := tokenlist.SignJWT(exampleList(t), testURI, t0, time.Time{}, 0, k, "")
	if err != nil {
		t.Fatal(err)
	}
	if h := segment(t, tok, 0); h["kid"] != nil {
		t.Errorf("kid present: %v", h)
	}
	c := segment(t, tok, 1)
	if _, ok := c["exp"]; ok {
		t.Errorf("exp present: %v", c)
	}
	if _, ok := c["ttl"]; ok {
		t.Errorf("ttl present: %v", c)
	}
	v, err := tokenlist.VerifyJWT(context.Background(), tok, testURI, keyFunc(k, ""), t0.Add(1000*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !v.ExpiresAt.IsZero() || v.TTL != 0 {
		t.Errorf("Verified = %+v", v)
	}
}

func TestSignRefuses(t *testing.T) {
	k := mustKey(t, keys.EdDSA)
	l := exampleList(t)
	for name, sign := range map[string]func() (string, error){
		"nil list":     func() (string, error) { return tokenlist.SignJWT(nil, testURI, t0, time.Time{}, 0, k, "") },
		"relative uri": func() (string, error) { return tokenlist.SignJWT(l, "/statuslists/1", t0, time.Time{}, 0, k, "") },
		"no iat":       func() (string, error) { return tokenlist.SignJWT(l, testURI, time.Time{}, time.Time{}, 0, k, "") },
		"exp <= iat":   func() (string, error) { return tokenlist.SignJWT(l, testURI, t0, t0, 0, k, "") },
		"ttl < 1s":     func() (string, error) { return tokenlist.SignJWT(l, testURI, t0, time.Time{}, time.Millisecond, k, "") },
		"negative ttl": func() (string, error) { return tokenlist.SignJWT(l, testURI, t0, time.Time{}, -time.Second, k, "") },
		"nil key":      func() (string, error) { return tokenlist.SignJWT(l, testURI, t0, time.Time{}, 0, nil, "") },
		"zero key": func() (string, error) {
			return tokenlist.SignJWT(l, testURI, t0, time.Time{}, 0, &keys.PrivateKey{}, "")
		},
	} {
		if _, err := sign(); err == nil {
			t.Errorf("%s: SignJWT succeeded", name)
		}
	}
}

// signEd builds a compact EdDSA JWS over arbitrary header and payload
// bytes, so that tests can sign what SignJWT would never write.
func signEd(k *keys.PrivateKey, header, payload string) string {
	in := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := k.Signer().Sign(nil, []byte(in), crypto.Hash(0))
	if err != nil {
		panic(err)
	}
	return in + "." + b64(sig)
}

const (
	edHeader    = `{"alg":"EdDSA","typ":"statuslist+jwt","kid":"k1"}`
	goodPayload = `{"sub":"https://example.com/statuslists/1","iat":1686920170,"exp":2291720170,"ttl":43200,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`
)

func TestVerifyChecks(t *testing.T) {
	k := mustKey(t, keys.EdDSA)
	other := mustKey(t, keys.EdDSA)
	es := mustKey(t, keys.ES256)
	kf := keyFunc(k, "k1")
	now := t0.Add(time.Hour)
	good := signEd(k, edHeader, goodPayload)
	if _, err := tokenlist.VerifyJWT(context.Background(), good, testURI, kf, now); err != nil {
		t.Fatalf("good token: %v", err)
	}
	withClaims := func(p string) string { return signEd(k, edHeader, p) }
	withHeader := func(h string) string { return signEd(k, h, goodPayload) }
	parts := strings.Split(good, ".")

	invalid := map[string]string{
		"sub differs":        withClaims(strings.Replace(goodPayload, "lists/1", "lists/2", 1)),
		"sub missing":        withClaims(`{"iat":1686920170,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"sub null":           withClaims(`{"sub":null,"iat":1686920170,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"iat missing":        withClaims(`{"sub":"https://example.com/statuslists/1","status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"iat string":         withClaims(`{"sub":"https://example.com/statuslists/1","iat":"1686920170","status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"iat null":           withClaims(`{"sub":"https://example.com/statuslists/1","iat":null,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"iat in the future":  withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686930000,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"nbf in the future":  withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"nbf":1686930000,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"ttl zero":           withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"ttl":0,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"ttl negative":       withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"ttl":-5,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"ttl string":         withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"ttl":"5","status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"status_list absent": withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170}`),
		"bits missing":       withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"lst":"eNrbuRgAAhcBXQ"}}`),
		"bits 3":             withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"bits":3,"lst":"eNrbuRgAAhcBXQ"}}`),
		"bits string":        withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"bits":"1","lst":"eNrbuRgAAhcBXQ"}}`),
		"lst broken":         withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXR"}}`),
		"lst a bomb":         withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"bits":8,"lst":"` + b64(zlibOf(make([]byte, tokenlist.MaxEntries+1))) + `"}}`),
		"claims not object":  withClaims(`["sub"]`),
		"trailing claims":    withClaims(goodPayload + `}`),
		"typ missing":        withHeader(`{"alg":"EdDSA","kid":"k1"}`),
		"typ JWT":            withHeader(`{"alg":"EdDSA","typ":"JWT","kid":"k1"}`),
		"typ other+jwt":      withHeader(`{"alg":"EdDSA","typ":"example+jwt","kid":"k1"}`),
		"crit":               withHeader(`{"alg":"EdDSA","typ":"statuslist+jwt","kid":"k1","crit":["exp"],"exp":1}`),
		"b64 false":          withHeader(`{"alg":"EdDSA","typ":"statuslist+jwt","kid":"k1","b64":false}`),
		"alg none":           b64([]byte(`{"alg":"none","typ":"statuslist+jwt","kid":"k1"}`)) + "." + parts[1] + ".",
		"alg HS256":          b64([]byte(`{"alg":"HS256","typ":"statuslist+jwt","kid":"k1"}`)) + "." + parts[1] + "." + parts[2],
		"alg ES256, Ed key":  withHeader(`{"alg":"ES256","typ":"statuslist+jwt","kid":"k1"}`),
		"header not b64url":  "e30=." + parts[1] + "." + parts[2],
		"tampered payload":   parts[0] + "." + b64([]byte(strings.Replace(goodPayload, `"bits":1`, `"bits":2`, 1))) + "." + parts[2],
		"other signer":       signEd(other, edHeader, goodPayload),
		"two parts":          parts[0] + "." + parts[1],
		"four parts":         good + ".x",
		"empty":              "",
		"JSON serialization": `{"payload":"` + parts[1] + `","signatures":[]}`,
		"too large":          strings.Repeat("a", tokenlist.MaxTokenSize+1),
	}
	for name, tok := range invalid {
		_, err := tokenlist.VerifyJWT(context.Background(), tok, testURI, kf, now)
		if !errors.Is(err, tokenlist.ErrInvalidToken) {
			t.Errorf("%s: VerifyJWT = %v, want ErrInvalidToken", name, err)
		}
	}

	// Accepted variants.
	for name, tok := range map[string]string{
		"typ with application/":    withHeader(`{"alg":"EdDSA","typ":"application/statuslist+jwt","kid":"k1"}`),
		"typ in capitals":          withHeader(`{"alg":"EdDSA","typ":"Statuslist+JWT","kid":"k1"}`),
		"fractional dates":         withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686920170.5,"exp":2291720170.25,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"iat within leeway":        withClaims(`{"sub":"https://example.com/statuslists/1","iat":1686923800,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"}}`),
		"extra claims and headers": signEd(k, `{"alg":"EdDSA","typ":"statuslist+jwt","kid":"k1","x5c":["bm90IHVzZWQ"]}`, `{"iss":"https://example.com","aggregation_uri":"x","sub":"https://example.com/statuslists/1","iat":1686920170,"status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ","aggregation_uri":"https://example.com/agg"}}`),
	} {
		if _, err := tokenlist.VerifyJWT(context.Background(), tok, testURI, kf, now); err != nil {
			t.Errorf("%s: VerifyJWT = %v", name, err)
		}
	}

	// Expiry: refused from exp+Leeway on, with ErrExpired.
	exp := time.Unix(2291720170, 0)
	if _, err := tokenlist.VerifyJWT(context.Background(), good, testURI, kf, exp.Add(tokenlist.Leeway-time.Second)); err != nil {
		t.Errorf("within leeway after exp: %v", err)
	}
	_, err := tokenlist.VerifyJWT(context.Background(), good, testURI, kf, exp.Add(tokenlist.Leeway))
	if !errors.Is(err, tokenlist.ErrExpired) || !errors.Is(err, tokenlist.ErrInvalidToken) {
		t.Errorf("expired: %v, want ErrExpired and ErrInvalidToken", err)
	}

	// Key resolution failures are the resolver's, not the token's.
	boom := errors.New("resolver down")
	_, err = tokenlist.VerifyJWT(context.Background(), good, testURI, func(context.Context, keys.Algorithm, string) (crypto.PublicKey, error) {
		return nil, boom
	}, now)
	if !errors.Is(err, boom) || errors.Is(err, tokenlist.ErrInvalidToken) {
		t.Errorf("resolver error: %v", err)
	}
	// A resolver that returns a key of the wrong type for alg.
	_, err = tokenlist.VerifyJWT(context.Background(), good, testURI, keyFunc(es, "k1"), now)
	if !errors.Is(err, tokenlist.ErrInvalidToken) {
		t.Errorf("ES256 key for an EdDSA token: %v", err)
	}
	// The resolver sees the allowlisted alg and the kid.
	var gotAlg keys.Algorithm
	var gotKid string
	tokenlist.VerifyJWT(context.Background(), good, testURI, func(_ context.Context, alg keys.Algorithm, kid string) (crypto.PublicKey, error) {
		gotAlg, gotKid = alg, kid
		return k.Public(), nil
	}, now)
	if gotAlg != keys.EdDSA || gotKid != "k1" {
		t.Errorf("resolver got %q, %q", gotAlg, gotKid)
	}

	// No switch turns the URI check off.
	if _, err := tokenlist.VerifyJWT(context.Background(), good, "", kf, now); err == nil {
		t.Error("empty expectedURI accepted")
	}
	if _, err := tokenlist.VerifyJWT(context.Background(), good, testURI, nil, now); err == nil {
		t.Error("nil keyFunc accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tokenlist.VerifyJWT(ctx, good, testURI, kf, now); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestDraftExampleToken signs the claims of the draft's example Status List
// Token (its key is not published) with the draft's ES256 header and
// checks that every claim is read as the draft describes.
func TestDraftExampleToken(t *testing.T) {
	k := mustKey(t, keys.ES256)
	payload := `{"exp":2291720170,"iat":1686920170,"iss":"https://example.com","status_list":{"bits":1,"lst":"eNrbuRgAAhcBXQ"},"sub":"https://example.com/statuslists/1","ttl":43200}`
	h := jws.NewHeaders()
	h.Set(jws.KeyIDKey, "12")
	h.Set(jws.TypeKey, "statuslist+jwt")
	tok, err := jws.Sign([]byte(payload), jws.WithKey(jwa.ES256(), k.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenlist.VerifyJWT(context.Background(), string(tok), testURI, keyFunc(k, "12"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Issuer != "https://example.com" || v.TTL != 12*time.Hour || !v.ExpiresAt.Equal(time.Unix(2291720170, 0)) || !v.IssuedAt.Equal(t0) || v.KeyID != "12" {
		t.Errorf("Verified = %+v", v)
	}
	if !bytes.Equal(v.List.Bytes(), []byte{0xb9, 0xa3}) {
		t.Errorf("list = % x", v.List.Bytes())
	}
}

func TestStatusClaim(t *testing.T) {
	b, err := json.Marshal(map[string]any{"status": tokenlist.StatusClaim{StatusList: tokenlist.Reference{Idx: 0, URI: testURI}}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"status":{"status_list":{"idx":0,"uri":"https://example.com/statuslists/1"}}}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
