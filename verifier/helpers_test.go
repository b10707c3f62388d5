package verifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/medid/medid/credentials/health"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/credentials/status/tokenlist"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv/boltkv"
	"github.com/medid/medid/verifier"
	"github.com/medid/medid/verifier/statuscheck"
	"github.com/medid/medid/verifier/trust"
)

// t0 is when the test credentials are issued.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	nonce    = "n-0S6_WzA2Mj"
	audience = "https://verifier.example"
	vctBase  = "https://issuer.example"
)

var patientVCT = health.TypePatientIdentity

func vctOf(name string) string { return vctBase + "/vct/" + name }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// party is a key with its DID: did:jwk for ES256 keys, did:key for EdDSA.
type party struct {
	key *keys.PrivateKey
	did string
	kid string
}

func newParty(t testing.TB, alg keys.Algorithm) party {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	if alg == keys.EdDSA {
		d, err := didkey.New(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return party{key: k, did: d.String(), kid: d.String() + "#" + d.ID()}
	}
	j, err := k.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	d, err := didjwk.New(j)
	if err != nil {
		t.Fatal(err)
	}
	return party{key: k, did: d.String(), kid: d.String() + "#0"}
}

func (p party) jwk(t testing.TB) json.RawMessage {
	j, err := p.key.PublicJWKJSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// statusServer serves the issuer's Token Status List at /token and its
// Bitstring revocation and suspension lists at /revocation and
// /suspension, each signed with the issuer's key.
type statusServer struct {
	*httptest.Server
	t      testing.TB
	issuer party
	mu     sync.Mutex
	token  *tokenlist.List
	bits   map[bitstring.Purpose]*bitstring.List
	down   atomic.Bool
	hits   atomic.Int64
}

func newStatusServer(t testing.TB, issuer party) *statusServer {
	s := &statusServer{t: t, issuer: issuer, bits: map[bitstring.Purpose]*bitstring.List{}}
	var err error
	if s.token, err = tokenlist.New(2, 4096); err != nil {
		t.Fatal(err)
	}
	for _, p := range []bitstring.Purpose{bitstring.Revocation, bitstring.Suspension} {
		if s.bits[p], err = bitstring.New(bitstring.MinEntries); err != nil {
			t.Fatal(err)
		}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *statusServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if s.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := t0
	uri := s.URL + r.URL.Path
	switch r.URL.Path {
	case "/token":
		tok, err := tokenlist.SignJWT(s.token, uri, now, now.Add(365*24*time.Hour), time.Minute, s.issuer.key, s.issuer.kid)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", tokenlist.MediaType)
		fmt.Fprint(w, tok)
	case "/revocation", "/suspension":
		p := bitstring.Purpose(strings.TrimPrefix(r.URL.Path, "/"))
		enc, err := s.bits[p].Encode()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		c, err := bitstring.NewCredential(bitstring.CredentialParams{ID: uri, Issuer: s.issuer.did, ValidFrom: now, Purpose: p, EncodedList: enc, TTL: time.Minute})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		b, _ := json.Marshal(c)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		tok, err := jwtvc.IssueVCJWT(m, jwtvc.IssueOptions{Issuer: s.issuer.did, KID: s.issuer.kid, Key: s.issuer.key, IssuedAt: now, ID: uri})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/vc+jwt")
		fmt.Fprint(w, tok)
	default:
		http.NotFound(w, r)
	}
}

func (s *statusServer) setToken(idx int, v uint8) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.token.Set(idx, v); err != nil {
		s.t.Fatal(err)
	}
}

func (s *statusServer) setBit(p bitstring.Purpose, idx int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.bits[p].Set(idx, true); err != nil {
		s.t.Fatal(err)
	}
}

// world is a verifier with a trusted issuer, a holder and a status server.
type world struct {
	t        testing.TB
	clock    *clock
	issuer   party
	holder   party
	status   *statusServer
	trust    *trust.Registry
	resolver *did.Resolver
	v        *verifier.Verifier
	nextIdx  int
}

func newWorld(t testing.TB, mod ...func(*verifier.Options)) *world {
	t.Helper()
	w := &world{t: t, clock: &clock{t: t0.Add(time.Hour)}}
	w.issuer = newParty(t, keys.ES256)
	w.holder = newParty(t, keys.ES256)
	w.status = newStatusServer(t, w.issuer)
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w.trust = trust.New(store, w.clock.Now)
	ctx := context.Background()
	for _, typ := range []string{vctOf(health.TypePatientIdentity), health.TypePatientIdentity, vctOf(health.TypeHealthConsent)} {
		if _, err := w.trust.Set(ctx, typ, []string{w.issuer.did}); err != nil {
			t.Fatal(err)
		}
	}
	w.resolver = did.NewResolver(didjwk.Method{}, didkey.Method{})
	opts := verifier.Options{Resolver: w.resolver, Trust: w.trust, Now: w.clock.Now,
		Status: statuscheck.Options{AllowHTTP: true, Timeout: 2 * time.Second}}
	for _, m := range mod {
		m(&opts)
	}
	if w.v, err = verifier.New(opts); err != nil {
		t.Fatal(err)
	}
	return w
}

func patientClaims() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(`{
		"given_name": "Ada",
		"family_name": "Lovelace",
		"birthdate": "1990-12-10",
		"gender": "female",
		"identifiers": [{"system": "https://hospital.example/mrn", "value": "MRN-0042", "type": "MRN"}],
		"assurance_level": "substantial"
	}`), &m)
	return m
}

// sdOpts change an SD-JWT VC before it is issued.
type sdOpts struct {
	issuer   *party
	claims   map[string]any
	vct      string
	expires  time.Time
	noStatus bool
	typ      string
	iat      time.Time // zero: t0
}

// issueSD issues a patient identity SD-JWT VC bound to the holder, with a
// status list entry (its index is returned).
func (w *world) issueSD(o sdOpts) (string, int) {
	w.t.Helper()
	iss := w.issuer
	if o.issuer != nil {
		iss = *o.issuer
	}
	if o.claims == nil {
		o.claims = patientClaims()
	}
	if o.vct == "" {
		o.vct = vctOf(health.TypePatientIdentity)
	}
	if o.expires.IsZero() {
		o.expires = t0.Add(365 * 24 * time.Hour)
	}
	if o.iat.IsZero() {
		o.iat = t0
	}
	w.nextIdx++
	idx := w.nextIdx
	vc := sdjwt.VCClaims{VCT: o.vct, Issuer: iss.did, IssuedAt: o.iat, Expires: o.expires, Holder: w.holder.key.Public(), Claims: o.claims}
	if !o.noStatus {
		vc.Status = &sdjwt.StatusListRef{Index: idx, URI: w.status.URL + "/token"}
	}
	t, _ := health.LookupType(health.TypePatientIdentity)
	policy := sdjwt.Policy{AlwaysVisible: t.NeverDisclosable()}
	if o.typ != "" {
		// sdjwt.IssueVC insists on dc+sd-jwt; build the same claims by
		// hand for a credential that carries another typ.
		claims := map[string]any{"vct": o.vct, "iss": iss.did, "iat": o.iat.Unix(), "exp": o.expires.Unix()}
		for k, v := range o.claims {
			claims[k] = v
		}
		claims["cnf"] = map[string]any{"jwk": json.RawMessage(w.holder.jwk(w.t))}
		var norm map[string]any
		b, _ := json.Marshal(claims)
		_ = json.Unmarshal(b, &norm)
		issued, err := sdjwt.Issue(norm, sdjwt.Policy{AlwaysVisible: append(policy.AlwaysVisible, "vct", "iss", "iat", "exp", "cnf")},
			sdjwt.IssueOptions{Key: iss.key, KeyID: iss.kid, Typ: o.typ})
		if err != nil {
			w.t.Fatal(err)
		}
		return issued.Compact(), idx
	}
	issued, err := sdjwt.IssueVC(vc, policy, sdjwt.IssueOptions{Key: iss.key, KeyID: iss.kid})
	if err != nil {
		w.t.Fatal(err)
	}
	return issued.Compact(), idx
}

// present discloses paths with a Key Binding JWT for nonce and aud.
func (w *world) present(sd string, nonce, aud string, paths ...[]any) string {
	w.t.Helper()
	var kb *sdjwt.KeyBindingOptions
	if nonce != "" {
		kb = &sdjwt.KeyBindingOptions{Key: w.holder.key, Nonce: nonce, Audience: aud, IssuedAt: w.clock.Now()}
	}
	p, err := sdjwt.Present(sd, sdjwt.DisclosePaths(paths...), kb)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// jwtOpts change a JWT VC before it is issued.
type jwtOpts struct {
	format     jwtvc.Format
	issuer     *party
	subject    string
	validFrom  time.Time
	validUntil time.Time
	status     bitstring.Purpose // "" for none
	claims     map[string]any
}

// issueJWT issues a patient identity credential as jwt_vc_json or vc+jwt
// whose subject is the holder's DID, with a bitstring status entry when
// o.status is set; it returns the token and the status index.
func (w *world) issueJWT(o jwtOpts) (string, int) {
	w.t.Helper()
	iss := w.issuer
	if o.issuer != nil {
		iss = *o.issuer
	}
	if o.subject == "" {
		o.subject = w.holder.did
	}
	if o.validFrom.IsZero() {
		o.validFrom = t0
	}
	if o.validUntil.IsZero() {
		o.validUntil = t0.Add(365 * 24 * time.Hour)
	}
	if o.claims == nil {
		o.claims = patientClaims()
	}
	subject := map[string]any{"id": o.subject}
	for k, v := range o.claims {
		subject[k] = v
	}
	ctx := "https://www.w3.org/ns/credentials/v2"
	if o.format == jwtvc.JWTVCJSON {
		ctx = "https://www.w3.org/2018/credentials/v1"
	}
	vc := map[string]any{"@context": []any{ctx, vctBase + health.ContextPath},
		"type": []any{"VerifiableCredential", health.TypePatientIdentity}, "credentialSubject": subject}
	w.nextIdx++
	idx := w.nextIdx
	if o.status != "" {
		e, err := bitstring.NewEntry(w.status.URL+"/"+string(o.status), o.status, idx)
		if err != nil {
			w.t.Fatal(err)
		}
		vc["credentialStatus"] = e
	}
	io := jwtvc.IssueOptions{Issuer: iss.did, KID: iss.kid, Key: iss.key, IssuedAt: t0, ValidFrom: o.validFrom,
		ValidUntil: o.validUntil, ID: fmt.Sprintf("urn:uuid:%08d-0000-4000-8000-000000000000", idx)}
	var tok string
	var err error
	if o.format == jwtvc.JWTVCJSON {
		tok, err = jwtvc.IssueJWTVCJSON(vc, io)
	} else {
		tok, err = jwtvc.IssueVCJWT(vc, io)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return tok, idx
}

// vpOpts change a JWT VP.
type vpOpts struct {
	signer   *party
	nonce    string
	aud      any
	iat      time.Time
	alg      string
	typ      string
	noNonce  bool
	holderID string
}

// jwtVP signs a JWT presentation of creds.
func (w *world) jwtVP(creds []any, o vpOpts) string {
	w.t.Helper()
	p := w.holder
	if o.signer != nil {
		p = *o.signer
	}
	if o.nonce == "" {
		o.nonce = nonce
	}
	if o.aud == nil {
		o.aud = audience
	}
	if o.iat.IsZero() {
		o.iat = w.clock.Now()
	}
	if o.typ == "" {
		o.typ = "JWT"
	}
	vp := map[string]any{"@context": []any{"https://www.w3.org/2018/credentials/v1"}, "type": []any{"VerifiablePresentation"},
		"verifiableCredential": creds}
	if o.holderID != "" {
		vp["holder"] = o.holderID
	}
	claims := map[string]any{"iss": p.did, "aud": o.aud, "iat": o.iat.Unix(), "vp": vp}
	if !o.noNonce {
		claims["nonce"] = o.nonce
	}
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, o.typ)
	_ = h.Set(jws.KeyIDKey, p.kid)
	alg := jwa.ES256()
	if p.key.Algorithm() == keys.EdDSA {
		alg = jwa.EdDSA()
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, p.key.Signer(), jws.WithProtectedHeaders(h)))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(out)
}

// jsonString encodes s as a JSON string value.
func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// envelope wraps a compact token in an EnvelopedVerifiableCredential (or
// Presentation) with a data: URL of media type application/<media>.
func envelope(kind, media, token string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"@context": []any{"https://www.w3.org/ns/credentials/v2"},
		"type":     kind,
		"id":       "data:application/" + media + "," + token,
	})
	return b
}

// verificationError asserts that err is a *VerificationError in which
// check failed with a reason containing want, and returns it.
func verificationError(t testing.TB, err error, check verifier.CheckName, want string) *verifier.VerificationError {
	t.Helper()
	ve, ok := err.(*verifier.VerificationError)
	if !ok {
		t.Fatalf("want a *VerificationError failing %s, got %T: %v", check, err, err)
	}
	if !ve.Has(check) {
		t.Fatalf("want check %s to fail, failed: %v (%v)", check, ve.FailedNames(), ve)
	}
	if r := ve.Reason(check); !strings.Contains(strings.ToLower(r), strings.ToLower(want)) {
		t.Fatalf("check %s failed with %q, want a reason containing %q", check, r, want)
	}
	return ve
}
