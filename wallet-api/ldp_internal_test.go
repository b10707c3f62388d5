package walletapi

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vciclient"
	"github.com/medid/medid/wallet-api/vpclient"
)

const testIssuerBase = "https://issuer.example"

// otherContext is a context the wallet under test does not know.
var otherContext = jsonld.Context{URL: "https://other.example/ctx/v1",
	Document: []byte(`{"@context": {"nickname": "https://other.example/vocab#nickname"}}`)}

// newLDPService is a wallet that knows the health context of
// testIssuerBase.
func newLDPService(t testing.TB, c *clock) *Service {
	t.Helper()
	s, err := New(boltStore(t), testSealer(t, 1), did.NewResolver(didjwk.Method{}, didkey.Method{}), nil, Options{
		Now: c.Now, AllowHTTPLoopback: true, JSONLDContexts: []jsonld.Context{jsonld.HealthContext(testIssuerBase)},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		PasswordParams: Argon2Params{Time: 1, Memory: 64, Threads: 1},
		BackupParams:   Argon2Params{Time: 1, Memory: 64, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// didJWKKeyOf returns a fresh key of alg and its did:jwk.
func didJWKKeyOf(t testing.TB, alg keys.Algorithm) (*keys.PrivateKey, string) {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := k.PublicJWKJSON()
	d, err := didjwk.New(j)
	if err != nil {
		t.Fatal(err)
	}
	return k, d.String()
}

// signerSuite signs with the health context and otherContext, so that it
// can make credentials the wallet does not know.
var signerSuite = sync.OnceValue(func() *dataintegrity.Suite {
	l, err := jsonld.NewLoader(jsonld.HealthContext(testIssuerBase), otherContext)
	if err != nil {
		panic(err)
	}
	return dataintegrity.New(l)
})

// testVC is an unsigned PatientIdentityCredential of issuer for holder.
func testVC(issuer, holder string, now time.Time) map[string]any {
	return map[string]any{
		"@context": []any{jsonld.CredentialsV2, jsonld.HealthContext(testIssuerBase).URL},
		"id":       "urn:uuid:0b7f5f56-7c4e-4a57-9a57-2f0b0f3c9a11",
		"type":     []any{"VerifiableCredential", "PatientIdentityCredential"},
		"issuer":   issuer, "validFrom": now.Add(-time.Hour).Format(time.RFC3339),
		"validUntil":        now.Add(365 * 24 * time.Hour).Format(time.RFC3339),
		"credentialSubject": map[string]any{"id": holder, "given_name": "Ada", "family_name": "Lovelace", "birthdate": "1990-12-10"},
		"credentialStatus": []any{map[string]any{"id": "https://issuer.example/status/bitstring/r1#7", "type": "BitstringStatusListEntry",
			"statusPurpose": "revocation", "statusListIndex": "7", "statusListCredential": "https://issuer.example/status/bitstring/r1"}},
	}
}

// signVC secures doc with k, a key of issuer's did:jwk.
func signVC(t testing.TB, doc map[string]any, k *keys.PrivateKey, issuer string, now time.Time) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	suite := dataintegrity.EdDSARDFC2022
	if k.Algorithm() == keys.ES256 {
		suite = dataintegrity.ECDSARDFC2019
	}
	out, err := signerSuite().Sign(context.Background(), raw, k.Signer(), dataintegrity.Options{Cryptosuite: suite,
		VerificationMethod: issuer + "#0", Created: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var ldpConfig = vciclient.Configuration{Format: formatLDPVC,
	CredentialDefinition: &vciclient.CredentialDefinition{Type: []string{"VerifiableCredential", "PatientIdentityCredential"}}}

func TestVerifyReceivedLDPVC(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newLDPService(t, c)
	now := c.Now()
	holderKey, holder := didJWKKeyOf(t, keys.ES256)
	for _, alg := range []keys.Algorithm{keys.EdDSA, keys.ES256} {
		ik, issuer := didJWKKeyOf(t, alg)
		raw := signVC(t, testVC(issuer, holder, now), ik, issuer, now)
		vc, err := s.verifyLDP(ctx, ldpConfig, raw)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		thumb := holderKey.Thumbprint()
		if vc.issuer != issuer || vc.typ != "PatientIdentityCredential" || len(vc.types) != 2 || vc.holderThumb != thumb ||
			vc.holderDID != holder || vc.claims["given_name"] != "Ada" || vc.claims["id"] != nil || len(vc.claims) != 3 ||
			vc.expiresAt == nil || vc.issuedAt == nil || !vc.issuedAt.Equal(now.Add(-time.Hour)) {
			t.Fatalf("%s: %+v", alg, vc)
		}
		if len(vc.bitstring) != 1 || vc.bitstring[0] != (statusRef{URI: "https://issuer.example/status/bitstring/r1", Idx: 7,
			Kind: kindBitstring, Purpose: "revocation"}) || vc.statusUnchecked {
			t.Fatalf("%s: status %+v", alg, vc.bitstring)
		}
	}

	ik, issuer := didJWKKeyOf(t, keys.EdDSA)
	_, other := didJWKKeyOf(t, keys.EdDSA)
	good := testVC(issuer, holder, now)
	signed := signVC(t, good, ik, issuer, now)
	var signedMap map[string]any
	json.Unmarshal(signed, &signedMap)
	tamperedSubject := signedMap["credentialSubject"].(map[string]any)
	tamperedSubject = map[string]any{"id": tamperedSubject["id"], "given_name": "Eve", "family_name": "Lovelace", "birthdate": "1990-12-10"}
	mustJSON := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	otherCfg := ldpConfig
	otherCfg.CredentialDefinition = &vciclient.CredentialDefinition{Type: []string{"VerifiableCredential", "ImmunizationCredential"}}
	for _, tc := range []struct {
		name string
		cfg  vciclient.Configuration
		raw  json.RawMessage
		want string // in the error
		is   error
	}{
		{"not an object", ldpConfig, json.RawMessage(`"eyJ.a.b"`), "not a JSON object", nil},
		{"not JSON", ldpConfig, json.RawMessage(`{"@context":`), "not a JSON object", nil},
		{"no proof", ldpConfig, mustJSON(good), "no proof", dataintegrity.ErrMalformed},
		{"a claim changed", ldpConfig, mustJSON(func() map[string]any {
			m := map[string]any{}
			for a, b := range signedMap {
				m[a] = b
			}
			m["credentialSubject"] = tamperedSubject
			return m
		}()), "", dataintegrity.ErrSignature},
		{"signed by another key", ldpConfig, signVC(t, good, func() *keys.PrivateKey { k, _ := didJWKKeyOf(t, keys.EdDSA); return k }(), issuer, now), "", dataintegrity.ErrSignature},
		{"issuer's key, another issuer named", ldpConfig, signVC(t, with("issuer", other), ik, issuer, now), "not a verification method of the issuer", dataintegrity.ErrKey},
		{"issuer not a DID", ldpConfig, signVC(t, with("issuer", "https://issuer.example"), ik, issuer, now), "the issuer is not a DID", nil},
		{"VC 1.1", ldpConfig, mustJSON(with("@context", []any{jsonld.CredentialsV1, jsonld.HealthContext(testIssuerBase).URL})), "first @context", nil},
		{"expired", ldpConfig, signVC(t, with("validUntil", now.Add(-2*time.Minute).Format(time.RFC3339)), ik, issuer, now), "expired", nil},
		{"not yet valid", ldpConfig, signVC(t, with("validFrom", now.Add(time.Hour).Format(time.RFC3339)), ik, issuer, now), "not valid before", nil},
		{"another type", otherCfg, signed, `"ImmunizationCredential"`, nil},
		{"subject list", ldpConfig, signVC(t, with("credentialSubject", []any{map[string]any{"given_name": "A"}, map[string]any{"given_name": "B"}}), ik, issuer, now), "not one object", nil},
		{"malformed status", ldpConfig, signVC(t, with("credentialStatus", map[string]any{"id": "https://issuer.example/s#x", "type": "BitstringStatusListEntry",
			"statusPurpose": "revocation", "statusListIndex": "x", "statusListCredential": "https://issuer.example/s"}), ik, issuer, now), "malformed BitstringStatusListEntry", nil},
	} {
		_, err := s.verifyLDP(ctx, tc.cfg, tc.raw)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v", tc.name, err)
		}
		var se *ServiceError
		if errors.As(err, &se) {
			t.Errorf("%s: a problem of its own (%s), not an invalid credential", tc.name, se.Kind)
		}
	}

	// A context the wallet does not know: refused with a problem naming
	// it, at the credential's top level or inside it.
	top := signVC(t, with("@context", []any{jsonld.CredentialsV2, jsonld.HealthContext(testIssuerBase).URL, otherContext.URL}), ik, issuer, now)
	inner := signVC(t, with("credentialSubject", map[string]any{"@context": otherContext.URL, "id": holder, "nickname": "Ada"}), ik, issuer, now)
	for name, raw := range map[string]json.RawMessage{"top": top, "inner": inner} {
		_, err := s.verifyLDP(ctx, ldpConfig, raw)
		var se *ServiceError
		if !errors.As(err, &se) || se.Kind != "unsupported-credential" || se.Status != http.StatusUnprocessableEntity ||
			!strings.Contains(se.Detail, `"`+otherContext.URL+`"`) || !strings.Contains(se.Detail, "nothing was stored") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// And before anything is redeemed, when the metadata names it.
	cfg := ldpConfig
	cfg.CredentialDefinition = &vciclient.CredentialDefinition{Type: ldpConfig.CredentialDefinition.Type,
		Context: json.RawMessage(`["` + jsonld.CredentialsV2 + `","` + otherContext.URL + `"]`)}
	var se *ServiceError
	if err := s.canHold("x", cfg); !errors.As(err, &se) || !strings.Contains(se.Detail, otherContext.URL) || !strings.Contains(se.Detail, "nothing was redeemed") {
		t.Errorf("canHold: %v", err)
	}
	cfg.CredentialDefinition.Context = json.RawMessage(`["` + jsonld.CredentialsV2 + `","` + jsonld.HealthContext(testIssuerBase).URL + `"]`)
	if err := s.canHold("x", cfg); err != nil {
		t.Errorf("canHold with known contexts: %v", err)
	}
}

// holderKeyFunc resolves a did:jwk verification method to its key.
func holderKeyFunc(ctx context.Context, vm string, _ time.Time) (crypto.PublicKey, error) {
	d, _, _ := strings.Cut(vm, "#")
	return didJWKKey(ctx, d)
}

func TestLDPVPBoundToTheRequest(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newLDPService(t, c)
	now := c.Now()
	ik, issuer := didJWKKeyOf(t, keys.EdDSA)
	r := &vpclient.Request{Nonce: "n-0S6_WzA2Mj", ClientID: "decentralized_identifier:did:example:verifier"}
	for alg, suite := range map[keys.Algorithm]string{keys.ES256: dataintegrity.ECDSARDFC2019, keys.EdDSA: dataintegrity.EdDSARDFC2022} {
		k, holder := didJWKKeyOf(t, alg)
		vc := signVC(t, testVC(issuer, holder, now), ik, issuer, now)
		vp, err := s.ldpVP(ctx, k, holder, vc, r, now)
		if err != nil {
			t.Fatal(err)
		}
		verify := func(doc []byte, challenge, domain string, at time.Time) error {
			_, err := s.di.Verify(ctx, doc, holderKeyFunc, dataintegrity.VerifyOptions{Purpose: dataintegrity.Authentication,
				Challenge: challenge, Domain: domain, Now: at})
			return err
		}
		if err := verify(vp, r.Nonce, r.ClientID, now); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var m map[string]any
		json.Unmarshal(vp, &m)
		proof := m["proof"].(map[string]any)
		if m["holder"] != holder || fmt.Sprint(m["type"]) != "[VerifiablePresentation]" || fmt.Sprint(m["@context"]) != "["+jsonld.CredentialsV2+"]" ||
			proof["cryptosuite"] != suite || proof["verificationMethod"] != holder+"#0" || proof["proofPurpose"] != "authentication" {
			t.Fatalf("%s: %s", alg, vp)
		}
		inner, _ := json.Marshal(m["verifiableCredential"].([]any)[0])
		if err := verifyVCBytes(ctx, s, inner, ik); err != nil {
			t.Fatalf("%s: the embedded credential: %v", alg, err)
		}
		// A verifier expecting another nonce or client_id refuses it.
		if err := verify(vp, "n-other", r.ClientID, now); !errors.Is(err, dataintegrity.ErrChallenge) {
			t.Errorf("%s: another challenge: %v", alg, err)
		}
		if err := verify(vp, r.Nonce, "decentralized_identifier:did:example:other", now); !errors.Is(err, dataintegrity.ErrDomain) {
			t.Errorf("%s: another domain: %v", alg, err)
		}
		if err := verify(vp, r.Nonce, r.ClientID, now.Add(vpLifetime)); !errors.Is(err, dataintegrity.ErrExpired) {
			t.Errorf("%s: after its lifetime: %v", alg, err)
		}
		// A copy whose challenge or domain is changed to the verifier's
		// does not verify.
		for member, val := range map[string]string{"challenge": "n-other", "domain": "decentralized_identifier:did:example:other"} {
			cp := map[string]any{}
			for a, b := range m {
				cp[a] = b
			}
			p := map[string]any{}
			for a, b := range proof {
				p[a] = b
			}
			p[member] = val
			cp["proof"] = p
			b, _ := json.Marshal(cp)
			ch, dom := r.Nonce, r.ClientID
			if member == "challenge" {
				ch = val
			} else {
				dom = val
			}
			if err := verify(b, ch, dom, now); !errors.Is(err, dataintegrity.ErrSignature) {
				t.Errorf("%s: %s changed: %v", alg, member, err)
			}
		}
	}
	k, _ := didJWKKeyOf(t, keys.ES256)
	if _, err := s.ldpVP(ctx, k, "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", json.RawMessage(`{}`), r, now); err == nil {
		t.Error("a holder that is not a did:jwk")
	}
}

func verifyVCBytes(ctx context.Context, s *Service, doc []byte, ik *keys.PrivateKey) error {
	_, err := s.di.Verify(ctx, doc, func(context.Context, string, time.Time) (crypto.PublicKey, error) {
		return ik.Public(), nil
	}, dataintegrity.VerifyOptions{Now: s.now()})
	return err
}

// A Bitstring Status List credential secured with a Data Integrity proof
// (a JSON object) is followed like a vc+jwt one, and must be its issuer's.
func TestBitstringListWithDataIntegrityProof(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newLDPService(t, c)
	now := c.Now()
	a, err := s.CreateAccount(ctx, Credentials{Username: "di-lists", Password: "a good long password"})
	if err != nil {
		t.Fatal(err)
	}
	ik, issuer := didJWKKeyOf(t, keys.EdDSA)
	mk, mallory := didJWKKeyOf(t, keys.EdDSA)
	lists := map[string][]byte{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, ok := lists[r.URL.Path]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vc+ld+json")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	publish := func(path string, set []int, k *keys.PrivateKey, signer string) {
		l, _ := bitstring.New(bitstring.MinEntries)
		for _, i := range set {
			l.Set(i, true)
		}
		enc, _ := l.Encode()
		cred, err := bitstring.NewCredential(bitstring.CredentialParams{ID: srv.URL + path, Issuer: signer, ValidFrom: now,
			ValidUntil: now.Add(time.Hour), Purpose: bitstring.Revocation, EncodedList: enc})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(cred)
		var m map[string]any
		json.Unmarshal(raw, &m)
		mu.Lock()
		lists[path] = signVC(t, m, k, signer, now)
		mu.Unlock()
	}
	publish("/r1", []int{7}, ik, issuer)
	publish("/forged", nil, mk, mallory)
	v, err := s.vault(*a)
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(24 * time.Hour)
	for i, ref := range []statusRef{{URI: srv.URL + "/r1", Idx: 7}, {URI: srv.URL + "/r1", Idx: 8}, {URI: srv.URL + "/forged", Idx: 1}} {
		ref.Kind, ref.Purpose = kindBitstring, "revocation"
		rec := &credRecord{V: 1, Summary: credSummary{ID: fmt.Sprintf("c%d", i), Format: formatLDPVC, ConfigurationID: "x_ldp_vc",
			CredentialIssuer: testIssuerBase, Issuer: issuer, ExpiresAt: &exp, ReceivedAt: now.Add(time.Duration(i) * time.Second),
			Copies: 1, Status: []statusRef{ref}}}
		if err := s.putCredential(ctx, v, a.ID, rec); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Credentials(ctx, *a)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, cr := range list {
		got[cr.ID] = cr.Status
	}
	if got["c0"] != StatusRevoked || got["c1"] != StatusValid || got["c2"] != StatusUnknown {
		t.Fatalf("statuses: %v", got)
	}
}

// A credential endpoint that answers with an ldp_vc naming a context the
// wallet does not know (not announced in the metadata): the problem names
// the context; a credential that does not verify is invalid-credential.
func TestReceiptRefusesUnknownContext(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newLDPService(t, c)
	now := c.Now()
	ik, issuer := didJWKKeyOf(t, keys.EdDSA)
	_, holder := didJWKKeyOf(t, keys.EdDSA)
	doc := testVC(issuer, holder, now)
	doc["@context"] = []any{jsonld.CredentialsV2, jsonld.HealthContext(testIssuerBase).URL, otherContext.URL}
	unknown := signVC(t, doc, ik, issuer, now)
	var answer json.RawMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"credentials":[{"credential":%s}]}`, answer)
	}))
	t.Cleanup(srv.Close)
	lo := &loadedOffer{md: &vciclient.IssuerMetadata{CredentialIssuer: srv.URL, CredentialEndpoint: srv.URL + "/credential"}}
	tok := &vciclient.Token{AccessToken: "at", TokenType: "Bearer"}

	answer = unknown
	_, _, err := s.requestCredential(ctx, lo, tok, "x_ldp_vc", ldpConfig, nil)
	var se *ServiceError
	if !errors.As(err, &se) || se.Kind != "unsupported-credential" || !strings.Contains(se.Detail, `"`+otherContext.URL+`"`) {
		t.Fatalf("unknown context: %v", err)
	}
	good := signVC(t, testVC(issuer, holder, now), ik, issuer, now)
	answer = good
	rec, _, err := s.requestCredential(ctx, lo, tok, "x_ldp_vc", ldpConfig, nil)
	if err != nil || rec.Summary.Format != formatLDPVC || len(rec.Types) != 2 || rec.Summary.Type != "PatientIdentityCredential" ||
		len(rec.Summary.Status) != 1 || rec.Summary.Status[0].Kind != kindBitstring {
		t.Fatalf("received: %v %+v", err, rec)
	}
	answer = json.RawMessage(strings.Replace(string(good), `"Ada"`, `"Eve"`, 1))
	if _, _, err := s.requestCredential(ctx, lo, tok, "x_ldp_vc", ldpConfig, nil); !errors.As(err, &se) || se.Kind != "invalid-credential" {
		t.Fatalf("tampered: %v", err)
	}
	// A string where an ldp_vc's object belongs.
	answer = json.RawMessage(`"eyJhbGciOiJFUzI1NiJ9.e30.sig"`)
	if _, _, err := s.requestCredential(ctx, lo, tok, "x_ldp_vc", ldpConfig, nil); !errors.As(err, &se) || se.Kind != "invalid-credential" {
		t.Fatalf("a string: %v", err)
	}
}

// BenchmarkBuildVP compares building an ldp_vc VP (Data Integrity over
// the RDFC-canonicalized VP and credential) with a jwt_vc_json VP JWT.
func BenchmarkBuildVP(b *testing.B) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := newLDPService(b, c)
	now := c.Now()
	ik, issuer := didJWKKeyOf(b, keys.EdDSA)
	k, holder := didJWKKeyOf(b, keys.ES256)
	vc := signVC(b, testVC(issuer, holder, now), ik, issuer, now)
	r := &vpclient.Request{Nonce: "n-0S6_WzA2Mj", ClientID: "decentralized_identifier:did:example:verifier"}
	b.Run("ldp_vc", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ldpVP(ctx, k, holder, vc, r, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt_vc_json", func(b *testing.B) {
		for b.Loop() {
			if _, err := jwtVP(k, holder, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", r, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
