package walletapi

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/medid/medid/credentials/dataintegrity"
	"github.com/medid/medid/credentials/jsonld"
	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/did"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vciclient"
	"github.com/medid/medid/wallet-api/vpclient"
)

// formatLDPVC is a W3C VC Data Model 2.0 credential secured with a Data
// Integrity proof, held and presented as a JSON object.
const formatLDPVC = "ldp_vc"

// w3cSkew is the clock skew allowed on a W3C credential's validity times.
const w3cSkew = 60 * time.Second

// vpLifetime is how long a presentation's proof (or JWT) stays valid.
const vpLifetime = 5 * time.Minute

// contextURLs returns the URLs of a JSON-LD @context value (a URL, or an
// array of URLs and inline contexts; inline contexts are skipped).
func contextURLs(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	list, _ := v.([]any)
	for _, c := range list {
		if s, ok := c.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkContexts refuses the first of urls the wallet's JSON-LD loader does
// not know; outcome says what became of the offer ("nothing was
// redeemed", "nothing was stored").
func (s *Service) checkContexts(urls []string, outcome string) error {
	for _, u := range urls {
		if _, err := s.jsonld.Document(u); err != nil {
			return unknownContext(u, outcome, err)
		}
	}
	return nil
}

func unknownContext(u, outcome string, cause error) error {
	return &ServiceError{Status: http.StatusUnprocessableEntity, Kind: "unsupported-credential", Field: "offer",
		Detail: fmt.Sprintf("the credential uses the JSON-LD context %q, which this wallet does not know (it never fetches contexts); %s",
			clipText(u, 256), outcome), Cause: cause}
}

// typeStrings returns a W3C VC's type value as strings.
func typeStrings(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	list, _ := v.([]any)
	for _, t := range list {
		if s, ok := t.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// w3cValidity reads validFrom and validUntil and checks them against now.
func w3cValidity(cred map[string]any, now time.Time) (from, until time.Time, err error) {
	read := func(name string) (time.Time, error) {
		v, ok := cred[name]
		if !ok {
			return time.Time{}, nil
		}
		str, _ := v.(string)
		t, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not an RFC 3339 date-time", name)
		}
		return t.UTC(), nil
	}
	if from, err = read("validFrom"); err != nil {
		return
	}
	if until, err = read("validUntil"); err != nil {
		return
	}
	switch {
	case !until.IsZero() && !now.Before(until.Add(w3cSkew)):
		err = fmt.Errorf("expired at %s", until.Format(time.RFC3339))
	case !from.IsZero() && now.Add(w3cSkew).Before(from):
		err = fmt.Errorf("not valid before %s", from.Format(time.RFC3339))
	}
	return
}

// verifyDI checks a Data Integrity secured VC 2.0 document issued by a DID:
// its contexts are known, its proof is by an assertion method of the
// issuer's DID (resolved as of the proof's creation), and it is valid now.
func (s *Service) verifyDI(ctx context.Context, raw []byte, outcome string) (map[string]any, *dataintegrity.Verified, error) {
	var cred map[string]any
	if err := json.Unmarshal(raw, &cred); err != nil || cred == nil {
		return nil, nil, errors.New("not a JSON object")
	}
	urls := contextURLs(cred["@context"])
	if len(urls) == 0 || urls[0] != jsonld.CredentialsV2 {
		return nil, nil, fmt.Errorf("the first @context is not %s", jsonld.CredentialsV2)
	}
	if err := s.checkContexts(urls, outcome); err != nil {
		return nil, nil, err
	}
	iss := jwtvc.IDOf(cred["issuer"])
	if _, err := did.Parse(iss); err != nil {
		return nil, nil, errors.New("the issuer is not a DID")
	}
	now := s.now()
	v, err := s.di.Verify(ctx, raw, func(ctx context.Context, vm string, at time.Time) (crypto.PublicKey, error) {
		return s.issuerKey(ctx, iss, vm, at)
	}, dataintegrity.VerifyOptions{Now: now})
	var uc *jsonld.UnknownContextError
	if errors.As(err, &uc) {
		return nil, nil, unknownContext(uc.URL, outcome, err)
	}
	if err != nil {
		return nil, nil, err
	}
	if _, _, err := w3cValidity(cred, now); err != nil {
		return nil, nil, err
	}
	return cred, v, nil
}

// verifyLDP verifies an ldp_vc just received (a JSON object): VC 2.0 with
// contexts the wallet knows, the issuer's Data Integrity proof, validity
// times, the configuration's types, and the holder binding through
// credentialSubject.id (a did:jwk). A context the wallet does not know is
// a *ServiceError naming it.
func (s *Service) verifyLDP(ctx context.Context, cfg vciclient.Configuration, raw json.RawMessage) (*receivedVC, error) {
	cred, v, err := s.verifyDI(ctx, raw, "nothing was stored")
	if err != nil {
		return nil, err
	}
	out := &receivedVC{issuer: jwtvc.IDOf(cred["issuer"]), claims: map[string]any{}, types: typeStrings(cred["type"])}
	if !slices.Contains(out.types, "VerifiableCredential") {
		return nil, errors.New("type does not include VerifiableCredential")
	}
	if cfg.CredentialDefinition != nil {
		for _, t := range cfg.CredentialDefinition.Type {
			if !slices.Contains(out.types, t) {
				return nil, fmt.Errorf("type does not include the configuration's %q", t)
			}
		}
	}
	for _, t := range out.types {
		if t != "VerifiableCredential" {
			out.typ = t
		}
	}
	from, until, _ := w3cValidity(cred, s.now())
	if from.IsZero() {
		from = v.Proof.Created.UTC()
	}
	if !from.IsZero() {
		out.issuedAt = &from
	}
	if !until.IsZero() {
		out.expiresAt = &until
	}
	if cs, ok := cred["credentialStatus"]; ok {
		if out.bitstring, out.statusUnchecked, err = parseCredentialStatus(cs); err != nil {
			return nil, err
		}
	}
	subject := cred["credentialSubject"]
	if list, ok := subject.([]any); ok && len(list) == 1 {
		subject = list[0]
	}
	sm, ok := subject.(map[string]any)
	if !ok {
		return nil, errors.New("credentialSubject is not one object")
	}
	for k, val := range sm {
		if k != "id" {
			out.claims[k] = val
		}
	}
	// Bound through the subject's did:jwk, which is then the holder of
	// every presentation of this copy.
	if id, _ := sm["id"].(string); strings.HasPrefix(id, "did:"+didjwk.MethodName+":") {
		pub, err := didJWKKey(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("credentialSubject.id: %w", err)
		}
		if out.holderThumb, err = keys.ThumbprintOf(pub); err != nil {
			return nil, err
		}
		out.holderDID = id
	}
	return out, nil
}

// ldpVP is a VC Data Model 2.0 presentation of vc (a stored ldp_vc) by
// holder, the copy's did:jwk, secured with a Data Integrity proof by the
// copy's key (ecdsa-rdfc-2019 for P-256, eddsa-rdfc-2022 for Ed25519)
// for authentication, bound to the request's nonce (challenge) and
// client_id (domain). It is the vp_token entry itself, a JSON object.
func (s *Service) ldpVP(ctx context.Context, k *keys.PrivateKey, holder string, vc json.RawMessage, r *vpclient.Request, now time.Time) (json.RawMessage, error) {
	if !strings.HasPrefix(holder, "did:"+didjwk.MethodName+":") {
		return nil, errors.New("walletapi: the copy's holder is not a did:jwk")
	}
	var suite string
	switch k.Algorithm() {
	case keys.ES256:
		suite = dataintegrity.ECDSARDFC2019
	case keys.EdDSA:
		suite = dataintegrity.EdDSARDFC2022
	default:
		return nil, fmt.Errorf("walletapi: holder key alg %s", k.Algorithm())
	}
	doc, err := json.Marshal(map[string]any{
		"@context":             []string{jsonld.CredentialsV2},
		"type":                 []string{"VerifiablePresentation"},
		"holder":               holder,
		"verifiableCredential": []json.RawMessage{vc},
	})
	if err != nil {
		return nil, err
	}
	out, err := s.di.Sign(ctx, doc, k.Signer(), dataintegrity.Options{Cryptosuite: suite,
		VerificationMethod: holder + "#0", ProofPurpose: dataintegrity.Authentication,
		Created: now, Expires: now.Add(vpLifetime), Challenge: r.Nonce, Domain: r.ClientID})
	if err != nil {
		return nil, fmt.Errorf("walletapi: sign the presentation: %w", err)
	}
	return out, nil
}
