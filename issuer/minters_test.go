package issuer

import (
	"context"
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

const testIssuerDID = "did:medid:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func issuerKeys(t *testing.T) (KeySource, *keys.PrivateKey) {
	t.Helper()
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context, keys.Algorithm) (IssuerKey, error) {
		return IssuerKey{DID: testIssuerDID, KID: testIssuerDID + "#key-1", Key: k}, nil
	}, k
}

func holderOf(t *testing.T) (*keys.PrivateKey, MintRequest) {
	t.Helper()
	h, _ := keys.Generate(keys.ES256)
	j, _ := h.PublicJWKJSON()
	return h, MintRequest{
		Configuration: Configuration{ID: "PatientIdentityCredential_dc+sd-jwt", Format: "dc+sd-jwt", VCT: "https://issuer.example/vct/PatientIdentityCredential",
			Types: []string{"VerifiableCredential", "PatientIdentityCredential"}, ContextURL: "https://issuer.example/contexts/health/v1"},
		Claims: map[string]any{"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1815-12-10",
			"identifiers": []any{map[string]any{"system": "urn:oid:1.2.3", "value": "MRN-1"}}},
		Holder: h.Public(), HolderJWK: j,
	}
}

// TestSDJWTMinterIssuesUnlinkableHolderBoundCredentials mints two
// credentials for one request and checks what a verifier sees: the holder
// presents only given_name, bound to the verifier's nonce and audience.
func TestSDJWTMinterIssuesUnlinkableHolderBoundCredentials(t *testing.T) {
	ks, ik := issuerKeys(t)
	n := 0
	m := &SDJWTMinter{Keys: ks, Status: func(context.Context) (string, int, error) {
		n++
		return "https://issuer.example/status/1", 1000 + n*7, nil
	}}
	holder, req := holderOf(t)
	a, err := m.Mint(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Mint(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := a.Credential.(string), b.Credential.(string)
	if a.Status == b.Status || strings.Split(ca, "~")[1] == strings.Split(cb, "~")[1] {
		t.Fatal("two credentials of one batch share a status entry or a disclosure (linkable)")
	}
	pres, err := sdjwt.Present(ca, sdjwt.DisclosePaths([]any{"given_name"}),
		&sdjwt.KeyBindingOptions{Key: holder, Nonce: "n-1", Audience: "https://clinic.example", IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pres, "Lovelace") {
		t.Fatal("undisclosed claim on the wire") // disclosures are base64url; check decoded below too
	}
	v, err := sdjwt.Verify(context.Background(), pres, sdjwt.VerifyOptions{
		IssuerKey: func(_ context.Context, iss string, h sdjwt.Header) (crypto.PublicKey, error) {
			if iss != testIssuerDID {
				t.Errorf("iss %q", iss)
			}
			return ik.Public(), nil
		},
		ExpectedTyp: sdjwt.TypVC, RequireKeyBinding: true, Nonce: "n-1", Audience: "https://clinic.example"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Claims["given_name"] != "Ada" || v.Claims["family_name"] != nil || v.Claims["birthdate"] != nil || !v.KeyBound {
		t.Fatalf("disclosed claims: %v", v.Claims)
	}
	if v.Claims["vct"] != req.Configuration.VCT || v.Claims["status"] == nil {
		t.Fatalf("vct/status missing: %v", v.Claims)
	}
}

func TestJWTMinterBothFormats(t *testing.T) {
	ks, ik := issuerKeys(t)
	_, req := holderOf(t)
	for _, f := range []jwtvc.Format{jwtvc.JWTVCJSON, jwtvc.VCJWT} {
		m := &JWTMinter{Format: f, Keys: ks}
		out, err := m.Mint(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jwtvc.Verify(context.Background(), out.Credential.(string), jwtvc.VerifyOptions{
			Key: func(_ context.Context, iss, kid string, _ time.Time) (crypto.PublicKey, error) {
				return ik.Public(), nil
			}})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		subj := v.Credential["credentialSubject"].(map[string]any)
		if v.Format != f || !strings.HasPrefix(subj["id"].(string), "did:jwk:") || subj["given_name"] != "Ada" || v.Credential["id"] != out.ID {
			t.Fatalf("%s: %+v", f, v.Credential)
		}
	}
}
