package jose

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

const (
	base      = "https://issuer.example"
	issuerDID = "did:web:issuer.example"
	kid       = issuerDID + "#key-1"
	verifier  = "https://verifier.example"
)

// now is the clock of both sides: Go issues and verifies at now, and node
// verifies at now and signs its Key Binding JWTs with iat now.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// patientClaims is a valid PatientIdentityCredential claim set (as in
// test/e2e), with two identifiers and an address so that a presentation can
// disclose a part of each.
const patientClaims = `{
	"given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10", "gender": "female",
	"identifiers": [
		{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"},
		{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "999999990", "type": "NHI"}],
	"address": {"street_address": "1 Main Street", "locality": "Springfield", "country": "US"},
	"assurance_level": "substantial"}`

// requireNode skips without the Node packages, or fails under CI.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat("node_modules"); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node or test/interop/jose/node_modules missing (run npm ci --prefix test/interop/jose): %v %v", err, statErr)
		}
		t.Skip("node or node_modules missing: npm ci --prefix test/interop/jose")
	}
	return node
}

type sdjwtIn struct {
	Name         string `json:"name"`
	Presentation string `json:"presentation"`
	Nonce        string `json:"nonce,omitempty"`
	Aud          string `json:"aud,omitempty"`
}

type jwtIn struct {
	Name  string `json:"name"`
	Token string `json:"token"`
	Typ   string `json:"typ"`
}

type presentIn struct {
	Name       string         `json:"name"`
	Credential string         `json:"credential"`
	Frame      map[string]any `json:"frame"`
	Nonce      string         `json:"nonce"`
	Aud        string         `json:"aud"`
}

type issueIn struct {
	Name    string         `json:"name"`
	Format  string         `json:"format"`
	Payload map[string]any `json:"payload"`
	Frame   map[string]any `json:"frame,omitempty"`
	KID     string         `json:"kid"`
}

type nodeOut struct {
	SDJWT []struct {
		Name     string         `json:"name"`
		Verified bool           `json:"verified"`
		Error    string         `json:"error"`
		Header   map[string]any `json:"header"`
		Claims   map[string]any `json:"claims"`
		KB       *struct {
			Header  map[string]any `json:"header"`
			Payload map[string]any `json:"payload"`
		} `json:"kb"`
	} `json:"sdjwt"`
	JWT []struct {
		Name     string         `json:"name"`
		Verified bool           `json:"verified"`
		Error    string         `json:"error"`
		Header   map[string]any `json:"header"`
		Payload  map[string]any `json:"payload"`
	} `json:"jwt"`
	Presented []struct {
		Name         string `json:"name"`
		Presentation string `json:"presentation"`
	} `json:"presented"`
	Issued []struct {
		Name       string          `json:"name"`
		Credential string          `json:"credential"`
		JWK        json.RawMessage `json:"jwk"`
	} `json:"issued"`
}

// tamperPayload changes one byte of the JWS payload of the compact JWS that
// starts s (an SD-JWT or a JWT): old, which must occur in the payload,
// becomes new, of the same length. The signature is left as it was.
func tamperPayload(t *testing.T, s, old, new string) string {
	t.Helper()
	jws, rest, sd := strings.Cut(s, "~")
	parts := strings.Split(jws, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || len(old) != len(new) || bytes.Count(payload, []byte(old)) != 1 {
		t.Fatalf("cannot tamper with %q in the payload: %v", old, err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(old), []byte(new), 1))
	if sd {
		return strings.Join(parts, ".") + "~" + rest
	}
	return strings.Join(parts, ".")
}

// canonical round-trips v through JSON, so that values decoded by Go
// (json.Number, typed slices) and by node compare equal.
func canonical(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNodeInterop(t *testing.T) {
	node := requireNode(t)
	ctx := context.Background()

	issuerKey, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	holderKey, err := keys.Generate(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	issuerJWK, _ := issuerKey.PublicJWKJSON()
	holderJWK, _ := holderKey.PublicJWKJSON()
	holderPK8, err := keys.ExportPKCS8(holderKey)
	if err != nil {
		t.Fatal(err)
	}

	var claims map[string]any
	if err := json.Unmarshal([]byte(patientClaims), &claims); err != nil {
		t.Fatal(err)
	}
	if _, err := health.DecodeAt(health.TypePatientIdentity, claims, now); err != nil {
		t.Fatalf("the claim set is not a valid PatientIdentityCredential: %v", err)
	}
	typ, ok := health.LookupType(health.TypePatientIdentity)
	if !ok {
		t.Fatal("no PatientIdentityCredential type")
	}

	// Two SD-JWT VCs: flat, as issuer.SDJWTMinter makes them (every claim
	// disclosable but assurance_level), and nested, whose identifiers
	// elements and address members are disclosable too (RFC 9901 section
	// 6.3, recursive disclosures).
	vc := sdjwt.VCClaims{VCT: typ.VCT(base), Issuer: issuerDID, IssuedAt: now, NotBefore: now,
		Expires: now.AddDate(1, 0, 0), Holder: holderKey.Public(), Claims: claims}
	issue := func(p sdjwt.Policy) string {
		issued, err := sdjwt.IssueVC(vc, p, sdjwt.IssueOptions{Key: issuerKey, KeyID: kid})
		if err != nil {
			t.Fatal(err)
		}
		return issued.Compact()
	}
	flat := issue(sdjwt.Policy{AlwaysVisible: typ.NeverDisclosable()})
	nested := issue(sdjwt.Policy{AlwaysVisible: typ.NeverDisclosable(),
		Paths: [][]any{{"identifiers", nil}, {"address", "street_address"}, {"address", "locality"}, {"address", "country"}}})

	present := func(cred, nonce, aud string, paths ...[]any) string {
		p, err := sdjwt.Present(cred, sdjwt.DisclosePaths(paths...),
			&sdjwt.KeyBindingOptions{Key: holderKey, Nonce: nonce, Audience: aud, IssuedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	subset := [][]any{{"given_name"}, {"birthdate"}, {"identifiers", 0}, {"address", "locality"}}
	flatKB := present(flat, "n-1", verifier, subset...)
	nestedKB := present(nested, "n-2", verifier, subset...)
	// Dropping a Disclosure after the Key Binding JWT was made breaks sd_hash.
	dropped := func() string {
		parts := strings.Split(nestedKB, "~")
		return strings.Join(append(parts[:1:1], parts[2:]...), "~")
	}()

	sdIn := []sdjwtIn{
		{Name: "flat, all disclosures, no key binding", Presentation: flat},
		{Name: "nested, all disclosures, no key binding", Presentation: nested},
		{Name: "flat, subset, key binding", Presentation: flatKB, Nonce: "n-1", Aud: verifier},
		{Name: "nested, subset, key binding", Presentation: nestedKB, Nonce: "n-2", Aud: verifier},
		// Node must refuse these, or it checks nothing.
		{Name: "tampered issuer JWT", Presentation: tamperPayload(t, flat, `"substantial"`, `"substantiaL"`)},
		{Name: "key binding, wrong nonce", Presentation: nestedKB, Nonce: "n-3", Aud: verifier},
		{Name: "key binding, wrong aud", Presentation: nestedKB, Nonce: "n-2", Aud: "https://other.example"},
		{Name: "key binding, disclosure dropped", Presentation: dropped, Nonce: "n-2", Aud: verifier},
	}
	// The refusals name the check that failed, so that a refusal for some
	// other reason (a bug in the test, or an interop problem) does not pass.
	wantRefused := map[string]string{
		"tampered issuer JWT":             "signature",
		"key binding, wrong nonce":        "nonce",
		"key binding, wrong aud":          "aud",
		"key binding, disclosure dropped": "sd_hash",
	}

	jwtOpts := jwtvc.IssueOptions{Issuer: issuerDID, KID: kid, Key: issuerKey, IssuedAt: now, ValidFrom: now,
		ValidUntil: now.AddDate(1, 0, 0), ID: "urn:uuid:3f1c7a52-9b8e-4c1d-a6f0-2d5e8b7c9a10", HolderJWK: holderJWK}
	subject := map[string]any{"id": "did:example:patient"}
	for k, v := range claims {
		subject[k] = v
	}
	vcjwt, err := jwtvc.IssueVCJWT(map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2", base + health.ContextPath},
		"type":              []any{"VerifiableCredential", health.TypePatientIdentity},
		"credentialSubject": subject}, jwtOpts)
	if err != nil {
		t.Fatal(err)
	}
	jwtvcjson, err := jwtvc.IssueJWTVCJSON(map[string]any{
		"@context":          []any{"https://www.w3.org/2018/credentials/v1", base + health.ContextPath},
		"type":              []any{"VerifiableCredential", health.TypePatientIdentity},
		"credentialSubject": subject}, jwtOpts)
	if err != nil {
		t.Fatal(err)
	}
	jwtIns := []jwtIn{
		{Name: "vc+jwt", Token: vcjwt, Typ: "vc+jwt"},
		{Name: "jwt_vc_json", Token: jwtvcjson, Typ: "JWT"},
		{Name: "tampered vc+jwt", Token: tamperPayload(t, vcjwt, `"Lovelace"`, `"Lovelacf"`), Typ: "vc+jwt"},
		{Name: "tampered jwt_vc_json", Token: tamperPayload(t, jwtvcjson, `"Lovelace"`, `"Lovelacf"`), Typ: "JWT"},
	}
	wantJWTRefused := map[string]string{"tampered vc+jwt": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
		"tampered jwt_vc_json": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"}

	presentIns := []presentIn{{Name: "node presents nested", Credential: nested, Nonce: "n-node", Aud: verifier,
		Frame: map[string]any{"given_name": true, "identifiers": map[string]any{"1": true}, "address": map[string]any{"locality": true}}}}

	issueIns := []issueIn{
		{Name: "node sd-jwt vc", Format: "dc+sd-jwt", KID: "did:example:node#k",
			Payload: map[string]any{"iss": "did:example:node", "iat": now.Unix(), "exp": now.AddDate(0, 1, 0).Unix(),
				"vct": typ.VCT(base), "given_name": "Ada", "family_name": "Lovelace", "assurance_level": "substantial",
				"identifiers": claims["identifiers"]},
			Frame: map[string]any{"_sd": []any{"given_name", "family_name", "identifiers"}, "identifiers": map[string]any{"_sd": []any{0, 1}}}},
		{Name: "node vc+jwt", Format: "vc+jwt", KID: "did:example:node#k",
			Payload: map[string]any{"@context": []any{"https://www.w3.org/ns/credentials/v2"},
				"type": []any{"VerifiableCredential", health.TypePatientIdentity}, "issuer": "did:example:node",
				"validFrom": now.Format(time.RFC3339), "iat": now.Unix(), "credentialSubject": subject}},
	}

	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("issuer.jwk.json", issuerJWK)
	write("holder.jwk.json", holderJWK)
	write("holder.pk8", holderPK8)
	in, err := json.Marshal(map[string]any{"now": now.Unix(), "sdjwt": sdIn, "jwt": jwtIns, "present": presentIns, "issue": issueIns})
	if err != nil {
		t.Fatal(err)
	}
	write("input.json", in)

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "jose.mjs", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	var out nodeOut
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout)
	}

	issuerKeyFunc := func(pub crypto.PublicKey, iss string) sdjwt.IssuerKeyFunc {
		return func(_ context.Context, gotIss string, _ sdjwt.Header) (crypto.PublicKey, error) {
			if gotIss != iss {
				return nil, fmt.Errorf("issuer %q", gotIss)
			}
			return pub, nil
		}
	}
	goVerify := func(p, nonce string) (*sdjwt.Verified, error) {
		return sdjwt.Verify(ctx, p, sdjwt.VerifyOptions{IssuerKey: issuerKeyFunc(issuerKey.Public(), issuerDID),
			ExpectedTyp: sdjwt.TypVC, Now: func() time.Time { return now }, RequireKeyBinding: nonce != "",
			Nonce: nonce, Audience: verifier})
	}

	t.Run("node verifies our SD-JWT VCs", func(t *testing.T) {
		if len(out.SDJWT) != len(sdIn) {
			t.Fatalf("node verified %d SD-JWTs, want %d", len(out.SDJWT), len(sdIn))
		}
		for i, v := range out.SDJWT {
			if v.Name != sdIn[i].Name {
				t.Fatalf("node result %d is %q, want %q", i, v.Name, sdIn[i].Name)
			}
			if check, refuse := wantRefused[v.Name]; refuse {
				if !v.Verified {
					t.Logf("node refused %q: %s", v.Name, v.Error)
				}
				if v.Verified || !strings.Contains(strings.ToLower(v.Error), check) {
					t.Errorf("node on %q: verified=%v error %q, want a refusal naming %q", v.Name, v.Verified, v.Error, check)
				}
				continue
			}
			if !v.Verified {
				t.Errorf("node refused %q: %s", v.Name, v.Error)
				continue
			}
			if v.Header["typ"] != sdjwt.TypVC || v.Header["alg"] != "ES256" || v.Header["kid"] != kid {
				t.Errorf("node on %q: header %v", v.Name, v.Header)
			}
			// Node sees exactly what our verifier sees.
			ours, err := goVerify(sdIn[i].Presentation, sdIn[i].Nonce)
			if err != nil {
				t.Fatalf("our Verify on %q: %v", v.Name, err)
			}
			if got, want := canonical(t, v.Claims), canonical(t, ours.Claims); !reflect.DeepEqual(got, want) {
				t.Errorf("node on %q: claims\n%v\nwant (our Verify)\n%v", v.Name, got, want)
			}
			if v.Claims["given_name"] != "Ada" || v.Claims["assurance_level"] != "substantial" || v.Claims["vct"] != typ.VCT(base) {
				t.Errorf("node on %q: claims %v", v.Name, v.Claims)
			}
			_, hasFamily := v.Claims["family_name"]
			if sdIn[i].Nonce == "" {
				if !hasFamily || !reflect.DeepEqual(canonical(t, v.Claims["identifiers"]), canonical(t, claims["identifiers"])) {
					t.Errorf("node on %q: not everything was disclosed: %v", v.Name, v.Claims)
				}
				continue
			}
			// The subset: given_name, birthdate, the first identifier (the
			// whole array when it is one flat claim) and address.locality
			// (the whole address when flat).
			if hasFamily || v.Claims["gender"] != nil || v.Claims["birthdate"] != "1990-12-10" {
				t.Errorf("node on %q: wrong subset disclosed: %v", v.Name, v.Claims)
			}
			if strings.HasPrefix(v.Name, "nested") {
				ids, _ := v.Claims["identifiers"].([]any)
				want := canonical(t, claims["identifiers"].([]any)[:1])
				if !reflect.DeepEqual(canonical(t, ids), want) ||
					!reflect.DeepEqual(v.Claims["address"], map[string]any{"locality": "Springfield"}) {
					t.Errorf("node on %q: identifiers %v address %v", v.Name, ids, v.Claims["address"])
				}
			}
			if v.KB == nil || v.KB.Header["typ"] != "kb+jwt" || v.KB.Payload["nonce"] != sdIn[i].Nonce ||
				v.KB.Payload["aud"] != verifier || v.KB.Payload["iat"] != float64(now.Unix()) || v.KB.Payload["sd_hash"] == nil {
				t.Errorf("node on %q: key binding %+v", v.Name, v.KB)
			}
		}
	})

	t.Run("node verifies our JWT VCs", func(t *testing.T) {
		if len(out.JWT) != len(jwtIns) {
			t.Fatalf("node verified %d JWTs, want %d", len(out.JWT), len(jwtIns))
		}
		for i, v := range out.JWT {
			if v.Name != jwtIns[i].Name {
				t.Fatalf("node result %d is %q, want %q", i, v.Name, jwtIns[i].Name)
			}
			if check, refuse := wantJWTRefused[v.Name]; refuse {
				if !v.Verified {
					t.Logf("node refused %q: %s", v.Name, v.Error)
				}
				if v.Verified || !strings.Contains(v.Error, check) {
					t.Errorf("node on %q: verified=%v error %q, want %s", v.Name, v.Verified, v.Error, check)
				}
				continue
			}
			if !v.Verified {
				t.Errorf("node refused %q: %s", v.Name, v.Error)
				continue
			}
			if v.Header["alg"] != "ES256" || v.Header["typ"] != jwtIns[i].Typ || v.Header["kid"] != kid {
				t.Errorf("node on %q: header %v", v.Name, v.Header)
			}
			cred := v.Payload
			if v.Name == "jwt_vc_json" {
				cred, _ = v.Payload["vc"].(map[string]any)
				if v.Payload["iss"] != issuerDID || v.Payload["sub"] != "did:example:patient" || v.Payload["exp"] == nil {
					t.Errorf("node on %q: registered claims %v", v.Name, v.Payload)
				}
			}
			if cred["issuer"] != issuerDID || !reflect.DeepEqual(canonical(t, cred["credentialSubject"]), canonical(t, subject)) {
				t.Errorf("node on %q: credential %v", v.Name, cred)
			}
			cnf, _ := v.Payload["cnf"].(map[string]any)
			if cnf == nil || !reflect.DeepEqual(canonical(t, cnf["jwk"]), canonical(t, json.RawMessage(holderJWK))) {
				t.Errorf("node on %q: cnf %v", v.Name, v.Payload["cnf"])
			}
		}
	})

	t.Run("we verify node's presentation", func(t *testing.T) {
		if len(out.Presented) != 1 {
			t.Fatalf("node presented %d, want 1", len(out.Presented))
		}
		p := out.Presented[0].Presentation
		v, err := goVerify(p, "n-node")
		if err != nil {
			t.Fatalf("our Verify refused node's presentation: %v\n%s", err, p)
		}
		if !v.KeyBound {
			t.Error("node's presentation: not key bound")
		}
		// Disclosed paths index into Claims: node disclosed the issued
		// identifiers[1], which is the only element left, at position 0.
		want := []string{"address", "address.locality", "given_name", "identifiers", "identifiers.0"}
		var got []string
		for _, path := range v.Disclosed {
			s := make([]string, len(path))
			for i, e := range path {
				s[i] = fmt.Sprint(e)
			}
			got = append(got, strings.Join(s, "."))
		}
		if !sameSet(got, want) {
			t.Errorf("node disclosed %v, want %v", got, want)
		}
		if _, ok := v.Claims["family_name"]; ok || v.Claims["birthdate"] != nil || v.Claims["given_name"] != "Ada" ||
			!reflect.DeepEqual(canonical(t, v.Claims["identifiers"]), canonical(t, claims["identifiers"].([]any)[1:])) ||
			!reflect.DeepEqual(canonical(t, v.Claims["address"]), map[string]any{"locality": "Springfield"}) {
			t.Errorf("node's presentation disclosed %v", v.Claims)
		}
		if _, err := goVerify(p, "n-other"); !errors.Is(err, sdjwt.ErrNonce) {
			t.Errorf("node's presentation for another nonce: %v, want ErrNonce", err)
		}
	})

	t.Run("we verify what node issued", func(t *testing.T) {
		if len(out.Issued) != len(issueIns) {
			t.Fatalf("node issued %d, want %d", len(out.Issued), len(issueIns))
		}
		for _, is := range out.Issued {
			pub, _, err := keys.PublicKeyFromJWK(is.JWK)
			if err != nil {
				t.Fatalf("node's key for %q: %v", is.Name, err)
			}
			switch is.Name {
			case "node sd-jwt vc":
				p := present(is.Credential, "n-go", verifier, []any{"identifiers", 1})
				v, err := sdjwt.Verify(ctx, p, sdjwt.VerifyOptions{IssuerKey: issuerKeyFunc(pub, "did:example:node"),
					ExpectedTyp: sdjwt.TypVC, Now: func() time.Time { return now }, RequireKeyBinding: true,
					Nonce: "n-go", Audience: verifier})
				if err != nil {
					t.Fatalf("our Verify refused node's SD-JWT VC: %v\n%s", err, p)
				}
				if v.Claims["given_name"] != nil || v.Claims["assurance_level"] != "substantial" ||
					!reflect.DeepEqual(canonical(t, v.Claims["identifiers"]), canonical(t, claims["identifiers"].([]any)[1:])) {
					t.Errorf("node's SD-JWT VC presented as %v", v.Claims)
				}
				tampered := tamperPayload(t, p, `"substantial"`, `"substantiaL"`)
				if _, err := sdjwt.Verify(ctx, tampered, sdjwt.VerifyOptions{IssuerKey: issuerKeyFunc(pub, "did:example:node"),
					ExpectedTyp: sdjwt.TypVC, Now: func() time.Time { return now }, Nonce: "n-go", Audience: verifier}); !errors.Is(err, sdjwt.ErrSignature) {
					t.Errorf("tampered node SD-JWT VC: %v, want ErrSignature", err)
				}
			case "node vc+jwt":
				opts := jwtvc.VerifyOptions{Now: func() time.Time { return now },
					Key: func(_ context.Context, iss, k string, _ time.Time) (crypto.PublicKey, error) {
						if iss != "did:example:node" || k != "did:example:node#k" {
							return nil, fmt.Errorf("unknown key %s", k)
						}
						return pub, nil
					}}
				v, err := jwtvc.Verify(ctx, is.Credential, opts)
				if err != nil {
					t.Fatalf("our Verify refused node's vc+jwt: %v", err)
				}
				if v.Format != jwtvc.VCJWT || !reflect.DeepEqual(canonical(t, v.Credential["credentialSubject"]), canonical(t, subject)) {
					t.Errorf("node's vc+jwt: %+v", v)
				}
				tampered := tamperPayload(t, is.Credential, `"Lovelace"`, `"Lovelacf"`)
				if _, err := jwtvc.Verify(ctx, tampered, opts); !errors.Is(err, jwtvc.ErrSignature) {
					t.Errorf("tampered node vc+jwt: %v, want ErrSignature", err)
				}
			default:
				t.Errorf("node issued an unexpected %q", is.Name)
			}
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
