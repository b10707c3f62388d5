package e2e

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
)

const patientClaims = `{
	"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10", "gender": "female",
	"identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}],
	"assurance_level": "substantial"}`

func postJSON(t testing.TB, u, token string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// issuePatientIdentity has the server at base issue the test patient's
// PatientIdentityCredential (patientClaims) as an SD-JWT VC to holder,
// over an offer and OpenID4VCI, and returns it.
func issuePatientIdentity(t testing.TB, base, admin string, holder *keys.PrivateKey) string {
	t.Helper()
	var claims map[string]any
	if err := json.Unmarshal([]byte(patientClaims), &claims); err != nil {
		t.Fatal(err)
	}
	code, o := postJSON(t, base+"/issuer/offers", admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt"}, "claims": claims})
	if code != http.StatusCreated {
		t.Fatalf("offer: %d %v", code, o)
	}
	return receive(t, o["offer_uri"].(string), "", "PatientIdentityCredential_dc+sd-jwt", holder)
}

// receive runs the OpenID4VCI pre-authorized flow as a wallet would, from
// the offer link to the credential, and returns the credential.
func receive(t testing.TB, offerURI, txCode, configID string, holder *keys.PrivateKey) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(receiveRaw(t, offerURI, txCode, configID, holder), &s); err != nil {
		t.Fatalf("credential is not a string: %v", err)
	}
	return s
}

// receiveRaw runs the pre-authorized code flow as a wallet and returns the
// credential as the response carried it (a string, or a JSON object for
// ldp_vc).
func receiveRaw(t testing.TB, offerURI, txCode, configID string, holder *keys.PrivateKey) json.RawMessage {
	t.Helper()
	u, _ := url.Parse(offerURI)
	resp, err := http.Get(u.Query().Get("credential_offer_uri"))
	if err != nil {
		t.Fatal(err)
	}
	var offer struct {
		Issuer string `json:"credential_issuer"`
		Grants map[string]struct {
			Code string `json:"pre-authorized_code"`
		} `json:"grants"`
	}
	json.NewDecoder(resp.Body).Decode(&offer)
	resp.Body.Close()
	var md struct {
		Token string `json:"token_endpoint"`
	}
	getJSON(t, offer.Issuer+"/.well-known/oauth-authorization-server", &md)
	var imd struct {
		Credential string `json:"credential_endpoint"`
		Nonce      string `json:"nonce_endpoint"`
	}
	getJSON(t, offer.Issuer+"/.well-known/openid-credential-issuer", &imd)
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:pre-authorized_code"},
		"pre-authorized_code": {offer.Grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"].Code}, "tx_code": {txCode}}
	resp, err = http.PostForm(md.Token, form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	resp, err = http.Post(imd.Nonce, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var nonce struct {
		CNonce string `json:"c_nonce"`
	}
	json.NewDecoder(resp.Body).Decode(&nonce)
	resp.Body.Close()
	jwk, _ := holder.PublicJWK()
	h := jws.NewHeaders()
	h.Set("typ", "openid4vci-proof+jwt")
	h.Set("jwk", jwk)
	payload, _ := json.Marshal(map[string]any{"aud": offer.Issuer, "iat": time.Now().Unix(), "nonce": nonce.CNonce})
	proof, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), holder.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": configID, "proofs": map[string]any{"jwt": []string{string(proof)}}})
	req, _ := http.NewRequest(http.MethodPost, imd.Credential, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var cr struct {
		Credentials []struct {
			Credential json.RawMessage `json:"credential"`
		} `json:"credentials"`
	}
	if err := json.Unmarshal(body, &cr); err != nil || resp.StatusCode != 200 || len(cr.Credentials) != 1 {
		t.Fatalf("credential: %d %s", resp.StatusCode, body)
	}
	return cr.Credentials[0].Credential
}

func getJSON(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// issuerKeyAt resolves the issuer DID over HTTP as of at and returns the
// public key of verification method kid, as a verifier would.
func issuerKeyAt(t *testing.T, base, kid string, at time.Time) (crypto.PublicKey, error) {
	d, _, _ := strings.Cut(kid, "#")
	var r struct {
		Doc did.Document `json:"didDocument"`
	}
	u := base + "/1.0/identifiers/" + url.PathEscape(d) + "?versionTime=" + url.QueryEscape(at.UTC().Format(time.RFC3339))
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "application/did-resolution")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	vm, ok := r.Doc.VerificationMethodByID(kid)
	if !ok || !r.Doc.Authorized(did.AssertionMethod, vm.ID) {
		return nil, fmt.Errorf("%s is not an assertion method of the issuer at %v", kid, at)
	}
	return vm.PublicKey()
}

func TestIssuanceAcrossKeyRotation(t *testing.T) {
	srv := startServer(t, tempData(t), nil)
	holder, _ := keys.Generate(keys.ES256)

	// Invalid claims are refused at offer creation, naming the field.
	var bad map[string]any
	json.Unmarshal([]byte(patientClaims), &bad)
	bad["birthdate"] = "2999-01-01"
	code, out := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
		"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt"}, "claims": bad})
	if code != http.StatusUnprocessableEntity || out["field"] != "claims.birthdate" {
		t.Fatalf("invalid claims: %d %v", code, out)
	}

	offer := func() map[string]any {
		var claims map[string]any
		json.Unmarshal([]byte(patientClaims), &claims)
		code, out := postJSON(t, srv.URL+"/issuer/offers", srv.Admin, map[string]any{
			"credential_configuration_ids": []string{"PatientIdentityCredential_dc+sd-jwt", "PatientIdentityCredential_jwt_vc_json"},
			"claims":                       claims, "tx_code": true})
		if code != http.StatusCreated {
			t.Fatalf("offer: %d %v", code, out)
		}
		return out
	}
	o := offer()
	first := receive(t, o["offer_uri"].(string), o["tx_code"].(string), "PatientIdentityCredential_dc+sd-jwt", holder)

	verify := func(cred string) *sdjwt.Verified {
		t.Helper()
		pres, err := sdjwt.Present(cred, sdjwt.DisclosePaths([]any{"given_name"}),
			&sdjwt.KeyBindingOptions{Key: holder, Nonce: "n", Audience: "https://clinic.example", IssuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		v, err := sdjwt.Verify(context.Background(), pres, sdjwt.VerifyOptions{
			IssuerKey: func(_ context.Context, iss string, h sdjwt.Header) (crypto.PublicKey, error) {
				if iss != srv.App.ServerDID {
					return nil, fmt.Errorf("issuer %s", iss)
				}
				return issuerKeyAt(t, srv.URL, h.Kid, time.Now())
			},
			ExpectedTyp: sdjwt.TypVC, RequireKeyBinding: true, Nonce: "n", Audience: "https://clinic.example"})
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		return v
	}
	v := verify(first)
	if v.Claims["given_name"] != "Ada" || v.Claims["family_name"] != nil || v.Claims["assurance_level"] != "substantial" {
		t.Fatalf("claims: %v", v.Claims)
	}
	firstKID := v.Header.Kid

	// Rotate the issuer's ES256 key: a DID update in internal secret mode
	// replacing #key-1 by a new key (#key-3).
	time.Sleep(1100 * time.Millisecond)
	code, out = postJSON(t, srv.URL+"/1.0/update", srv.Admin, map[string]any{"did": srv.App.ServerDID,
		"didDocumentOperation": []string{"removeFromDidDocument", "addToDidDocument"},
		"didDocument": []any{
			map[string]any{"verificationMethod": []any{map[string]any{"id": "#key-1"}}, "assertionMethod": []any{"#key-1"}, "authentication": []any{"#key-1"}},
			map[string]any{"verificationMethod": []any{map[string]any{"id": "#key-3", "type": "JsonWebKey"}}, "assertionMethod": []any{"#key-3"}},
		}})
	if code != 200 {
		t.Fatalf("rotation: %d %v", code, out)
	}
	o = offer()
	second := receive(t, o["offer_uri"].(string), o["tx_code"].(string), "PatientIdentityCredential_dc+sd-jwt", holder)
	v2 := verify(second)
	if !strings.HasSuffix(v2.Header.Kid, "#key-3") {
		t.Fatalf("after rotation the issuer signs with %s", v2.Header.Kid)
	}
	// The server's own verifier takes both: each issuer key as of its
	// credential's issuance, the first from the version the update
	// replaced (whose resolution says when, nextUpdate), twice.
	for _, cred := range []string{first, second, first, second} {
		if code, out := postJSON(t, srv.URL+"/credentials/verify", srv.Admin, map[string]any{"verifiableCredential": cred}); code != http.StatusOK {
			t.Fatalf("VC-API verification across the rotation: %d %v", code, out)
		}
	}
	// The first credential no longer verifies against the current document,
	// but does as of its issuance time.
	if _, err := issuerKeyAt(t, srv.URL, firstKID, time.Now()); err == nil {
		t.Fatal("rotated-away key still current")
	}
	iatN, _ := v.Claims["iat"].(json.Number).Int64()
	iat := time.Unix(iatN, 0)
	if _, err := issuerKeyAt(t, srv.URL, firstKID, iat); err != nil {
		t.Fatalf("old key as of issuance: %v", err)
	}

	// The same offer also yields a jwt_vc_json credential (VCDM 1.1).
	o = offer()
	jwtCred := receive(t, o["offer_uri"].(string), o["tx_code"].(string), "PatientIdentityCredential_jwt_vc_json", holder)
	jv, err := jwtvc.Verify(context.Background(), jwtCred, jwtvc.VerifyOptions{
		Key: func(_ context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
			return issuerKeyAt(t, srv.URL, kid, at)
		}})
	if err != nil || jv.Issuer != srv.App.ServerDID {
		t.Fatalf("jwt_vc_json: %v", err)
	}

	// JWT VC issuer metadata publishes the current signing key.
	var jvi struct {
		Issuer string `json:"issuer"`
		JWKS   struct {
			Keys []map[string]any `json:"keys"`
		} `json:"jwks"`
	}
	getJSON(t, srv.URL+"/.well-known/jwt-vc-issuer", &jvi)
	if jvi.Issuer != srv.URL || len(jvi.JWKS.Keys) != 1 || !strings.HasSuffix(jvi.JWKS.Keys[0]["kid"].(string), "#key-3") {
		t.Fatalf("jwt-vc-issuer: %+v", jvi)
	}
	// The documents a credential points to are served.
	var meta map[string]any
	getJSON(t, v.Claims["vct"].(string), &meta)
	if meta["vct"] != v.Claims["vct"] {
		t.Fatalf("type metadata: %v", meta)
	}
	var ctx map[string]any
	getJSON(t, jv.Credential["@context"].([]any)[1].(string), &ctx)
	if _, ok := jv.Credential["credentialSchema"]; ok {
		t.Fatal("credentialSchema points at a claims schema (VC JSON Schema applies it to the whole credential)")
	}
	getJSON(t, srv.URL+"/schemas/PatientIdentityCredential.json", &ctx)
}
