package sdjwt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/internal/keys"
)

func TestRoundTrip(t *testing.T) {
	for _, ia := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
		for _, ha := range []keys.Algorithm{keys.ES256, keys.EdDSA} {
			t.Run(fmt.Sprintf("issuer=%s/holder=%s", ia, ha), func(t *testing.T) {
				issuer, holder := newKey(t, ia), newKey(t, ha)
				iss, err := sdjwt.IssueVC(patient(holder.Public()), patientPolicy, sdjwt.IssueOptions{Key: issuer, KeyID: "key-1"})
				if err != nil {
					t.Fatal(err)
				}
				compact := iss.Compact()

				// The Holder checks what it received: everything is there.
				opts := verifyOptions(issuer)
				opts.RequireKeyBinding = false
				all, err := sdjwt.Verify(context.Background(), compact, opts)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range patient(nil).Claims {
					g, _ := json.Marshal(all.Claims[k])
					w, _ := json.Marshal(v)
					if string(g) != string(w) {
						t.Errorf("claim %s = %s, want %s", k, g, w)
					}
				}
				if all.Header.Kid != "key-1" || all.Header.Typ != sdjwt.TypVC || all.Header.Alg != string(ia) {
					t.Errorf("header %+v", all.Header)
				}
				if !reflect.DeepEqual(all.Claims["status"], map[string]any{"status_list": map[string]any{"idx": json.Number("42"), "uri": issuerURL + "/status/1"}}) {
					t.Errorf("status %v", all.Claims["status"])
				}

				// It presents given_name, the locality, the second identifier
				// and nothing else (country is part of the address
				// Disclosure: the policy does not make it disclosable alone).
				p, err := sdjwt.Present(compact, sdjwt.DisclosePaths(
					[]any{"given_name"}, []any{"address", "locality"}, []any{"identifiers", 1},
				), kbOptions(holder))
				if err != nil {
					t.Fatal(err)
				}
				v, err := sdjwt.Verify(context.Background(), p, verifyOptions(issuer))
				if err != nil {
					t.Fatal(err)
				}
				if !v.KeyBound || v.Holder == nil {
					t.Error("not key bound")
				}
				if v.Claims["given_name"] != "Erika" ||
					!reflect.DeepEqual(v.Claims["address"], map[string]any{"locality": "Köln", "country": "DE"}) ||
					!reflect.DeepEqual(v.Claims["identifiers"], []any{map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5f1a"}}) {
					t.Errorf("claims %v", v.Claims)
				}
				for _, k := range []string{"family_name", "birthdate", "blood_type", "allergies", "sub", "_sd", "_sd_alg"} {
					if _, ok := v.Claims[k]; ok {
						t.Errorf("claim %s was not disclosed but is in the result", k)
					}
				}
				for _, k := range []string{"iss", "iat", "exp", "vct", "cnf", "status"} {
					if _, ok := v.Claims[k]; !ok {
						t.Errorf("always-visible claim %s is missing", k)
					}
				}
				got := make([]string, len(v.Disclosed))
				for i, d := range v.Disclosed {
					got[i] = fmt.Sprint(d)
				}
				slices.Sort(got)
				if want := []string{"[address locality]", "[address]", "[given_name]", "[identifiers 0]", "[identifiers]"}; !slices.Equal(got, want) {
					t.Errorf("disclosed %v, want %v", got, want)
				}
				plain := plaintext(p)
				for _, secret := range []string{"Mustermann", "1963-08-12", "AB-", "Heidestra", "51147", "X110411675", "penicillin", "latex", "patient-7f3a"} {
					if strings.Contains(plain, secret) {
						t.Errorf("undisclosed %q appears in the presentation", secret)
					}
				}
				if !strings.Contains(plain, "Köln") {
					t.Error("the plaintext view misses a disclosed value; the check above proves nothing")
				}
			})
		}
	}
}

// TestNestedPolicies covers structured (always-visible parent) and
// recursive (disclosable parent) Disclosures, and array elements chosen by
// position.
func TestNestedPolicies(t *testing.T) {
	issuer, holder := newKey(t, keys.ES256), newKey(t, keys.EdDSA)
	claims := map[string]any{
		"iss":     issuerURL,
		"address": map[string]any{"locality": "Köln", "country": "DE"},
		"codes":   []any{"a", "b", "c"},
		"cnf":     map[string]any{"jwk": json.RawMessage(mustJWK(t, holder))},
	}
	iss, err := sdjwt.Issue(claims, sdjwt.Policy{
		AlwaysVisible: []string{"iss", "cnf", "address", "codes"},
		Paths:         [][]any{{"address", "locality"}, {"codes", 1}},
	}, sdjwt.IssueOptions{Key: issuer, Typ: "example+sd-jwt", Rand: fixedRand(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(iss.Disclosures) != 2 {
		t.Fatalf("%d disclosures, want 2", len(iss.Disclosures))
	}
	opts := verifyOptions(issuer)
	opts.ExpectedTyp = "example+sd-jwt"
	opts.RequireKeyBinding = false

	// Nothing disclosed: the structure stays, the hidden parts go.
	p, err := sdjwt.Present(iss.Compact(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sdjwt.Verify(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, v.Claims, `{"iss": "`+issuerURL+`", "address": {"country": "DE"}, "codes": ["a", "c"], "cnf": `+`{"jwk": `+string(mustJWK(t, holder))+`}}`)

	// Recursive: address itself disclosable too. Asking for the locality
	// alone must bring address along.
	iss, err = sdjwt.Issue(claims, sdjwt.Policy{
		AlwaysVisible: []string{"iss", "cnf"},
		Paths:         [][]any{{"address", "locality"}, {"codes", nil}},
	}, sdjwt.IssueOptions{Key: issuer, Typ: "example+sd-jwt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(iss.Disclosures) != 6 { // address, codes, locality and the 3 codes
		t.Fatalf("%d disclosures, want 6", len(iss.Disclosures))
	}
	// A nested Disclosure without its parent is not sent.
	p, err = sdjwt.Present(iss.Compact(), func(path []any) bool { return len(path) == 2 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(p, "~") != 1 {
		t.Errorf("nested disclosures were sent without their parents: %d", strings.Count(p, "~")-1)
	}
	p, err = sdjwt.Present(iss.Compact(), sdjwt.DisclosePaths([]any{"address", "locality"}, []any{"codes", 2}), kbOptions(holder))
	if err != nil {
		t.Fatal(err)
	}
	opts.RequireKeyBinding = true
	v, err = sdjwt.Verify(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, v.Claims, `{"iss": "`+issuerURL+`", "address": {"locality": "Köln", "country": "DE"}, "codes": ["c"], "cnf": `+`{"jwk": `+string(mustJWK(t, holder))+`}}`)
}

func mustJWK(t testing.TB, k *keys.PrivateKey) []byte {
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestIssueIsDeterministicWithFixedRand: the same Rand gives the same
// Disclosures and payload (the signature differs: ECDSA is randomised).
func TestIssueIsDeterministicWithFixedRand(t *testing.T) {
	issuer := newKey(t, keys.EdDSA) // Ed25519 signatures are deterministic
	a, err := sdjwt.IssueVC(patient(nil), patientPolicy, sdjwt.IssueOptions{Key: issuer, Rand: fixedRand(7)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sdjwt.IssueVC(patient(nil), patientPolicy, sdjwt.IssueOptions{Key: issuer, Rand: fixedRand(7)})
	if err != nil {
		t.Fatal(err)
	}
	if a.Compact() != b.Compact() {
		t.Error("a fixed Rand gave different SD-JWTs")
	}
}

// TestIssuedPayloadShape checks the decoys and the sorting of _sd.
func TestIssuedPayloadShape(t *testing.T) {
	issuer := newKey(t, keys.ES256)
	for _, decoys := range []int{-1, 0, 1, 10} {
		iss, err := sdjwt.IssueVC(patient(nil), sdjwt.Policy{}, sdjwt.IssueOptions{Key: issuer, Decoys: decoys})
		if err != nil {
			t.Fatal(err)
		}
		payload := decodePayload(t, iss.JWT)
		sd := payload["_sd"].([]any)
		n := len(patient(nil).Claims) // every non-reserved top-level claim
		extra := len(sd) - n
		switch {
		case decoys < 0 && extra != 0,
			decoys == 0 && (extra < 1 || extra > sdjwt.DefaultDecoys),
			decoys > 0 && (extra < 1 || extra > decoys):
			t.Errorf("Decoys %d: %d decoys", decoys, extra)
		}
		if !slices.IsSortedFunc(sd, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
			t.Errorf("_sd is not sorted: %v", sd)
		}
		if payload["_sd_alg"] != "sha-256" {
			t.Errorf("_sd_alg %v", payload["_sd_alg"])
		}
		for _, k := range []string{"iss", "iat", "exp", "vct", "status"} {
			if _, ok := payload[k]; !ok {
				t.Errorf("%s is not in the clear", k)
			}
		}
		for _, d := range iss.Disclosures {
			if len(d.Salt()) != 22 { // 128 bits in base64url
				t.Errorf("salt %q", d.Salt())
			}
		}
	}
}

func decodePayload(t testing.TB, jwt string) map[string]any {
	t.Helper()
	seg := strings.Split(jwt, ".")[1]
	var m map[string]any
	if err := json.Unmarshal(mustB64(t, seg), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueRejects(t *testing.T) {
	k := newKey(t, keys.ES256)
	opts := sdjwt.IssueOptions{Key: k}
	for name, tc := range map[string]struct {
		claims map[string]any
		policy sdjwt.Policy
	}{
		"reserved _sd":          {map[string]any{"a": map[string]any{"_sd": 1}}, sdjwt.Policy{}},
		"reserved ...":          {map[string]any{"...": 1}, sdjwt.Policy{}},
		"reserved _sd_alg":      {map[string]any{"_sd_alg": "sha-512"}, sdjwt.Policy{}},
		"missing path":          {map[string]any{"a": 1}, sdjwt.Policy{Paths: [][]any{{"b"}}}},
		"path into scalar":      {map[string]any{"a": 1}, sdjwt.Policy{Paths: [][]any{{"a", "b"}}}},
		"index out of range":    {map[string]any{"a": []any{1}}, sdjwt.Policy{Paths: [][]any{{"a", 1}}}},
		"wildcard on object":    {map[string]any{"a": map[string]any{}}, sdjwt.Policy{Paths: [][]any{{"a", nil}}}},
		"bad path element":      {map[string]any{"a": 1}, sdjwt.Policy{Paths: [][]any{{1.5}}}},
		"always visible listed": {map[string]any{"a": 1}, sdjwt.Policy{AlwaysVisible: []string{"a"}, Paths: [][]any{{"a"}}}},
		"empty path":            {map[string]any{"a": 1}, sdjwt.Policy{Paths: [][]any{{}}}},
	} {
		if _, err := sdjwt.Issue(tc.claims, tc.policy, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := sdjwt.Issue(map[string]any{"a": 1}, sdjwt.Policy{}, sdjwt.IssueOptions{}); err == nil {
		t.Error("no key: no error")
	}
	vc := patient(nil)
	if _, err := sdjwt.IssueVC(vc, sdjwt.Policy{Paths: [][]any{{"status", "status_list"}}}, opts); err == nil {
		t.Error("IssueVC let a reserved claim be disclosable")
	}
	vc.Claims = map[string]any{"iss": "https://evil.example"}
	if _, err := sdjwt.IssueVC(vc, sdjwt.Policy{}, opts); err == nil {
		t.Error("IssueVC let Claims set iss")
	}
	if _, err := sdjwt.IssueVC(patient(nil), sdjwt.Policy{}, sdjwt.IssueOptions{Key: k, Typ: "jwt"}); err == nil {
		t.Error("IssueVC accepted typ jwt")
	}
}

func TestPresentRejects(t *testing.T) {
	issuer, holder, other := newKey(t, keys.ES256), newKey(t, keys.ES256), newKey(t, keys.ES256)
	iss, err := sdjwt.IssueVC(patient(holder.Public()), sdjwt.Policy{}, sdjwt.IssueOptions{Key: issuer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdjwt.Present(iss.Compact(), nil, kbOptions(other)); err == nil {
		t.Error("Present bound the credential to a key that is not cnf.jwk")
	}
	if _, err := sdjwt.Present(strings.TrimSuffix(iss.Compact(), "~"), nil, nil); err == nil {
		t.Error("Present took an SD-JWT without the final ~")
	}
	if _, err := sdjwt.Present(iss.Compact()+iss.Disclosures[0].Encoded()+"~", nil, nil); err == nil {
		t.Error("Present took a repeated disclosure")
	}
	kb := kbOptions(holder)
	kb.Nonce = ""
	if _, err := sdjwt.Present(iss.Compact(), nil, kb); err == nil {
		t.Error("Present made a KB-JWT without a nonce")
	}
}

func TestDisclosureDoesNotPrintItsValue(t *testing.T) {
	d, err := sdjwt.NewDisclosure("salt", "diagnosis", "J45.9 asthma")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(d), fmt.Sprintf("%+v %#v %s %q %x %d", d, d, d, d, d, d), fmt.Sprint([]sdjwt.Disclosure{d})} {
		if strings.Contains(s, "asthma") || strings.Contains(s, d.Encoded()) {
			t.Errorf("printed %s", s)
		}
	}
	for _, name := range []string{"_sd", "..."} {
		if _, err := sdjwt.NewDisclosure("salt", name, 1); err == nil {
			t.Errorf("NewDisclosure accepted the name %q", name)
		}
	}
}

// TestWildcardAndIndexPaths combines "every element" with one position,
// and a path through every element into an object member.
func TestWildcardAndIndexPaths(t *testing.T) {
	issuer := newKey(t, keys.EdDSA)
	claims := map[string]any{
		"iss": issuerURL,
		"ids": []any{
			map[string]any{"system": "a", "value": "secret-0"},
			map[string]any{"system": "b", "value": "secret-1"},
		},
	}
	iss, err := sdjwt.Issue(claims, sdjwt.Policy{
		OnlyPaths: true,
		Paths:     [][]any{{"ids", nil}, {"ids", 1, "value"}, {"ids", nil, "system"}},
	}, sdjwt.IssueOptions{Key: issuer, Typ: "example+sd-jwt", Decoys: -1})
	if err != nil {
		t.Fatal(err)
	}
	// 2 elements, 2 systems, 1 value.
	if len(iss.Disclosures) != 5 {
		t.Fatalf("%d disclosures, want 5", len(iss.Disclosures))
	}
	payload := decodePayload(t, iss.JWT)
	if _, ok := payload["_sd"]; ok {
		t.Error("OnlyPaths without top-level paths made a top-level _sd")
	}
	opts := verifyOptions(issuer)
	opts.ExpectedTyp, opts.RequireKeyBinding = "example+sd-jwt", false
	p, err := sdjwt.Present(iss.Compact(), sdjwt.DisclosePaths([]any{"ids", nil, "system"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sdjwt.Verify(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, v.Claims, `{"iss": "`+issuerURL+`", "ids": [{"system": "a", "value": "secret-0"}, {"system": "b"}]}`)
	if strings.Contains(plaintext(p), "secret-1") {
		t.Error("secret-1 was presented")
	}
}
