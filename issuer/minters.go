package issuer

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/medid/medid/credentials/jwtvc"
	"github.com/medid/medid/credentials/sdjwt"
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
	minted := &Minted{ID: "urn:uuid:" + uuid.NewString()}
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
	id := "urn:uuid:" + uuid.NewString()
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
	return &Minted{Credential: token, ID: id}, nil
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
