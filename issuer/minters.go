package issuer

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
	"github.com/medid/medid/credentials/status/bitstring"
	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/internal/keys"
)

// IssuerKey is the issuer's signing identity: its DID, the DID URL of the
// verification method and the private key.
type IssuerKey struct {
	DID string
	KID string
	Key *keys.PrivateKey
}

// KeySource returns the issuer's current key for an algorithm.
type KeySource func(ctx context.Context, alg keys.Algorithm) (IssuerKey, error)

// StatusSource allocates a status list entry for a new credential and
// returns its list URI and index (Token Status List for SD-JWT VC).
type StatusSource func(ctx context.Context) (uri string, index int, err error)

// BitstringSource allocates the W3C Bitstring Status List entries
// (revocation and suspension) of a new VC Data Model credential.
type BitstringSource func(ctx context.Context) ([]bitstring.Entry, error)

// newCredentialID returns a fresh credential id: the urn:uuid of a
// version 7 UUID (RFC 9562), a millisecond timestamp then 74 bits of which
// 62 are random. Ids issued one after another sort together, so their
// issuance records go to the end of the store's index instead of all over
// it: a commit of many records writes a few pages rather than a page per
// record (a credential states its issuance time anyway).
func newCredentialID() string {
	return "urn:uuid:" + uuid.Must(uuid.NewV7()).String()
}

// SDJWTMinter issues SD-JWT VCs (dc+sd-jwt): every claim selectively
// disclosable except the configuration's AlwaysVisible ones, holder-bound
// through cnf.jwk, with fresh salts and decoys per credential.
type SDJWTMinter struct {
	Keys     KeySource
	Status   StatusSource // optional
	Now      func() time.Time
	ValidFor time.Duration // default one year
}

// Mint implements Minter.
func (m *SDJWTMinter) Mint(ctx context.Context, req MintRequest) (*Minted, error) {
	k, err := m.Keys(ctx, keys.ES256)
	if err != nil {
		return nil, err
	}
	now := nowOf(m.Now)
	vc := sdjwt.VCClaims{VCT: req.Configuration.VCT, Issuer: k.DID, IssuedAt: now,
		Expires: now.Add(validFor(m.ValidFor)), Holder: req.Holder, Claims: req.Claims}
	minted := &Minted{ID: newCredentialID()}
	if m.Status != nil {
		uri, idx, err := m.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("issuer: status entry: %w", err)
		}
		vc.Status = &sdjwt.StatusListRef{Index: idx, URI: uri}
		minted.Status = fmt.Sprintf("%s#%d", uri, idx)
	}
	issued, err := sdjwt.IssueVC(vc, sdjwt.Policy{AlwaysVisible: req.Configuration.AlwaysVisible},
		sdjwt.IssueOptions{Key: k.Key, KeyID: k.KID})
	if err != nil {
		return nil, err
	}
	minted.Credential = issued.Compact()
	return minted, nil
}

// JWTMinter issues jwt_vc_json (VCDM 1.1) or vc+jwt (VCDM 2.0)
// credentials whose subject is the holder's did:jwk.
type JWTMinter struct {
	Format   jwtvc.Format
	Keys     KeySource
	Status   BitstringSource // optional
	Now      func() time.Time
	ValidFor time.Duration // default one year
}

// Mint implements Minter.
func (m *JWTMinter) Mint(ctx context.Context, req MintRequest) (*Minted, error) {
	k, err := m.Keys(ctx, keys.ES256)
	if err != nil {
		return nil, err
	}
	holder, err := didjwk.New(req.HolderJWK)
	if err != nil {
		return nil, fmt.Errorf("issuer: holder did:jwk: %w", err)
	}
	subject := map[string]any{"id": holder.String()}
	for c, v := range req.Claims {
		subject[c] = v
	}
	base := "https://www.w3.org/ns/credentials/v2"
	if m.Format == jwtvc.JWTVCJSON {
		base = "https://www.w3.org/2018/credentials/v1"
	}
	ctxs := []any{base}
	if req.Configuration.ContextURL != "" {
		ctxs = append(ctxs, req.Configuration.ContextURL)
	}
	types := []any{"VerifiableCredential"}
	for _, t := range req.Configuration.Types {
		if t != "VerifiableCredential" {
			types = append(types, t)
		}
	}
	// No credentialSchema: our schemas describe the claims, while the VC
	// JSON Schema spec applies a credentialSchema to the whole credential.
	vc := map[string]any{"@context": ctxs, "type": types, "credentialSubject": subject}
	now := nowOf(m.Now)
	id := newCredentialID()
	minted := &Minted{ID: id}
	if m.Status != nil {
		entries, err := m.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("issuer: status entry: %w", err)
		}
		vc["credentialStatus"] = statusValue(entries)
		minted.Bitstring = entries
	}
	o := jwtvc.IssueOptions{Issuer: k.DID, KID: k.KID, Key: k.Key, IssuedAt: now, ValidFrom: now,
		ValidUntil: now.Add(validFor(m.ValidFor)), ID: id}
	var token string
	if m.Format == jwtvc.JWTVCJSON {
		token, err = jwtvc.IssueJWTVCJSON(vc, o)
	} else {
		token, err = jwtvc.IssueVCJWT(vc, o)
	}
	if err != nil {
		return nil, err
	}
	minted.Credential = token
	return minted, nil
}

// statusValue is the credentialStatus of a credential with entries, as
// decoded JSON (what the JSON and JSON-LD encoders read fastest).
func statusValue(entries []bitstring.Entry) any {
	out := make([]any, len(entries))
	for i, e := range entries {
		m := map[string]any{"type": e.Type, "statusPurpose": string(e.StatusPurpose),
			"statusListIndex": e.StatusListIndex, "statusListCredential": e.StatusListCredential}
		if e.ID != "" {
			m["id"] = e.ID
		}
		out[i] = m
	}
	return out
}

// DIMinter issues ldp_vc credentials: VC Data Model 2.0 secured with a
// Data Integrity proof (Cryptosuite, default eddsa-rdfc-2022), whose
// subject is the holder's did:jwk, with Bitstring Status List entries.
type DIMinter struct {
	Keys        KeySource
	Status      BitstringSource // optional
	Cryptosuite string
	// Sign adds the proof (the server's Data Integrity suite).
	Sign     func(ctx context.Context, doc map[string]any, k IssuerKey, cryptosuite string) (map[string]any, error)
	Now      func() time.Time
	ValidFor time.Duration // default one year
}

// Mint implements Minter.
func (m *DIMinter) Mint(ctx context.Context, req MintRequest) (*Minted, error) {
	suite, alg := m.Cryptosuite, keys.EdDSA
	switch suite {
	case "", EdDSARDFC2022:
		suite = EdDSARDFC2022
	case ECDSARDFC2019:
		alg = keys.ES256
	default:
		return nil, fmt.Errorf("issuer: unknown cryptosuite %q", suite)
	}
	k, err := m.Keys(ctx, alg)
	if err != nil {
		return nil, err
	}
	holder, err := didjwk.New(req.HolderJWK)
	if err != nil {
		return nil, fmt.Errorf("issuer: holder did:jwk: %w", err)
	}
	subject := map[string]any{"id": holder.String()}
	for c, v := range req.Claims {
		subject[c] = v
	}
	ctxs := []any{"https://www.w3.org/ns/credentials/v2"}
	if req.Configuration.ContextURL != "" {
		ctxs = append(ctxs, req.Configuration.ContextURL)
	}
	types := []any{"VerifiableCredential"}
	for _, t := range req.Configuration.Types {
		if t != "VerifiableCredential" {
			types = append(types, t)
		}
	}
	now := nowOf(m.Now)
	minted := &Minted{ID: newCredentialID()}
	vc := map[string]any{"@context": ctxs, "id": minted.ID, "type": types, "issuer": k.DID,
		"validFrom": now.Format(time.RFC3339), "validUntil": now.Add(validFor(m.ValidFor)).Format(time.RFC3339),
		"credentialSubject": subject}
	if m.Status != nil {
		if minted.Bitstring, err = m.Status(ctx); err != nil {
			return nil, fmt.Errorf("issuer: status entry: %w", err)
		}
		vc["credentialStatus"] = statusValue(minted.Bitstring)
	}
	signed, err := m.Sign(ctx, vc, k, suite)
	if err != nil {
		return nil, err
	}
	minted.Credential = signed
	return minted, nil
}

func nowOf(f func() time.Time) time.Time {
	if f == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return f().UTC().Truncate(time.Second)
}

func validFor(d time.Duration) time.Duration {
	if d <= 0 {
		return 365 * 24 * time.Hour
	}
	return d
}
