package walletapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/medid/medid/did/didjwk"
	"github.com/medid/medid/did/didkey"
	"github.com/medid/medid/internal/keys"
)

// HolderKey is one of an account's holder keys, public parts only.
type HolderKey struct {
	ID        string          `json:"id"` // the RFC 7638 thumbprint
	Alg       string          `json:"alg"`
	PublicJWK json.RawMessage `json:"public_jwk"`
	// DIDs: did:jwk for every key, did:key too.
	DIDJWK    string    `json:"did_jwk"`
	DIDKey    string    `json:"did_key"`
	CreatedAt time.Time `json:"created_at"`
}

// keyRecord is a holder key at rest (sealed under the account's key).
type keyRecord struct {
	Alg     keys.Algorithm `json:"alg"`
	PKCS8   []byte         `json:"pkcs8"`
	Created time.Time      `json:"created"`
}

func parseAlg(field, alg string) (keys.Algorithm, error) {
	switch alg {
	case "", "ES256":
		return keys.ES256, nil
	case "EdDSA":
		return keys.EdDSA, nil
	}
	return "", fieldErr(field, "must be ES256 (P-256, the default) or EdDSA (Ed25519)")
}

// CreateKey generates a holder key ("ES256", the default, or "EdDSA").
func (s *Service) CreateKey(ctx context.Context, a Account, alg string) (*HolderKey, error) {
	al, err := parseAlg("alg", alg)
	if err != nil {
		return nil, err
	}
	k, err := keys.Generate(al)
	if err != nil {
		return nil, err
	}
	return s.putKey(ctx, a, k, s.now().UTC().Truncate(time.Second))
}

func (s *Service) putKey(ctx context.Context, a Account, k *keys.PrivateKey, created time.Time) (*HolderKey, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	der, err := keys.ExportPKCS8(k)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	sk := dataKey(a.ID, "key", k.Thumbprint())
	sealed, err := v.seal(sk, keyRecord{Alg: k.Algorithm(), PKCS8: der, Created: created})
	if err != nil {
		return nil, err
	}
	if err := s.store.CompareAndSwap(ctx, sk, nil, sealed, 0); err != nil {
		return nil, err
	}
	return holderKeyView(k, created)
}

func holderKeyView(k *keys.PrivateKey, created time.Time) (*HolderKey, error) {
	j, err := k.PublicJWKJSON()
	if err != nil {
		return nil, err
	}
	dj, err := didjwk.New(j)
	if err != nil {
		return nil, err
	}
	dk, err := didkey.New(k.Public())
	if err != nil {
		return nil, err
	}
	return &HolderKey{ID: k.Thumbprint(), Alg: string(k.Algorithm()), PublicJWK: j, DIDJWK: dj.String(),
		DIDKey: dk.String(), CreatedAt: created}, nil
}

// Keys lists the account's holder keys, oldest first.
func (s *Service) Keys(ctx context.Context, a Account) ([]HolderKey, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	out := []HolderKey{}
	err = s.store.List(ctx, dataKey(a.ID, "key", ""), func(k string, raw []byte) error {
		var rec keyRecord
		if err := v.open(k, raw, &rec); err != nil {
			return fmt.Errorf("walletapi: key %s: %w", k, err)
		}
		defer clear(rec.PKCS8)
		pk, err := keys.ParsePKCS8(rec.PKCS8)
		if err != nil {
			return err
		}
		hk, err := holderKeyView(pk, rec.Created)
		if err != nil {
			return err
		}
		out = append(out, *hk)
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// privateKey returns one of the account's holder keys.
func (s *Service) privateKey(ctx context.Context, a Account, id string) (*keys.PrivateKey, error) {
	v, err := s.vault(a)
	if err != nil {
		return nil, err
	}
	if id == "" || len(id) > 64 || strings.Contains(id, "/") {
		return nil, ErrNotFound
	}
	sk := dataKey(a.ID, "key", id)
	raw, err := s.store.Get(ctx, sk)
	if err != nil {
		return nil, notFound(err)
	}
	var rec keyRecord
	if err := v.open(sk, raw, &rec); err != nil {
		return nil, err
	}
	defer clear(rec.PKCS8)
	return keys.ParsePKCS8(rec.PKCS8)
}
