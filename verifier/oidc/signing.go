package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/medid/medid/internal/keys"
	"github.com/medid/medid/internal/kv"
)

// Signing key rotation. The key in Options signs ID tokens until a
// rotation: RotateSigningKey makes a new key, publishes it in the JWKS at
// once and signs with it from activationDelay on, so that relying
// parties, which may cache the JWKS for its max-age (300 s), hold the new
// key before any token needs it. The key it replaces stays in the JWKS
// for retireAfter after that, for the ID tokens it signed and the caches
// that saw them, and is then dropped. The list of keys and their
// activation times is in the shared store, the private keys in the
// Keystore, and every instance reloads the list every keyRefresh, so
// that instances sharing a store sign and publish alike.

// SigningKeystore holds the private keys made by RotateSigningKey; a
// *keys.Keystore.
type SigningKeystore interface {
	Get(ctx context.Context, id string) (*keys.PrivateKey, error)
	Put(ctx context.Context, id string, k *keys.PrivateKey) error
}

// Rotation timing.
const (
	// activationDelay is how long a new key is published before it signs:
	// the JWKS max-age, one keyRefresh and a margin (6 minutes).
	activationDelay = jwksMaxAge + time.Minute
	// keyRefresh is how often an instance reloads the list of keys.
	keyRefresh = 10 * time.Second
	// retireMargin is added to the ID token lifetime and the JWKS max-age
	// to keep a replaced key published.
	retireMargin = time.Minute
	// jwksMaxAge is the Cache-Control max-age of discovery and the JWKS
	// (jwksCacheControl); rotation times its steps by it.
	jwksMaxAge = 5 * time.Minute
)

// jwksCacheControl is the Cache-Control of discovery and the JWKS.
var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(jwksMaxAge/time.Second))

// signingKeysKey is the store key of the list of rotated signing keys.
const signingKeysKey = "oidc/signing-keys"

// ErrRotationPending is returned by RotateSigningKey while the key of the
// last rotation is not signing yet.
var ErrRotationPending = errors.New("oidc: the last rotation's key is not signing yet")

// ErrNoKeystore is returned by RotateSigningKey when Options.Keystore is
// not set.
var ErrNoKeystore = errors.New("oidc: signing keys cannot rotate without a keystore")

// SigningKey describes a key of the JWKS: its kid, when it signs from, and
// its state: "active" (it signs now), "next" (published, signing from
// ActivatesAt) or "retiring" (replaced, published until RetiresAt).
type SigningKey struct {
	KID         string     `json:"kid"`
	ActivatesAt time.Time  `json:"activates_at"`
	State       string     `json:"state"`
	RetiresAt   *time.Time `json:"retires_at,omitempty"`
}

// storedKey is an entry of the stored list.
type storedKey struct {
	KID         string    `json:"kid"`
	ActivatesAt time.Time `json:"activates_at"`
}

type signer struct {
	storedKey
	key *keys.PrivateKey
	pub jwk.Key
}

// keySet is the keys as last loaded, ordered by activation.
type keySet struct {
	raw    []byte // the stored list, nil when there is none
	keys   []signer
	loaded time.Time
}

type signingKeys struct {
	mu  sync.Mutex
	set *keySet
}

func keystoreID(kid string) string { return "oidc/id-token-signer/" + kid }

// newSigner makes the JWKS entry of k.
func newSigner(sk storedKey, k *keys.PrivateKey) (signer, error) {
	pub, err := k.PublicJWK()
	if err != nil {
		return signer{}, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: sk.KID, jwk.KeyUsageKey: "sig", jwk.AlgorithmKey: "ES256"} {
		if err := pub.Set(name, v); err != nil {
			return signer{}, err
		}
	}
	return signer{storedKey: sk, key: k, pub: pub}, nil
}

// keys returns the key set, reloaded from the store when older than
// keyRefresh (or when force is set). A failed reload keeps the keys
// known, and is logged: signing goes on with them.
func (p *Provider) keys(ctx context.Context, force bool) (*keySet, error) {
	now := p.opt.Now()
	p.signing.mu.Lock()
	defer p.signing.mu.Unlock()
	cur := p.signing.set
	if cur != nil && !force && now.Sub(cur.loaded) < keyRefresh && !now.Before(cur.loaded) {
		return cur, nil
	}
	set, err := p.loadKeys(ctx, cur, now)
	if err != nil {
		if cur == nil || force {
			return nil, err
		}
		p.opt.Logger.WarnContext(ctx, "oidc: signing keys not reloaded; using those known", "error", err)
		cur.loaded = now
		return cur, nil
	}
	p.signing.set = set
	return set, nil
}

// loadKeys reads the stored list, reusing the keys of cur.
func (p *Provider) loadKeys(ctx context.Context, cur *keySet, now time.Time) (*keySet, error) {
	genesis := storedKey{KID: p.opt.KeyID}
	raw, err := p.store.Get(ctx, signingKeysKey)
	if errors.Is(err, kv.ErrNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	list := []storedKey{genesis}
	if raw != nil {
		list = nil
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("oidc: stored signing keys: %w", err)
		}
	}
	set := &keySet{raw: raw, loaded: now}
	for _, sk := range list {
		var k *keys.PrivateKey
		switch {
		case sk.KID == p.opt.KeyID:
			k = p.opt.SigningKey
		case cur != nil:
			for _, s := range cur.keys {
				if s.KID == sk.KID {
					k = s.key
				}
			}
		}
		if k == nil {
			if p.opt.Keystore == nil {
				return nil, fmt.Errorf("oidc: signing key %s is in the store but no keystore is set", sk.KID)
			}
			if k, err = p.opt.Keystore.Get(ctx, keystoreID(sk.KID)); err != nil {
				return nil, fmt.Errorf("oidc: signing key %s: %w", sk.KID, err)
			}
		}
		s, err := newSigner(sk, k)
		if err != nil {
			return nil, err
		}
		set.keys = append(set.keys, s)
	}
	sort.SliceStable(set.keys, func(i, j int) bool { return set.keys[i].ActivatesAt.Before(set.keys[j].ActivatesAt) })
	if len(set.keys) == 0 {
		return nil, errors.New("oidc: the stored list of signing keys is empty")
	}
	return set, nil
}

// active returns the index of the key that signs at now: the last one
// activated by then (the first one if none is).
func (s *keySet) active(now time.Time) int {
	a := 0
	for i, k := range s.keys {
		if !k.ActivatesAt.After(now) {
			a = i
		}
	}
	return a
}

// retireAfter is how long a replaced key stays published.
func (p *Provider) retireAfter() time.Duration {
	return p.opt.IDTokenTTL + jwksMaxAge + retireMargin
}

// describe returns the published keys at now, with their states; a key
// replaced longer than retireAfter ago is not published.
func (p *Provider) describe(s *keySet, now time.Time) []SigningKey {
	a := s.active(now)
	var out []SigningKey
	for i, k := range s.keys {
		d := SigningKey{KID: k.KID, ActivatesAt: k.ActivatesAt}
		switch {
		case i == a:
			d.State = "active"
		case i > a:
			d.State = "next"
		default:
			until := s.keys[i+1].ActivatesAt.Add(p.retireAfter())
			if !now.Before(until) {
				continue
			}
			d.State, d.RetiresAt = "retiring", &until
		}
		out = append(out, d)
	}
	return out
}

// signingKey returns the key that signs at now and its kid.
func (p *Provider) signingKey(ctx context.Context, now time.Time) (*keys.PrivateKey, string, error) {
	s, err := p.keys(ctx, false)
	if err != nil {
		return nil, "", err
	}
	k := s.keys[s.active(now)]
	return k.key, k.KID, nil
}

// SigningKeys lists the keys the JWKS publishes now.
func (p *Provider) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	s, err := p.keys(ctx, false)
	if err != nil {
		return nil, err
	}
	return p.describe(s, p.opt.Now()), nil
}

// jwksAt returns the JWKS document at now.
func (p *Provider) jwksAt(ctx context.Context, now time.Time) ([]byte, error) {
	s, err := p.keys(ctx, false)
	if err != nil {
		return nil, err
	}
	var pubs []any
	for _, d := range p.describe(s, now) {
		for _, k := range s.keys {
			if k.KID == d.KID {
				pubs = append(pubs, k.pub)
			}
		}
	}
	return json.Marshal(map[string]any{"keys": pubs})
}

// RotateSigningKey makes a new ES256 signing key, publishes it now and
// signs with it from the returned time on (activationDelay later). Keys
// replaced longer than their retirement ago leave the stored list. It
// returns ErrRotationPending while the last rotation's key is not
// signing yet, and ErrNoKeystore without Options.Keystore.
func (p *Provider) RotateSigningKey(ctx context.Context) (SigningKey, error) {
	if p.opt.Keystore == nil {
		return SigningKey{}, ErrNoKeystore
	}
	s, err := p.keys(ctx, true)
	if err != nil {
		return SigningKey{}, err
	}
	now := p.opt.Now()
	if s.keys[len(s.keys)-1].ActivatesAt.After(now) {
		return SigningKey{}, ErrRotationPending
	}
	k, err := keys.Generate(keys.ES256)
	if err != nil {
		return SigningKey{}, err
	}
	kid := k.Thumbprint()
	if err := p.opt.Keystore.Put(ctx, keystoreID(kid), k); err != nil {
		return SigningKey{}, err
	}
	var list []storedKey
	for _, d := range p.describe(s, now) {
		list = append(list, storedKey{KID: d.KID, ActivatesAt: d.ActivatesAt})
	}
	next := storedKey{KID: kid, ActivatesAt: now.Add(activationDelay).UTC().Truncate(time.Second)}
	list = append(list, next)
	raw, err := json.Marshal(list)
	if err != nil {
		return SigningKey{}, err
	}
	if err := p.store.CompareAndSwap(ctx, signingKeysKey, s.raw, raw, 0); err != nil {
		if errors.Is(err, kv.ErrConflict) {
			return SigningKey{}, ErrRotationPending // another instance rotated meanwhile
		}
		return SigningKey{}, err
	}
	if _, err := p.keys(ctx, true); err != nil {
		return SigningKey{}, err
	}
	p.opt.Logger.InfoContext(ctx, "oidc: signing key rotated", "kid", kid, "activates_at", next.ActivatesAt)
	return SigningKey{KID: kid, ActivatesAt: next.ActivatesAt, State: "next"}, nil
}
