package openid4vp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"

	"github.com/medid/medid/credentials/dcql"
)

var vpTokenSeeds = []string{
	`{"credential":["eyJhbGciOiJFUzI1NiJ9.e30.sig~WyJzIiwibiIsInYiXQ~kb"]}`,
	`{"a":["x"],"b":[{"@context":[],"proof":{}}]}`,
	`{"a":["x","y"]}`,
	`{}`, `[]`, `""`, `null`, `{"a":[]}`, `{"a":[1]}`, `{"a":[""]}`, `{"a b":["x"]}`,
	`{"a":["x"],"a":["y"]}`, `{"a":["x"]} trailing`, `{"a":["x"]`, `{"a":[null]}`,
}

// FuzzParseVPToken: a vp_token from a wallet never panics, and what is
// accepted keeps the invariants the service relies on.
func FuzzParseVPToken(f *testing.F) {
	for _, s := range vpTokenSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vp, err := parseVPToken(data)
		if err != nil {
			if asError(err) == nil || asError(err).Code != CodeInvalidRequest {
				t.Fatalf("error is not invalid_request: %v", err)
			}
			return
		}
		if len(vp) == 0 {
			t.Fatal("empty vp_token accepted")
		}
		for id, ps := range vp {
			if !dcql.IsValidID(id) || len(ps) == 0 {
				t.Fatalf("accepted key %q with %d presentations", id, len(ps))
			}
			for _, p := range ps {
				if len(p) == 0 || len(p) > MaxPresentation || !json.Valid(p) || (p[0] != '"' && p[0] != '{') {
					t.Fatalf("accepted presentation %q", p)
				}
			}
		}
	})
}

var fuzzKey = func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

func encryptSeed(tb testing.TB, payload string) string {
	h := jwe.NewHeaders()
	_ = h.Set("kid", "k1")
	b, err := jwe.Encrypt([]byte(payload), jwe.WithKey(jwa.ECDH_ES(), &fuzzKey.PublicKey), jwe.WithContentEncryption(jwa.A256GCM()), jwe.WithProtectedHeaders(h))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// FuzzParseResponseForm: the body POSTed to the response URI, in both
// response modes, never panics; an accepted response is either an error
// response or carries a vp_token.
func FuzzParseResponseForm(f *testing.F) {
	f.Add("vp_token="+url.QueryEscape(vpTokenSeeds[0])+"&state=abc", false)
	f.Add("error=access_denied&error_description=no&state=abc", false)
	f.Add("error=access_denied&state=abc", true)
	f.Add("vp_token=x&vp_token=y", false)
	f.Add("response="+encryptSeed(f, `{"vp_token":{"a":["x"]},"state":"s"}`), true)
	f.Add("response="+encryptSeed(f, `{"vp_token":"{\"a\":[\"x\"]}","state":"s"}`), true)
	f.Add("response="+encryptSeed(f, `{"error":"access_denied","state":"s"}`), true)
	f.Add("response="+encryptSeed(f, `{"vp_token":{"a":["x"]},"vp_token":{}}`), true)
	f.Add("response=a.b.c.d.e", true)
	f.Add("%zz", false)
	key := &responseKey{KID: "k1", Key: fuzzKey}
	f.Fuzz(func(t *testing.T, body string, jwtMode bool) {
		mode := ModeDirectPost
		if jwtMode {
			mode = ModeDirectPostJWT
		}
		r, err := parseResponseForm([]byte(body), mode, key)
		if err != nil {
			if asError(err) == nil {
				t.Fatalf("error is not an OAuth error: %v", err)
			}
			return
		}
		if r.Error == "" && len(r.VPToken) == 0 {
			t.Fatal("accepted a response with neither error nor vp_token")
		}
		if r.Error != "" && r.VPToken != nil {
			t.Fatal("accepted an error response with a vp_token")
		}
		if jwtMode && r.Error == "" && !r.Encrypted {
			t.Fatal("accepted an unencrypted vp_token in direct_post.jwt mode")
		}
	})
}

// FuzzDecryptResponse: any JWE (or not) is decrypted only under the
// allowlisted header, never panics.
func FuzzDecryptResponse(f *testing.F) {
	f.Add(encryptSeed(f, `{"vp_token":{"a":["x"]}}`))
	f.Add("eyJhbGciOiJub25lIn0.a.b.c.d")
	f.Add("....")
	key := &responseKey{KID: "k1", Key: fuzzKey}
	f.Fuzz(func(t *testing.T, compact string) {
		if _, err := decryptResponse(compact, key); err != nil && asError(err) == nil {
			t.Fatalf("error is not an OAuth error: %v", err)
		}
	})
}

// FuzzDCQL: checking presentations of any claims against any query never
// panics.
func FuzzDCQL(f *testing.F) {
	f.Add(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]},"claims":[{"path":["x",null,0]}]}]}`, `{"vct":"v","x":[[1]]}`)
	f.Add(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["v"]},"claims":[{"id":"c","path":["x"],"values":[1,"y",true]}],"claim_sets":[["c"]]}],"credential_sets":[{"options":[["a"]],"required":false}]}`, `{"x":1}`)
	f.Add(`{"credentials":[]}`, `{}`)
	f.Add(`[]`, `[]`)
	f.Fuzz(func(t *testing.T, query, claims string) {
		q, err := dcql.Parse([]byte(query))
		if err != nil {
			return
		}
		var c map[string]any
		if json.Unmarshal([]byte(claims), &c) != nil {
			return
		}
		presented := map[string][]*VerifiedPresentation{}
		for _, cq := range q.Credentials {
			presented[cq.ID] = []*VerifiedPresentation{{Format: string(cq.Format), Claims: c, HolderBinding: true}}
		}
		_ = DCQL{}.Satisfied(json.RawMessage(query), presented)
	})
}
