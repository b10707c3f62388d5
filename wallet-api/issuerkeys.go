package walletapi

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/medid/medid/did"
	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/wallet-api/vciclient"
)

// issuerKey returns the public key that verification method kid of issuer
// iss had for assertions at time at. A DID issuer is resolved (as of at,
// so credentials signed before a key rotation keep verifying); an https
// issuer's key comes from its JWT VC issuer metadata
// (/.well-known/jwt-vc-issuer).
func (s *Service) issuerKey(ctx context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	if strings.HasPrefix(iss, "did:") {
		return s.didKey(ctx, iss, kid, at)
	}
	if strings.HasPrefix(iss, "https://") || strings.HasPrefix(iss, "http://") {
		return s.jwtVCIssuerKey(ctx, iss, kid)
	}
	return nil, fmt.Errorf("issuer %q is neither a DID nor an https URL", iss)
}

func (s *Service) didKey(ctx context.Context, iss, kid string, at time.Time) (crypto.PublicKey, error) {
	if strings.HasPrefix(kid, "#") {
		kid = iss + kid
	}
	d, _, ok := strings.Cut(kid, "#")
	if !ok || d != iss {
		return nil, fmt.Errorf("kid %q is not a verification method of the issuer %s", kid, iss)
	}
	res, err := s.resolver.Resolve(ctx, iss, did.ResolutionOptions{VersionTime: at})
	if err != nil {
		return nil, fmt.Errorf("resolve the issuer %s: %w", iss, err)
	}
	if res.Document == nil || res.DocumentMetadata.Deactivated {
		return nil, fmt.Errorf("the issuer DID %s is deactivated", iss)
	}
	vm, ok := res.Document.VerificationMethodByID(kid)
	if !ok || !res.Document.Authorized(did.AssertionMethod, vm.ID) {
		return nil, fmt.Errorf("%s is not an assertion method of the issuer", kid)
	}
	return vm.PublicKey()
}

// issuerMetaCache caches JWT VC issuer metadata per issuer.
type issuerMetaCache struct {
	mu      sync.Mutex
	entries map[string]issuerMetaEntry
}

type issuerMetaEntry struct {
	keys    map[string]json.RawMessage // kid → JWK
	fetched time.Time
}

func (s *Service) jwtVCIssuerKey(ctx context.Context, iss, kid string) (crypto.PublicKey, error) {
	now := s.now()
	s.issuers.mu.Lock()
	e, ok := s.issuers.entries[iss]
	s.issuers.mu.Unlock()
	if !ok || now.Sub(e.fetched) > s.opt.StatusTTL {
		jwks, err := s.fetchJWTVCIssuer(ctx, iss)
		if err != nil {
			return nil, err
		}
		e = issuerMetaEntry{keys: jwks, fetched: now}
		s.issuers.mu.Lock()
		s.issuers.entries[iss] = e
		s.issuers.mu.Unlock()
	}
	j, ok := e.keys[kid]
	if !ok && kid == "" && len(e.keys) == 1 {
		for _, only := range e.keys {
			j, ok = only, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("the issuer %s publishes no key %q", iss, kid)
	}
	pub, _, err := keys.PublicKeyFromJWK(j)
	return pub, err
}

func (s *Service) fetchJWTVCIssuer(ctx context.Context, iss string) (map[string]json.RawMessage, error) {
	u, err := vciclient.WellKnownURL(iss, "jwt-vc-issuer")
	if err != nil {
		return nil, err
	}
	b, err := s.fetch(ctx, u, "application/json", 256<<10)
	if err != nil {
		return nil, err
	}
	var md struct {
		Issuer string `json:"issuer"`
		JWKS   *struct {
			Keys []json.RawMessage `json:"keys"`
		} `json:"jwks"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(b, &md); err != nil || md.Issuer != iss {
		return nil, fmt.Errorf("JWT VC issuer metadata of %s is malformed or names another issuer", iss)
	}
	if md.JWKS == nil && md.JWKSURI != "" {
		b, err := s.fetch(ctx, md.JWKSURI, "application/json", 256<<10)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &md.JWKS); err != nil || md.JWKS == nil {
			return nil, errors.New("malformed jwks_uri document")
		}
	}
	if md.JWKS == nil {
		return nil, errors.New("JWT VC issuer metadata has no keys")
	}
	out := map[string]json.RawMessage{}
	for _, k := range md.JWKS.Keys {
		var m struct {
			Kid string `json:"kid"`
		}
		if json.Unmarshal(k, &m) == nil {
			out[m.Kid] = k
		}
	}
	return out, nil
}

// fetch GETs u (which must pass the https rule) and returns at most limit
// bytes of a 200 answer.
func (s *Service) fetch(ctx context.Context, u, accept string, limit int64) ([]byte, error) {
	if _, err := s.vci.CheckURL(u); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("fetch %s: more than %d bytes", u, limit)
	}
	return b, nil
}
